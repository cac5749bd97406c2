package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/silo-dev/silo/internal/home"
	"github.com/silo-dev/silo/vm"
)

// noteFallback tells the user, once per silo home, that silo fell back
// from a VM to namespaces here, which share the host's kernel: the first
// run says so and records it; silo doctor says it every time. Nothing is
// said or recorded with -q.
func noteFallback(g *Globals, reg *vm.Registry, b vm.Backend, reason string, w io.Writer) {
	if g.Quiet || !reg.SharedKernelFallback(g.Backend, b) {
		return
	}
	mark := home.Dir(g.home).FallbackNoted()
	if _, err := os.Stat(mark); err == nil {
		return
	}
	fmt.Fprintf(w, "silo: %s; silo doctor says more (this note is shown once)\n", fallbackText(reason))
	if err := os.MkdirAll(filepath.Dir(mark), 0o700); err == nil {
		_ = os.WriteFile(mark, []byte(reason+"\n"), 0o600)
	}
}

// fallbackText says what the fall back means, and why it happened.
func fallbackText(reason string) string {
	if r, ok := strings.CutPrefix(reason, "chosen automatically ("); ok {
		reason = strings.TrimSuffix(r, ")")
	}
	return "no VM can run here, so sandboxes are Linux namespaces, which share this machine's kernel: weaker isolation than a VM (" + reason + ")"
}
