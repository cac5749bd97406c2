package qemu

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIOUringProbe asks a stand-in QEMU, which accepts or refuses the
// probe's disk, and then the cache, which answers without starting it.
func TestIOUringProbe(t *testing.T) {
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	fake := func(name, exit string) string {
		p := filepath.Join(dir, name)
		script := "#!/bin/sh\necho \"$@\" >> " + calls + "\nexit " + exit + "\n"
		if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ctx := context.Background()
	for _, c := range []struct {
		name, exit string
		want       bool
	}{{"qemu-ok", "0", true}, {"qemu-refuses", "1", false}} {
		b := New(Options{Home: t.TempDir()})
		qemu := fake(c.name, c.exit)
		os.Remove(calls)
		for range 2 {
			if got := b.ioUring(ctx, qemu); got != c.want {
				t.Errorf("%s: io_uring usable %v, want %v", c.name, got, c.want)
			}
		}
		log, _ := os.ReadFile(calls)
		if n := strings.Count(string(log), "\n"); n != 1 || !strings.Contains(string(log), "aio=io_uring") {
			t.Errorf("%s: QEMU started %d times (%q), want once with an io_uring disk: the answer is cached", c.name, n, log)
		}
	}
}
