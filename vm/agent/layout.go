package agent

// Layout is where the sandbox's parts are when Serve starts.
type Layout struct {
	// Lower is the read-only rootfs, already mounted.
	Lower string
	// Workspace is the host workspace, already mounted read-write.
	Workspace string
	// Scratch is writable and empty, on the sandbox's own storage.
	Scratch string
}
