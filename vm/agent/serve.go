//go:build linux

package agent

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
	"golang.org/x/sys/unix"

	"github.com/silo-dev/silo/internal/fds"
	"github.com/silo-dev/silo/vm/proto"
)

// acceptTimeout bounds the wait for the host's four fixed streams and the
// spec.
const acceptTimeout = 30 * time.Second

// Serve runs one sandbox on conn, the byte stream to the host: it receives
// the spec, builds the sandbox's filesystem from l, runs the command,
// relays its stdio, signals and window size, and reports its exit status.
// It returns when the command is done, its processes are gone and the
// filesystem is synced; the caller then powers off or exits. Serve must
// run as PID 1 of its own PID namespace (or VM), with the privilege to
// mount.
func Serve(conn io.ReadWriteCloser, l Layout) error {
	// Not dumpable: the sandbox's root cannot read the agent's memory,
	// environment or file descriptors through /proc/1.
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	// No descriptor the agent holds or inherited (the host channel, any
	// the backend passed on) may reach the command.
	if err := fds.CloseOnExec(3); err != nil {
		return fmt.Errorf("mark inherited descriptors close-on-exec: %w", err)
	}
	ignoreSignals()
	mux, err := yamux.Server(conn, proto.Config())
	if err != nil {
		conn.Close()
		return fmt.Errorf("start the host channel: %w", err)
	}
	defer mux.Close()
	a := &agent{mux: mux, layout: l, streams: make(map[proto.Kind]net.Conn)}
	a.ready = sync.NewCond(&a.mu)
	go a.acceptLoop()
	if err := a.waitStreams(); err != nil {
		return err
	}
	m, err := proto.Read(a.ctrl)
	if err != nil {
		return fmt.Errorf("read the spec from the host: %w", err)
	}
	if m.Type != proto.TypeSpec || m.Spec == nil {
		return fmt.Errorf("expected a spec from the host, got %q", m.Type)
	}
	code, err := a.run(m.Spec)
	if err != nil {
		_ = a.send(&proto.Msg{Type: proto.TypeError, Error: err.Error()})
	} else {
		err = a.send(&proto.Msg{Type: proto.TypeExit, Code: code})
	}
	// Let the host read the last message and hang up first.
	select {
	case <-mux.CloseChan():
	case <-time.After(5 * time.Second):
	}
	return err
}

// agent is the guest end of one sandbox's channel.
type agent struct {
	mux    *yamux.Session
	layout Layout

	mu      sync.Mutex
	ready   *sync.Cond
	streams map[proto.Kind]net.Conn
	ctrl    net.Conn
	wmu     sync.Mutex // serializes control writes
}

// acceptLoop accepts the host's streams: the four fixed ones, then port
// forwards.
func (a *agent) acceptLoop() {
	for {
		c, err := a.mux.Accept()
		if err != nil {
			a.mu.Lock()
			a.ready.Broadcast()
			a.mu.Unlock()
			return
		}
		go a.dispatch(c)
	}
}

// dispatch reads a stream's kind and files or serves it.
func (a *agent) dispatch(c net.Conn) {
	var kind [1]byte
	if _, err := io.ReadFull(c, kind[:]); err != nil {
		c.Close()
		return
	}
	k := proto.Kind(kind[0])
	switch k {
	case proto.KindControl, proto.KindStdin, proto.KindStdout, proto.KindStderr:
		a.mu.Lock()
		if _, dup := a.streams[k]; dup {
			a.mu.Unlock()
			c.Close()
			return
		}
		a.streams[k] = c
		a.ready.Broadcast()
		a.mu.Unlock()
	case proto.KindForward:
		serveForward(c)
	default:
		c.Close()
	}
}

// waitStreams waits until the host has opened the four fixed streams.
func (a *agent) waitStreams() error {
	t := time.AfterFunc(acceptTimeout, func() { a.mux.Close() })
	defer t.Stop()
	a.mu.Lock()
	defer a.mu.Unlock()
	for len(a.streams) < 4 {
		if a.mux.IsClosed() {
			return errors.New("the host hung up before sending a spec")
		}
		a.ready.Wait()
	}
	a.ctrl = a.streams[proto.KindControl]
	return nil
}

// send writes one control message to the host.
func (a *agent) send(m *proto.Msg) error {
	a.wmu.Lock()
	defer a.wmu.Unlock()
	return proto.Write(a.ctrl, m)
}

// serveForward bridges one forwarded host connection to a guest port on
// the sandbox's loopback.
func serveForward(c net.Conn) {
	defer c.Close()
	var p [2]byte
	if _, err := io.ReadFull(c, p[:]); err != nil {
		return
	}
	port := binary.BigEndian.Uint16(p[:])
	g, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))), 5*time.Second)
	if err != nil {
		return
	}
	defer g.Close()
	proto.Splice(c, g)
}

// fatalSignals are the signals that end a Go program by default (exit,
// crash or stop); the runtime ignores the others. SIGSEGV, SIGBUS and
// SIGFPE are among them: the runtime turns a fault into a panic, and a
// fault's signal sent by another process (si_code SI_USER or SI_TKILL)
// into a crash, unless it is notified.
var fatalSignals = []os.Signal{
	unix.SIGHUP, unix.SIGINT, unix.SIGTERM, unix.SIGQUIT, unix.SIGILL, unix.SIGTRAP,
	unix.SIGABRT, unix.SIGSTKFLT, unix.SIGSYS, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, unix.SIGPIPE,
	unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE,
}

// ignoreSignals makes the agent deaf to signals from inside the sandbox.
// The kernel only delivers to a namespace's PID 1 the signals it handles,
// and the Go runtime handles them all (SIGTERM and SIGINT would end it):
// catching and dropping them keeps the agent alive. Ignoring them
// outright would not do: ignored signals stay ignored in the command.
//
// The runtime tells a sent signal from a fault by its si_code: only
// SI_USER (kill) and SI_TKILL (tkill, tgkill) count as sent, so those
// reach the channel here while a real fault in the agent still crashes
// it loudly. A fault's signal sent with another code (rt_sigqueueinfo's
// SI_QUEUE, pidfd_send_signal with a siginfo, SIGIO redirected by fcntl
// F_SETSIG, whose POLL_* codes read as fault codes) would look like a
// fault to the runtime: the command's seccomp filter refuses those
// (seccomp.go).
func ignoreSignals() {
	ch := make(chan os.Signal, 16)
	signal.Notify(ch, fatalSignals...)
	go func() {
		for range ch {
		}
	}()
}
