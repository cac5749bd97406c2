// Package vm is the boundary between silo and its sandbox backends: the
// Backend interface and the Spec a backend runs, the guest layout every
// backend gives (DefaultWorkdir, GuestHome, DefaultPath), and the registry
// that builds every backend with one set of Options and selects one. The
// host session that every backend hands its connection to the guest agent
// is package vm/session; the policy that fills a Spec (protected names,
// the environment) is package sandbox's.
//
// A backend boots what it is given. It says what it needs (Needs: an
// unpacked rootfs directory, or an ext4 image plus a kernel and an
// initfs); the caller (package sandbox) resolves those from the store and
// fills the Spec. No backend reads the environment, opens the store or
// finds silo's home on its own: Options carry the home, the agent binary,
// the timeouts and a kernel provider for work of the backend's own (the
// KVM probe). The backends register constructors from init (vm/namespace,
// vm/qemu, vm/vz); a binary links the ones it imports.
//
// vmtest is the contract every backend keeps, as a suite each backend's
// tests run in-process.
//
// # The host's memory
//
// The sandbox decides what the host session receives, so what it may make
// the host hold is a fixed budget: 64 MiB for all the streams the agent
// opens (one per connection the sandbox makes to its proxy or SSH agent).
// Each stream's receive window at the host is yamux's minimum, 256 KiB
// (proto.HostConfig), and is costed at twice that plus 64 KiB for its
// server's buffers; the budget pays for 16 streams waiting in yamux's
// accept backlog and 97 taken ones. The host takes a stream only when one
// of those slots is free; past the backlog yamux resets new streams at
// once and drops their data. A stream the host is done with (served, or
// of no known kind) is closed, and what the sandbox still sends on it is
// read and dropped until the agent closes its end, so it keeps its slot
// but none of the host's memory; yamux gives up on a stream whose other
// end never closes after 5 minutes.
package vm
