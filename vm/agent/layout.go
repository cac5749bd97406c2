package agent

// Layout is where the sandbox's parts are when Serve starts.
type Layout struct {
	// Lower is the read-only rootfs, already mounted.
	Lower string
	// Workspace is the host workspace, already mounted read-write.
	Workspace string
	// Scratch is writable and empty, on the sandbox's own storage.
	Scratch string
	// SharedKernel says the sandbox runs on the host's kernel (the
	// namespace backend): what it writes is already in the host's page
	// cache, so Serve does not sync before it returns (a VM syncs the
	// file systems whose writes reach the host: the workspace filter, the
	// 9p workspace and shares; not the scratch disk, which is thrown
	// away), and
	// the agent's /proc and /dev, which bubblewrap made for the sandbox,
	// are bound in as they are (a VM gets a fresh /proc and a minimal
	// /dev built from its devtmpfs).
	SharedKernel bool
	// MaxProcs, when positive, is the RLIMIT_NPROC the command and
	// everything it starts run under (soft and hard): the namespace
	// backend's bound on processes where no cgroup bounds the sandbox.
	// It counts the processes and threads of the sandbox's root user in
	// the sandbox's user namespace, the agent's threads included; the
	// agent itself stays unlimited, so that a fork bomb cannot stop it
	// from making the threads it needs. (It binds nothing in a VM, where
	// root in the guest's initial namespace is exempt; the VM's memory
	// bounds it there.)
	MaxProcs int
	// System, when set, is where PrepareSystem made the sandbox's /proc
	// and /dev (System/proc, System/dev), which the agent moves into the
	// sandbox's root instead of building them: a VM's init makes them
	// before its snapshot point. Not with SharedKernel.
	System string
	// Mounts is the directory under which the backend shared the spec's
	// host directories, the i-th at Mounts/i; "" when the backend shares
	// none (the sandbox then runs without them).
	Mounts string
}
