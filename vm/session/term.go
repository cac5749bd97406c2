package session

import (
	"github.com/silo-dev/silo/vm"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
)

// hostTerm is the host terminal of a TTY run: raw mode and window size.
type hostTerm struct {
	in, out *os.File // nil when not a terminal
	old     *term.State
}

// newHostTerm finds the terminal behind spec's stdio, if any.
func newHostTerm(spec *vm.Spec) *hostTerm {
	t := &hostTerm{}
	if f, ok := spec.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		t.in = f
	}
	if f, ok := spec.Stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		t.out = f
	}
	if !spec.TTY {
		t.in = nil
	}
	return t
}

// size returns the terminal's rows and columns, or 24×80.
func (t *hostTerm) size() (rows, cols uint16) {
	for _, f := range []*os.File{t.out, t.in} {
		if f == nil {
			continue
		}
		if w, h, err := term.GetSize(int(f.Fd())); err == nil && w > 0 && h > 0 {
			return uint16(h), uint16(w)
		}
	}
	return 24, 80
}

// setRaw puts a TTY run's input terminal into raw mode.
func (t *hostTerm) setRaw() error {
	if t.in == nil {
		return nil
	}
	old, err := term.MakeRaw(int(t.in.Fd()))
	if err != nil {
		return err
	}
	t.old = old
	return nil
}

// restore undoes setRaw.
func (t *hostTerm) restore() {
	if t.old != nil {
		_ = term.Restore(int(t.in.Fd()), t.old)
	}
}

// signalEvent is one host signal, as the session acts on it.
type signalEvent struct {
	signal int  // the signal number to forward
	resize bool // the window changed size
	kill   bool // the user insists: kill the sandbox
}

// signalRelay turns host signals into signalEvents: SIGINT, SIGTERM,
// SIGHUP and SIGQUIT are forwarded to the guest's foreground process
// group, a second SIGINT, SIGTERM or SIGHUP kills the sandbox (exit
// 128+N), SIGWINCH resizes.
type signalRelay struct {
	ch     chan os.Signal
	events chan signalEvent
	done   chan struct{}
}

// newSignalRelay starts relaying host signals.
func newSignalRelay(tty bool) *signalRelay {
	r := &signalRelay{ch: make(chan os.Signal, 4), events: make(chan signalEvent), done: make(chan struct{})}
	sigs := []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}
	if tty {
		sigs = append(sigs, syscall.SIGWINCH)
	}
	signal.Notify(r.ch, sigs...)
	go r.loop()
	return r
}

func (r *signalRelay) loop() {
	seen := map[os.Signal]int{}
	for {
		select {
		case <-r.done:
			return
		case s := <-r.ch:
			ev := signalEvent{signal: int(s.(syscall.Signal))}
			switch s {
			case syscall.SIGWINCH:
				ev = signalEvent{resize: true}
			case syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP:
				// Forwarded once; the second time the user (or the
				// system) insists, and the sandbox is killed.
				seen[s]++
				ev.kill = seen[s] > 1
			}
			select {
			case r.events <- ev:
			case <-r.done:
				return
			}
		}
	}
}

// stop stops relaying; signals get their default action again.
func (r *signalRelay) stop() {
	signal.Stop(r.ch)
	close(r.done)
}
