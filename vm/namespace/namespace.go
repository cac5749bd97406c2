package namespace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/silo-dev/silo/internal/agentbin"
	"github.com/silo-dev/silo/vm"
	"github.com/silo-dev/silo/vm/session"
)

// Where the agent finds its parts inside the bwrap namespace, before it
// builds the sandbox's root.
const (
	AgentPath     = "/.silo/agent"
	MountsPath    = "/.silo/mounts"
	LowerPath     = "/.silo/lower"
	WorkspacePath = "/.silo/workspace"
	ScratchPath   = "/.silo/scratch"
)

// Isolation says what this backend's sandbox is, for doctor and --timing.
const Isolation = "Linux namespaces (bubblewrap): shares the host kernel, weaker isolation than a VM"

// Options configure the backend.
type Options struct {
	// Bwrap is the bubblewrap binary; "" finds bwrap in PATH.
	Bwrap string
	// Agent is a static Linux binary that runs the agent when invoked as
	// "AGENT __agent --fd 3 …"; "" means the one agentbin.Find picks.
	Agent string
	// FuseDevice is bound at /dev/fuse for the agent's workspace filter;
	// "" means /dev/fuse (vm.Options.FuseDevice).
	FuseDevice string
}

// Backend runs sandboxes as bubblewrap namespaces.
type Backend struct {
	opts Options

	// The binaries are found once per backend: Available (from
	// vm.Select) and start both need them.
	bwrap, agent func() (string, error)

	loaderOnce sync.Once
	loader     []string // bwrap arguments for a dynamic agent
	loaderErr  error
}

// New returns a namespace backend.
func New(opts Options) *Backend {
	b := &Backend{opts: opts}
	b.bwrap, b.agent = sync.OnceValues(b.findBwrap), sync.OnceValues(b.findAgent)
	return b
}

func init() {
	vm.Register("namespace", func(o vm.Options) vm.Backend { return New(Options{Agent: o.Agent, FuseDevice: o.FuseDevice}) })
}

// Needs says that a namespace runs on an unpacked rootfs directory and
// boots no kernel.
func (b *Backend) Needs() vm.Needs { return vm.Needs{RootfsDir: true} }

// Name returns "namespace".
func (b *Backend) Name() string { return "namespace" }

// Isolation describes the sandbox's strength.
func (b *Backend) Isolation() string { return Isolation }

// Available reports why bwrap cannot make a sandbox here, or nil.
func (b *Backend) Available() error {
	if _, err := b.bwrap(); err != nil {
		return err
	}
	if _, err := b.agent(); err != nil {
		return err
	}
	return userNamespaces()
}

// findBwrap finds the bubblewrap binary.
func (b *Backend) findBwrap() (string, error) {
	if b.opts.Bwrap != "" {
		return b.opts.Bwrap, nil
	}
	p, err := exec.LookPath("bwrap")
	if err != nil {
		return "", errors.New("bubblewrap is not installed: apt-get install bubblewrap")
	}
	return p, nil
}

// findAgent finds the agent binary.
func (b *Backend) findAgent() (string, error) {
	if b.opts.Agent != "" {
		return b.opts.Agent, nil
	}
	return agentbin.Find("")
}

// userNamespaces reports whether this kernel lets this user make a user
// namespace.
func userNamespaces() error {
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil && strings.TrimSpace(string(b)) == "0" {
		return errors.New("user namespaces are disabled (user.max_user_namespaces = 0): sysctl -w user.max_user_namespaces=15000")
	}
	if b, err := os.ReadFile("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && strings.TrimSpace(string(b)) == "0" && os.Geteuid() != 0 {
		return errors.New("unprivileged user namespaces are disabled: sysctl -w kernel.unprivileged_userns_clone=1")
	}
	return nil
}

// Run runs spec in a new bwrap sandbox and returns the command's status.
func (b *Backend) Run(ctx context.Context, spec *vm.Spec) (int, error) {
	start := time.Now()
	if spec.RootfsDir == "" {
		return -1, errors.New("the namespace backend needs an unpacked rootfs directory (Spec.RootfsDir)")
	}
	cg, err := b.cgroup(spec)
	if err != nil {
		return -1, err
	}
	if cg != nil {
		defer cg.remove()
	}
	cmd, conn, stderr, err := b.start(spec, cg)
	if err != nil {
		return -1, err
	}
	spec.Timing.Mark("boot", start)
	code, err := session.Attach(ctx, conn, spec)
	t := time.Now()
	if err == nil {
		// The agent has cleaned up and reported: nothing is left to do
		// in the sandbox, so end it now rather than wait for it to wind
		// down (the agent dies with bwrap, and the namespaces with it).
		_ = cmd.Process.Kill()
	}
	werr := reap(cmd)
	spec.Timing.Mark("teardown", t)
	if err != nil {
		if msg := strings.TrimSpace(stderr.String(time.Second)); msg != "" {
			err = fmt.Errorf("%w (bwrap: %s)", err, msg)
		} else if werr != nil {
			err = fmt.Errorf("%w (bwrap: %v)", err, werr)
		}
		return -1, err
	}
	return code, nil
}

// cgroup makes the sandbox's cgroup where this host delegates one, or
// returns nil (limits.go).
func (b *Backend) cgroup(spec *vm.Spec) (*sandboxCgroup, error) {
	l := hostLimits()
	if l.cgroup == "" && l.v1 == "" {
		return nil, nil
	}
	return l.newCgroup(spec)
}

// start starts bwrap with the agent as the sandbox's PID 1, in cg when
// there is one, and returns it, the host's end of the agent socket, and
// bwrap's messages.
func (b *Backend) start(spec *vm.Spec, cg *sandboxCgroup) (*exec.Cmd, net.Conn, *tail, error) {
	bw, err := b.bwrap()
	if err != nil {
		return nil, nil, nil, err
	}
	agent, err := b.agent()
	if err != nil {
		return nil, nil, nil, err
	}
	b.loaderOnce.Do(func() { b.loader, b.loaderErr = loaderBinds(agent) })
	if b.loaderErr != nil {
		return nil, nil, nil, b.loaderErr
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("make the agent socket: %w", err)
	}
	host, guest := os.NewFile(uintptr(fds[0]), "agent-host"), os.NewFile(uintptr(fds[1]), "agent-guest")
	defer host.Close()
	defer guest.Close()
	// bwrap's messages, through a pipe of our own: exec's copying would
	// make Wait wait for every holder of the pipe, the dying agent too.
	errR, errW, err := os.Pipe()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("make bwrap's stderr pipe: %w", err)
	}
	defer errW.Close()
	extra := append([]*os.File{guest}, spec.MountDirs()...)
	ids, err := rangedStart(spec, 3+len(extra))
	if err != nil {
		return nil, nil, nil, err
	}
	if ids != nil {
		defer ids.close()
		extra = append(extra, ids.blockR, ids.infoW)
	}
	nproc := maxProcs(spec) // the agent's limit, where no cgroup bounds the processes
	if cg != nil {
		nproc = 0
	}
	a := args(spec, agent, b.fuseDevice(), b.loader, nproc)
	if ids != nil {
		a = append(ids.args(), a...)
	}
	var cmd *exec.Cmd
	if cg != nil {
		cmd = cg.command(bw, a)
	} else {
		cmd = exec.Command(bw, a...)
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.Env, cmd.ExtraFiles, cmd.Stderr = []string{}, extra, errW
	cmd.SysProcAttr.Pdeathsig, cmd.SysProcAttr.Setpgid = syscall.SIGKILL, true
	stderr := newTail(errR, 8<<10)
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, fmt.Errorf("start bwrap: %w", err)
	}
	if ids != nil {
		if err := ids.mapIDs(); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if msg := strings.TrimSpace(stderr.String(time.Second)); msg != "" {
				err = fmt.Errorf("%w (bwrap: %s)", err, msg)
			}
			return nil, nil, nil, err
		}
	}
	conn, err := net.FileConn(host)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, nil, nil, fmt.Errorf("agent socket: %w", err)
	}
	return cmd, conn, stderr, nil
}

// reap waits for bwrap to exit once the agent is done, and kills it if it
// lingers.
func reap(cmd *exec.Cmd) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		return <-done
	}
}

// firstMountFD is bwrap's descriptor of the first open mount directory:
// after the agent socket (3), in ExtraFiles order.
const firstMountFD = 4

// args is bwrap's command line for spec; nproc, when positive, is the
// agent's --max-procs.
func args(spec *vm.Spec, agent, fuse string, loader []string, nproc int) []string {
	a := []string{
		"--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
		"--die-with-parent", "--as-pid-1", "--new-session",
		"--uid", "0", "--gid", "0", "--cap-add", "ALL",
		"--ro-bind", agent, AgentPath,
		"--ro-bind", spec.RootfsDir, LowerPath,
		"--bind", spec.Workspace, WorkspacePath,
	}
	a = append(a, loader...)
	fd := firstMountFD
	for i, m := range spec.Shared() {
		if m.Dir != nil {
			// The directory silo opened, not its path: bwrap binds the
			// open file and closes it, so the sandbox never holds it.
			a = append(a, "--bind-fd", strconv.Itoa(fd), MountsPath+"/"+strconv.Itoa(i))
			fd++
			continue
		}
		a = append(a, "--bind", m.Host, MountsPath+"/"+strconv.Itoa(i))
	}
	if spec.RootfsSizeMB > 0 {
		a = append(a, "--size", strconv.Itoa(spec.RootfsSizeMB<<20))
	}
	a = append(a, "--tmpfs", ScratchPath,
		"--proc", "/proc", "--dev", "/dev", "--dev-bind-try", fuse, "/dev/fuse",
		"--", AgentPath, "__agent", "--fd", "3",
		"--lower", LowerPath, "--workspace", WorkspacePath, "--scratch", ScratchPath, "--mounts", MountsPath, "--shared-kernel")
	if nproc > 0 {
		a = append(a, "--max-procs", strconv.Itoa(nproc))
	}
	return a
}

// fuseDevice is the FUSE device the agent gets at /dev/fuse, to serve the
// workspace through its filter.
func (b *Backend) fuseDevice() string {
	if b.opts.FuseDevice != "" {
		return b.opts.FuseDevice
	}
	return "/dev/fuse"
}

// tail collects the first max bytes of a pipe, in the background.
type tail struct {
	buf  bytes.Buffer
	done chan struct{}
}

// newTail starts reading r.
func newTail(r *os.File, max int64) *tail {
	t := &tail{done: make(chan struct{})}
	go func() {
		defer close(t.done)
		defer r.Close()
		_, _ = io.Copy(&t.buf, io.LimitReader(r, max))
		_, _ = io.Copy(io.Discard, r)
	}()
	return t
}

// String returns what was read, waiting up to wait for the pipe's end.
func (t *tail) String(wait time.Duration) string {
	select {
	case <-t.done:
		return t.buf.String()
	case <-time.After(wait):
		return ""
	}
}
