package vm

// The guest's layout, as every backend and the agent see it.

// DefaultWorkdir is where the workspace appears inside, unless the tool
// says otherwise.
const DefaultWorkdir = "/workspace"

// GuestHome is the home directory of the sandbox's user.
const GuestHome = "/root"

// DefaultPath is the guest PATH when the image sets none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
