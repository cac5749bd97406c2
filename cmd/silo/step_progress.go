package main

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/silo-dev/silo/store"
)

// stepProgress shows the long steps of a run (a rootfs assembly, a
// decompression, a wait for another silo's store lock): on a terminal one
// live line with a bar, bytes and a rate, redrawn ten times a second; on
// a pipe one line per step. It implements store.Progress; steps do not
// nest, and one that starts while another is shown replaces it.
type stepProgress struct {
	w     *os.File
	tty   bool
	after time.Duration // how long a step runs before it is shown: shorter ones pass in silence

	mu          sync.Mutex
	what, unit  string
	done, total int64
	start       time.Time
	shown       bool
	stop        chan struct{}
	finished    chan struct{}
}

var (
	stepsOnce sync.Once
	steps     *stepProgress
)

// steps is the process's one display of long steps, on stderr; nil
// with --quiet.
func (g *Globals) steps() *stepProgress {
	stepsOnce.Do(func() { steps = newStepProgress(os.Stderr, g.Quiet, g.ShowAfter) })
	return steps
}

// newStepProgress returns the display for w, or nil when quiet.
func newStepProgress(w *os.File, quiet bool, after time.Duration) *stepProgress {
	if quiet {
		return nil
	}
	return &stepProgress{w: w, tty: term.IsTerminal(int(w.Fd())), after: after}
}

// progress returns p as a store.Progress, or nil when p is nil (quiet).
func (p *stepProgress) progress() store.Progress {
	if p == nil {
		return nil
	}
	return p
}

// Begin implements store.Progress.
func (p *stepProgress) Begin(what, unit string) {
	p.End()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.what, p.unit, p.done, p.total, p.start, p.shown = what, unit, 0, 0, time.Now(), false
	p.stop, p.finished = make(chan struct{}), make(chan struct{})
	go p.loop(p.stop, p.finished)
}

// Advance implements store.Progress.
func (p *stepProgress) Advance(done, total int64) {
	p.mu.Lock()
	p.done, p.total = done, total
	p.mu.Unlock()
}

// End implements store.Progress.
func (p *stepProgress) End() {
	p.mu.Lock()
	stop, finished := p.stop, p.finished
	p.stop = nil
	p.mu.Unlock()
	if stop == nil {
		return
	}
	close(stop)
	<-finished
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown && p.tty {
		fmt.Fprintf(p.w, "\r\x1b[2K%s\n", p.line(true))
	}
}

func (p *stepProgress) loop(stop, finished chan struct{}) {
	defer close(finished)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	p.tick()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			p.tick()
		}
	}
}

// tick shows the step once it has run stepShowAfter: on a pipe one line,
// on a terminal the live line redrawn.
func (p *stepProgress) tick() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.start) < p.after {
		return
	}
	if !p.tty {
		if !p.shown {
			fmt.Fprintf(p.w, "silo: %s…\n", p.what)
		}
		p.shown = true
		return
	}
	p.shown = true
	fmt.Fprintf(p.w, "\r\x1b[2K%s", p.line(false))
}

// line is the step's status: what, a bar when the total is known, the
// units done and the rate; final when the step is over.
func (p *stepProgress) line(final bool) string {
	secs := time.Since(p.start).Seconds()
	var b strings.Builder
	b.WriteString("silo: " + p.what)
	if p.unit == "" || p.done == 0 && p.total == 0 && !final {
		// A wait, or a step that has not started counting (the layers'
		// headers are being read): how long so far.
		fmt.Fprintf(&b, "  %.0fs", secs)
		return b.String()
	}
	if p.total > 0 && !final {
		const width = 24
		n := int(float64(width) * float64(min(p.done, p.total)) / float64(p.total))
		fmt.Fprintf(&b, "  [%s%s]", strings.Repeat("#", n), strings.Repeat(".", width-n))
	}
	amount := p.count(p.done)
	if p.total > 0 && !final {
		amount += " / " + p.count(p.total)
	}
	rate := 0.0
	if secs > 0 {
		rate = float64(p.done) / secs
	}
	if final {
		fmt.Fprintf(&b, "  %s in %.1fs (%s/s)", amount, secs, p.count(int64(rate)))
	} else {
		fmt.Fprintf(&b, "  %s  %s/s", amount, p.count(int64(rate)))
	}
	return b.String()
}

// count formats n of the step's unit.
func (p *stepProgress) count(n int64) string {
	if p.unit == "bytes" {
		return formatSIBytes(n)
	}
	return fmt.Sprintf("%d %s", n, p.unit)
}
