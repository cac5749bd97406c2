package qemu

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/silo-dev/silo/vm"
	"github.com/silo-dev/silo/vm/guestinit"
	"github.com/silo-dev/silo/vm/session"
)

// ErrWatchdog is wrapped by the errors of VMs the watchdog killed.
var ErrWatchdog = errors.New("VM watchdog")

// machine is one running VM.
type machine struct {
	spec           *vm.Spec
	dir            string
	qemu           string
	kernel, initfs string
	scratch        string // empty ext4 template attached with snapshot=on; "": tmpfs
	ioUring        bool   // the disks are opened with aio=io_uring (iouring.go)
	accel          Accel
	hang           time.Duration
	probe          bool
	debug          bool // the console on stderr, the init's step times
	// pause boots (or restores) the guest to its snapshot point: the
	// kernel command line carries silo.pause=1 and no run parameters,
	// which the host sends in its go instead (resume).
	pause bool
	// qmp is the path of QEMU's monitor socket, when the host drives
	// QEMU (a snapshot's migration); "": no monitor.
	qmp string
	// incoming is the snapshot file the VM restores from instead of
	// booting; nil boots.
	incoming *os.File
	// ramFile, with incoming, is the guest RAM as a file, which QEMU maps
	// instead of loading it: incoming is then the rest of the stream.
	ramFile string
	// shapeOnly: the machine is never started, only its command line
	// taken as a snapshot's shape; its paths are stand-ins.
	shapeOnly bool

	cmd     *exec.Cmd
	console *tailBuffer
	exited  chan struct{} // closed when qemu has exited
	waitErr error

	mu       sync.Mutex
	failure  error // why the VM was killed, or what its init reported
	killOnce sync.Once
}

// run boots the VM, attaches to its agent and tears it down.
func (m *machine) run(ctx context.Context, t0 time.Time) (int, error) {
	ports, err := m.listen()
	if err != nil {
		return -1, err
	}
	defer ports.close()
	if err := m.start(); err != nil {
		return -1, err
	}
	defer m.teardown()
	stop := context.AfterFunc(ctx, func() { m.kill(ctx.Err()) })
	defer stop()

	early := m.startEarly(ports)
	if err := m.boot(ports, t0, early.start); err != nil {
		early.abandon()
		var re *RestoreError
		if errors.As(err, &re) {
			return -1, err
		}
		return -1, m.explain(err)
	}
	m.spec.Timing.Mark("boot", t0)
	go m.watch(ports.beat, ports.beats)
	sess, err := early.session()
	if err != nil {
		return -1, m.explain(err)
	}
	code, err := sess.Run(ctx)
	if err != nil {
		return code, m.explain(err)
	}
	t1 := time.Now()
	m.teardown()
	m.spec.Timing.Mark("teardown", t1)
	return code, nil
}

// earlySession is the agent channel of a VM, which a restored VM's host
// opens (session.Start) as soon as QEMU has connected the ports, while
// the guest resumes and mounts: the streams and the spec are waiting for
// the agent when it starts. A booting VM's is opened once it is ready.
type earlySession struct {
	m     *machine
	ports *serialPorts
	done  chan struct{} // closed when the early Start returned; nil: none
	sess  *session.Session
	err   error
}

func (m *machine) startEarly(p *serialPorts) *earlySession {
	return &earlySession{m: m, ports: p}
}

// start starts the session, if the VM restores, once the ports are up.
func (e *earlySession) start() {
	if e.m.incoming == nil {
		return
	}
	e.done = make(chan struct{})
	go func() {
		defer close(e.done)
		e.sess, e.err = session.Start(e.ports.agent, e.m.spec)
	}()
}

// session returns the started session, or starts it now.
func (e *earlySession) session() (*session.Session, error) {
	if e.done == nil {
		return session.Start(e.ports.agent, e.m.spec)
	}
	<-e.done
	return e.sess, e.err
}

// abandon closes an early session of a VM that did not come up.
func (e *earlySession) abandon() {
	if e.done == nil {
		return
	}
	e.ports.agent.Close()
	<-e.done
	if e.sess != nil {
		e.sess.Close()
	}
}

// runProbe boots the VM in probe mode: the guest init prints
// guestinit.ProbeOK once its modules are loaded and powers off. It returns
// nil if that happened.
func (m *machine) runProbe(ctx context.Context) error {
	if err := m.start(); err != nil {
		return err
	}
	defer m.teardown()
	select {
	case <-m.exited:
	case <-ctx.Done():
		m.kill(nil)
		<-m.exited
		return m.explain(fmt.Errorf("no power-off within the probe's deadline: %w", ctx.Err()))
	}
	if m.waitErr != nil {
		return m.explain(fmt.Errorf("qemu: %w", m.waitErr))
	}
	if !strings.Contains(m.console.Tail(16<<10), guestinit.ProbeOK) {
		return m.explain(errors.New("the VM powered off without reaching its init"))
	}
	return nil
}

// probeSpec is the Spec of a probe boot: no disks, no workspace.
func probeSpec() *vm.Spec { return &vm.Spec{BootTimeout: probeTimeout} }

// serialPorts are the host ends of the VM's two virtio-serial ports.
type serialPorts struct {
	agentL, beatL *net.UnixListener
	agent, beat   net.Conn
	beats         *bufio.Reader
}

// listen makes the unix sockets QEMU connects the serial ports to.
func (m *machine) listen() (*serialPorts, error) {
	p := &serialPorts{}
	var err error
	if p.beatL, err = listen(filepath.Join(m.dir, "hb.sock")); err != nil {
		return nil, err
	}
	if p.agentL, err = listen(filepath.Join(m.dir, "agent.sock")); err != nil {
		p.beatL.Close()
		return nil, err
	}
	return p, nil
}

func (p *serialPorts) close() {
	if p.agent != nil {
		p.agent.Close()
	}
	if p.beat != nil {
		p.beat.Close()
	}
	p.agentL.Close()
	p.beatL.Close()
}

// boot waits for QEMU to connect the ports, calls connected, and waits
// for the guest to be ready; a VM restoring from a snapshot is first sent
// its go.
func (m *machine) boot(p *serialPorts, t0 time.Time, connected func()) error {
	var err error
	if p.agent, p.beat, err = m.acceptPorts(p.agentL, p.beatL); err != nil {
		if m.incoming != nil {
			return m.restoreFailed(err)
		}
		return err
	}
	connected()
	p.beats = bufio.NewReader(p.beat)
	if m.incoming != nil {
		if err := m.resume(p.beat, p.beats); err != nil {
			return err
		}
		m.spec.Timing.Mark("restore", t0)
	}
	return m.waitReady(p.beat, p.beats)
}

// listen makes a unix socket QEMU connects one virtio-serial port to.
func listen(path string) (*net.UnixListener, error) {
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen for the VM's serial port: %w", err)
	}
	return l, nil
}

// start launches QEMU.
func (m *machine) start() error {
	args, err := m.args()
	if err != nil {
		return err
	}
	m.console = newTailBuffer(16 << 10)
	m.cmd = exec.Command(m.qemu, args...)
	m.cmd.Stdout, m.cmd.Stderr = m.console, m.console
	if m.debug {
		w := io.MultiWriter(m.console, os.Stderr)
		m.cmd.Stdout, m.cmd.Stderr = w, w
	}
	m.cmd.SysProcAttr = sysProcAttr()
	m.cmd.ExtraFiles = m.spec.MountDirs() // fds 3…, as mountArgs numbers them
	if m.incoming != nil {
		m.cmd.ExtraFiles = append(m.cmd.ExtraFiles, m.incoming) // incomingFD
	}
	if err := m.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", m.qemu, err)
	}
	m.exited = make(chan struct{})
	go func() {
		m.waitErr = m.cmd.Wait()
		close(m.exited)
	}()
	return nil
}

// acceptPorts waits for QEMU to connect both serial ports.
func (m *machine) acceptPorts(agentL, beatL *net.UnixListener) (agent, beat net.Conn, err error) {
	deadline := time.Now().Add(30 * time.Second)
	accept := func(l *net.UnixListener) (net.Conn, error) {
		_ = l.SetDeadline(deadline)
		c, err := l.Accept()
		if err != nil {
			select {
			case <-m.exited:
				return nil, errors.New("qemu exited before the VM started")
			default:
			}
			return nil, fmt.Errorf("qemu did not connect the VM's serial port: %w", err)
		}
		return c, nil
	}
	// QEMU connects the chardevs in command-line order: the beat port first.
	if beat, err = accept(beatL); err != nil {
		return nil, nil, err
	}
	if agent, err = accept(agentL); err != nil {
		beat.Close()
		return nil, nil, err
	}
	return agent, beat, nil
}

// waitReady waits for the guest init's ready byte within the boot deadline.
func (m *machine) waitReady(beat net.Conn, r *bufio.Reader) error {
	timeout := m.spec.BootTimeout
	if timeout == 0 {
		timeout = DefaultBootTimeout
	}
	_ = beat.SetReadDeadline(time.Now().Add(timeout))
	for {
		c, err := r.ReadByte()
		if err != nil {
			if isTimeout(err) {
				err = fmt.Errorf("%w: %w: no answer from the VM's agent within %v (accel %s); the VM was killed. A loaded host boots slowly under TCG: retry, or raise the boot timeout", session.ErrBootTimeout, ErrWatchdog, timeout, m.accel)
				m.kill(err)
				return err
			}
			return fmt.Errorf("the VM stopped before its agent was ready: %w", err)
		}
		switch c {
		case guestinit.BeatReady:
			return nil
		case guestinit.BeatError:
			line, _ := r.ReadString('\n')
			err := fmt.Errorf("the VM's init failed: %s", trimLine(line))
			m.setFailure(err)
			return err
		}
	}
}

// watch kills the VM when its heartbeats stop for longer than m.hang.
func (m *machine) watch(beat net.Conn, r *bufio.Reader) {
	for {
		_ = beat.SetReadDeadline(time.Now().Add(m.hang))
		c, err := r.ReadByte()
		if err != nil {
			if isTimeout(err) {
				m.kill(fmt.Errorf("%w: the VM stopped responding (no heartbeat for %v); it was killed", ErrWatchdog, m.hang))
			}
			return
		}
		switch c {
		case guestinit.BeatError:
			line, _ := r.ReadString('\n')
			m.setFailure(fmt.Errorf("the VM's init failed: %s", trimLine(line)))
		case guestinit.BeatDone:
			return
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (m *machine) setFailure(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failure == nil {
		m.failure = err
	}
}

// kill records why and kills QEMU.
func (m *machine) kill(why error) {
	if why != nil {
		m.setFailure(why)
	}
	m.killOnce.Do(func() { _ = m.cmd.Process.Kill() })
}

// explain turns a channel error into the reason the VM failed, if known,
// with the tail of its console.
func (m *machine) explain(err error) error {
	m.mu.Lock()
	failure := m.failure
	m.mu.Unlock()
	if failure != nil {
		err = failure
	} else {
		select {
		case <-m.exited:
			err = fmt.Errorf("the VM exited unexpectedly (%v): %w", m.waitErr, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if tail := m.console.Tail(2048); tail != "" {
		return fmt.Errorf("%w\nVM console:\n%s", err, tail)
	}
	return err
}

// teardown makes sure QEMU is gone. After the command's exit status it
// kills QEMU at once rather than wait for the guest's power-off: the agent
// synced before it reported the status (the workspace's and caches'
// writes, mapped pages included, are on the host through 9p), and the
// guest's disks are read-only or thrown away.
func (m *machine) teardown() {
	select {
	case <-m.exited:
	default:
		m.kill(nil)
		<-m.exited
	}
}

func trimLine(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}
