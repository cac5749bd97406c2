package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPullProgressPiped(t *testing.T) {
	var buf bytes.Buffer
	p := &pullProgress{w: &buf, byDig: map[string]*layerState{}}
	p.Start("sha256:aaaaaaaaaaaaaaaa", 2000)
	p.Update("sha256:aaaaaaaaaaaaaaaa", 1000)
	if buf.Len() != 0 {
		t.Fatalf("piped progress printed before a layer finished: %q", buf.String())
	}
	p.Update("sha256:aaaaaaaaaaaaaaaa", 2000)
	p.Finish("sha256:aaaaaaaaaaaaaaaa", false, nil)
	p.Finish("sha256:bbbbbbbbbbbbbbbb", true, nil)
	p.Finish("sha256:cccccccccccccccc", false, errors.New("boom"))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want one line per finished layer, got %q", buf.String())
	}
	for i, want := range []string{"layer aaaaaaaaaaaa  2.0 kB in", "layer bbbbbbbbbbbb  already in the store", "layer cccccccccccc  failed"} {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], want)
		}
	}
	if strings.Contains(buf.String(), "\x1b") {
		t.Error("escape sequences when not on a terminal")
	}
}

func TestPullProgressTerminal(t *testing.T) {
	var buf bytes.Buffer
	p := &pullProgress{w: &buf, tty: true, byDig: map[string]*layerState{}}
	p.Start("sha256:aaaaaaaaaaaaaaaa", 10_000_000)
	p.layers[0].start = time.Now().Add(-time.Second)
	p.Update("sha256:aaaaaaaaaaaaaaaa", 2_500_000)
	p.Start("sha256:bbbbbbbbbbbbbbbb", 100)
	p.draw()
	first := buf.String()
	if !strings.Contains(first, "2.5 MB / 10.0 MB") || !strings.Contains(first, "MB/s") || !strings.Contains(first, "ETA 3s") {
		t.Errorf("live line lacks bytes, rate or ETA: %q", first)
	}
	buf.Reset()
	p.draw()
	if !strings.HasPrefix(buf.String(), "\x1b[2A") {
		t.Errorf("redraw does not move back up over the 2 lines: %q", buf.String())
	}
	var quiet *pullProgress = newPullProgress(nil, true)
	if quiet.progress() != nil {
		t.Error("quiet progress is not nil")
	}
	quiet.close()
}
