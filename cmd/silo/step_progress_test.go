package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestStepProgressLine: a step with a known total draws a bar, its bytes
// of the total and a rate; its final line says how long it took; a wait
// says for how long.
func TestStepProgressLine(t *testing.T) {
	p := &stepProgress{what: "assembling the dir rootfs of python", unit: "bytes", done: 5_000_000, total: 20_000_000, start: time.Now().Add(-2 * time.Second)}
	l := p.line(false)
	for _, want := range []string{"silo: assembling the dir rootfs of python", "[######..................]", "5.0 MB / 20.0 MB", "/s"} {
		if !strings.Contains(l, want) {
			t.Errorf("live line %q lacks %q", l, want)
		}
	}
	if f := p.line(true); !strings.Contains(f, " in 2.0s (") || strings.Contains(f, "[") {
		t.Errorf("final line %q", f)
	}
	w := &stepProgress{what: "waiting for the store lock, held by pid 7 (silo)", start: time.Now().Add(-3 * time.Second)}
	if l := w.line(false); l != "silo: waiting for the store lock, held by pid 7 (silo)  3s" {
		t.Errorf("wait line %q", l)
	}
	if newStepProgress(os.Stderr, true, 0) != nil || newStepProgress(os.Stderr, true, 0).progress() != nil {
		t.Error("quiet: want no display")
	}
}
