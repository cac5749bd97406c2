package vm

import (
	"context"
	"io"
	"net"
	"os"
	"time"

	"github.com/silo-dev/silo/internal/owners"
	"github.com/silo-dev/silo/vm/netproxy"
)

// Backend runs sandboxes of one kind: qemu micro-VMs, vz VMs or
// bubblewrap namespaces.
type Backend interface {
	// Name is the backend's name as --backend spells it.
	Name() string
	// Needs says what the backend boots: the caller fills the Spec's
	// rootfs in that form, and its kernel and initfs when it boots one.
	Needs() Needs
	// Available reports why the backend cannot run here, or nil.
	Available() error
	// Run runs spec's command in a new sandbox and returns its exit
	// status: the command's own code, or 128+N when signal N ended it.
	// err is non-nil only when the sandbox itself failed.
	Run(ctx context.Context, spec *Spec) (exit int, err error)
}

// Snapshotter is a VM backend that can restore a sandbox from a memory
// snapshot instead of booting it (Spec.Snapshot): a VM booted once to the
// point before anything of a run happens (modules loaded; no disk read, no
// directory mounted, no command) and saved to a file, which the caller
// keeps as a store entry derived from the kernel, the initfs and the
// shape.
type Snapshotter interface {
	// SnapshotShape returns everything besides the kernel and initfs a
	// snapshot for spec depends on (the backend's version, accelerator,
	// memory, vCPUs, device set): specs of one shape restore from one
	// snapshot. spec's Kernel and Initfs are set.
	SnapshotShape(ctx context.Context, spec *Spec) (string, error)
	// MakeSnapshot boots spec's kernel and initfs in spec's shape to the
	// snapshot point and writes the snapshot to the file path.
	MakeSnapshot(ctx context.Context, spec *Spec, path string) error
}

// Spec is everything a backend needs to run one command in a sandbox. All
// host paths are absolute and clean.
type Spec struct {
	// RootfsImage is the ext4 image entry VMs boot as their read-only
	// lower layer. Never written.
	RootfsImage string
	// RootfsDir is the unpacked rootfs directory entry the namespace
	// backend uses as its read-only lower layer. Never written.
	RootfsDir string
	// Owners is RootfsDir's owner table: the paths the image gives to an
	// owner other than root, which the directory (all the user's) cannot
	// show itself. The agent applies it where the sandbox's user
	// namespace maps those ids.
	Owners owners.Table
	// Kernel is the kernel image file (vmlinux) and Initfs the initramfs
	// file a VM boots (Needs.Kernel); both are store entries the caller
	// holds for the run.
	Kernel, Initfs string
	// Snapshot is the memory snapshot entry (Snapshotter) a VM restores
	// from instead of booting; "" boots. A snapshot that does not restore
	// is reported in one line on Stderr, SnapshotFailed is called with
	// why, and the VM boots.
	Snapshot string
	// SnapshotFailed, when set, hears that Snapshot did not restore: the
	// caller must not offer that snapshot again.
	SnapshotFailed func(error)

	// Workspace is the host project directory, mounted read-write at
	// /workspace.
	Workspace string
	// Workdir is where the workspace appears inside; "" means
	// DefaultWorkdir.
	Workdir string
	// WorkspaceReadOnly mounts the workspace read-only (mount.mode "ro");
	// excluded paths stay writable, backed by the sandbox's scratch.
	WorkspaceReadOnly bool
	// Cwd is the working directory relative to Workspace ("" or "." for
	// the workspace itself). It never escapes the workspace.
	Cwd string
	// Argv is the command and its arguments; Argv[0] is looked up in the
	// guest's PATH.
	Argv []string
	// Env is the complete guest environment, "KEY=value".
	Env []string
	// PassFiles are host files shown read-only inside.
	PassFiles []PassFile
	// Exclude are workspace-relative paths hidden from the host view; the
	// sandbox sees its own (initially empty) directory there.
	Exclude []string
	// Protected are the names the sandbox may not create, change, remove
	// or rename at any depth of the workspace (silo.toml, .git, .envrc,
	// .vscode/, …; sandbox.DefaultProtected), whether they exist or not. The
	// agent's workspace filter applies them while the command runs.
	Protected []string
	// Mounts are host directories shown read-write inside, outside
	// /workspace: the tool's package caches, kept across runs. A backend
	// that cannot share them refuses the run and says why; it never drops
	// one silently.
	Mounts []Mount
	// ExcludeDirs back the Exclude paths, index for index: host
	// directories kept between runs (the project's node_modules of the
	// sandbox's own), shared like Mounts. A missing or "" one is the
	// sandbox's own scratch, empty at every start.
	ExcludeDirs []string
	// Capture, when set, makes the run a build: once the command exits 0
	// the agent captures what it changed outside the workspace, and under
	// the excluded paths, as one normalized OCI layer tar (proto.Capture),
	// and Capture reads it. A Capture error is the run's error.
	Capture func(io.Reader) error
	// CaptureEpoch is SOURCE_DATE_EPOCH of a build: no captured mtime is
	// later.
	CaptureEpoch int64

	// Network is what the sandbox may reach.
	Network NetworkPolicy
	// Ports are host ports forwarded into the guest.
	Ports []Port
	// Proxy serves, on the host, each connection the sandbox makes to its
	// HTTP proxy (127.0.0.1:3128 inside), enforcing Network. When nil, or
	// when Network allows nothing, the sandbox gets no proxy and no proxy
	// variables.
	Proxy ConnServer
	// SSHAgent is the host's SSH agent socket ($SSH_AUTH_SOCK) to offer
	// the sandbox at proto.SSHAgentSocket; "" offers none. The sandbox
	// can ask the agent to sign, never read the keys.
	SSHAgent string

	CPUs, MemoryMB, RootfsSizeMB int
	// MaxProcesses bounds the processes and threads the sandbox runs at
	// once; 0 means the backend's default. A VM is bounded by its
	// memory; the namespace backend applies it (vm/namespace/limits.go).
	MaxProcesses int

	// TTY asks for a pseudo-terminal: raw mode, window size changes.
	TTY bool
	// Stdin, Stdout and Stderr are the command's standard streams.
	Stdin          io.Reader
	Stdout, Stderr io.Writer

	// BootTimeout bounds the time from start until the agent answers;
	// zero means the backend's default. A sandbox that misses it is
	// killed and reported.
	BootTimeout time.Duration
	// Timing, when non-nil, receives the phases of the run.
	Timing *Timing
}

// Shared is every host directory the backend shares with the sandbox, in
// the order the agent finds them (Layout.Mounts/i): the Mounts, then the
// ExcludeDirs that are set.
func (s *Spec) Shared() []Mount {
	out := append([]Mount(nil), s.Mounts...)
	for _, d := range s.ExcludeDirs {
		if d != "" {
			out = append(out, Mount{Host: d})
		}
	}
	return out
}

// Mount is a host directory shown read-write at Guest inside.
type Mount struct {
	Host, Guest string
	// Dir, when set, is Host opened by OpenCacheDir: the backend binds
	// this open directory, never Host resolved again, so a symlink swapped
	// in since cannot redirect the mount. The caller closes it
	// (Spec.CloseMounts) once the sandbox is gone.
	Dir *os.File
}

// ConnServer serves one connection and returns when it is done with it.
// (*netproxy.Proxy) is one.
type ConnServer interface {
	ServeConn(net.Conn)
}

// PassFile is a host file shown read-only at Guest inside the sandbox.
type PassFile struct {
	Host, Guest string
}

// Port forwards a host TCP port to a guest one.
type Port struct {
	Host, Guest int
}

// NetworkPolicy says what a sandbox may reach: the proxy's own policy type
// (netproxy.Policy), the one carried from silo.toml (lock.Network) to the
// proxy. The zero value is no network at all.
type NetworkPolicy = netproxy.Policy

// Timing records the phases of one run for --timing.
type Timing struct {
	Phases []Phase
}

// Phase is one named, timed step of a run.
type Phase struct {
	Name     string
	Duration time.Duration
}

// Mark appends a phase that lasted from start until now and returns now,
// so that calls chain: t0 = timing.Mark("boot", t0).
func (t *Timing) Mark(name string, start time.Time) time.Time {
	now := time.Now()
	if t != nil {
		t.Phases = append(t.Phases, Phase{Name: name, Duration: now.Sub(start)})
	}
	return now
}
