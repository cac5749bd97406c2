package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/silo-dev/silo/derive/oci"
)

// pullProgress shows a pull's layers: on a terminal, one live line per
// layer (bytes, rate, ETA) redrawn ten times a second; otherwise one line
// per finished layer; with --quiet, nothing.
type pullProgress struct {
	w      io.Writer
	tty    bool
	mu     sync.Mutex
	layers []*layerState
	byDig  map[string]*layerState
	drawn  int // lines drawn last time (TTY)
	stop   chan struct{}
	done   chan struct{}
}

type layerState struct {
	digest      string
	size, bytes int64
	start, end  time.Time
	state       string // "", "done", "cached", "failed"
}

// newPullProgress returns the display for w, or nil when quiet.
func newPullProgress(w *os.File, quiet bool) *pullProgress {
	if quiet {
		return nil
	}
	p := &pullProgress{w: w, tty: term.IsTerminal(int(w.Fd())), byDig: map[string]*layerState{}}
	if p.tty {
		p.stop, p.done = make(chan struct{}), make(chan struct{})
		go p.loop()
	}
	return p
}

// progress returns p as an oci.Progress, or nil when p is nil (quiet).
func (p *pullProgress) progress() oci.Progress {
	if p == nil {
		return nil
	}
	return p
}

func (p *pullProgress) layer(d string) *layerState {
	l := p.byDig[d]
	if l == nil {
		l = &layerState{digest: d, start: time.Now()}
		p.byDig[d] = l
		p.layers = append(p.layers, l)
	}
	return l
}

// Start implements oci.Progress.
func (p *pullProgress) Start(d string, size int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.layer(d)
	l.size, l.start = size, time.Now()
}

// Update implements oci.Progress.
func (p *pullProgress) Update(d string, n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.layer(d).bytes = n
}

// Finish implements oci.Progress.
func (p *pullProgress) Finish(d string, cached bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.layer(d)
	l.end = time.Now()
	switch {
	case err != nil:
		l.state = "failed"
	case cached:
		l.state = "cached"
	default:
		l.state = "done"
	}
	if !p.tty {
		fmt.Fprintln(p.w, l.line())
	}
}

func (p *pullProgress) loop() {
	defer close(p.done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			p.draw()
			return
		case <-t.C:
			p.draw()
		}
	}
}

// draw redraws every layer's line in place.
func (p *pullProgress) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	for _, l := range p.layers {
		b.WriteString("\x1b[2K")
		b.WriteString(l.line())
		b.WriteByte('\n')
	}
	p.drawn = len(p.layers)
	io.WriteString(p.w, b.String())
}

// close stops the display after a last redraw.
func (p *pullProgress) close() {
	if p == nil || !p.tty {
		return
	}
	close(p.stop)
	<-p.done
}

// line is one layer's status.
func (l *layerState) line() string {
	name := "layer " + imageShortDigest(l.digest)
	switch l.state {
	case "cached":
		return name + "  already in the store"
	case "failed":
		return name + "  failed"
	}
	end := l.end
	if end.IsZero() {
		end = time.Now()
	}
	secs := end.Sub(l.start).Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(l.bytes) / secs
	}
	if l.state == "done" {
		return fmt.Sprintf("%s  %s in %.1fs (%s/s)", name, formatSIBytes(l.bytes), secs, formatSIBytes(int64(rate)))
	}
	eta := "?"
	if rate > 0 && l.size > 0 {
		eta = time.Duration(float64(l.size-l.bytes) / rate * float64(time.Second)).Round(time.Second).String()
	}
	return fmt.Sprintf("%s  %s / %s  %s/s  ETA %s", name, formatSIBytes(l.bytes), formatSIBytes(l.size), formatSIBytes(int64(rate)), eta)
}
