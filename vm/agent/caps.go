//go:build linux

package agent

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// keptCaps are the capabilities the guest command keeps: what a package
// manager running as root needs (Docker's default set, without MKNOD,
// SYS_CHROOT and NET_RAW: no raw or packet sockets). Everything that could undo the sandbox's mounts, reach
// the agent or the kernel (SYS_ADMIN, SYS_PTRACE, SYS_MODULE, NET_ADMIN,
// SYS_BOOT, …) is dropped from every set, the bounding set included,
// no_new_privs is set, and a seccomp filter refuses the syscalls that
// widen the kernel's attack surface.
var keptCaps = []int{
	unix.CAP_CHOWN, unix.CAP_DAC_OVERRIDE, unix.CAP_FSETID, unix.CAP_FOWNER,
	unix.CAP_SETGID, unix.CAP_SETUID, unix.CAP_SETFCAP,
	unix.CAP_SETPCAP, unix.CAP_NET_BIND_SERVICE, unix.CAP_KILL, unix.CAP_AUDIT_WRITE,
}

func init() {
	// Keep the main goroutine on the main thread, so that no other
	// goroutine runs there: the launcher throws away the thread it cuts
	// down, and the main thread (whose credentials /proc/1 shows) cannot
	// be thrown away.
	runtime.LockOSThread()
}

// launcher starts the command with the capabilities cut down to
// keptCaps. Capabilities are per thread in Linux and a child inherits its
// forking thread's, so the fork happens on a locked thread that dropped
// them first and is then thrown away (its goroutine exits still locked).
// The thread is made ahead of time, while the sandbox is being built.
type launcher struct {
	dropped chan error
	req     chan launch
}

// launch is one request to a launcher.
type launch struct {
	argv0 string
	argv  []string
	attr  *os.ProcAttr
	done  chan launched
}

// launched is a launch's result.
type launched struct {
	p   *os.Process
	err error
}

// newLauncher makes the launcher's thread and drops its capabilities;
// rootOnly also keeps the command to root's ids (seccomp.go).
func newLauncher(rootOnly bool) *launcher {
	l := &launcher{dropped: make(chan error, 1), req: make(chan launch)}
	go func() {
		runtime.LockOSThread()
		err := dropCaps(rootOnly)
		l.dropped <- err
		if err != nil {
			return
		}
		r, ok := <-l.req
		if !ok {
			return
		}
		p, err := os.StartProcess(r.argv0, r.argv, r.attr)
		r.done <- launched{p, err}
	}()
	return l
}

// start starts argv0 on the launcher's thread. A launcher starts one
// process.
func (l *launcher) start(argv0 string, argv []string, attr *os.ProcAttr) (*os.Process, error) {
	if err := <-l.dropped; err != nil {
		return nil, fmt.Errorf("drop capabilities: %w", err)
	}
	done := make(chan launched, 1)
	l.req <- launch{argv0, argv, attr, done}
	r := <-done
	return r.p, r.err
}

// close releases the launcher's thread if it started nothing.
func (l *launcher) close() { close(l.req) }

// dropCaps drops the calling thread's capabilities to keptCaps, sets
// no_new_privs and installs the seccomp filter (seccomp.go) on it.
func dropCaps(rootOnly bool) error {
	last := lastCap()
	keep := map[int]bool{}
	for _, c := range keptCaps {
		keep[c] = true
	}
	for c := 0; c <= last; c++ {
		if keep[c] {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && err != unix.EINVAL {
			return fmt.Errorf("bounding set, capability %d: %w", c, err)
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("ambient set: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("read capabilities: %w", err)
	}
	var mask [2]uint32
	for _, c := range keptCaps {
		mask[c/32] |= 1 << (c % 32)
	}
	for i := range data {
		data[i].Effective &= mask[i]
		data[i].Permitted &= mask[i]
		data[i].Inheritable = 0
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("set capabilities: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	return installSeccomp(rootOnly)
}

// lastCap is the highest capability the kernel knows.
func lastCap() int {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 63
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 63
	}
	return n
}

// openPTY opens a new pseudo-terminal pair in the sandbox's devpts.
func openPTY() (master, slave *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open a terminal: %w", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("unlock the terminal: %w", err)
	}
	n, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("number the terminal: %w", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("open the terminal: %w", err)
	}
	return m, s, nil
}
