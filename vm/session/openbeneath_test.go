package session

import (
	"github.com/silo-dev/silo/vm"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadPassFileStaysInWorkspace reads workspace pass files as a
// sandbox sharing the workspace may have left them: a plain file and a
// link within the workspace are read; a link swapped in to point at a
// host secret, absolute or relative, is refused.
func TestReadPassFileStaysInWorkspace(t *testing.T) {
	ws := t.TempDir()
	secret := filepath.Join(t.TempDir(), "id_rsa")
	if err := os.WriteFile(secret, []byte("host secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws, "token"), []byte("project token"), 0o644); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(ws, secret)
	if err != nil {
		t.Fatal(err)
	}
	links := map[string]string{"inside": "token", "absolute": secret, "relative": rel}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(ws, name)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, want string // want "" means refused
	}{
		{"token", "project token"},
		{"inside", "project token"},
		{"absolute", ""},
		{"relative", ""},
	}
	for _, tt := range tests {
		f, err := readPassFile(vm.PassFile{Host: filepath.Join(ws, tt.name), Guest: "/root/" + tt.name}, "/workspace", ws)
		got := string(f.Data)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("%s: read %q through a link out of the workspace", tt.name, got)
		case tt.want != "" && (err != nil || got != tt.want):
			t.Errorf("%s: got %q, %v; want %q", tt.name, got, err, tt.want)
		case err != nil && !strings.Contains(err.Error(), "pass file"):
			t.Errorf("%s: error does not say what failed: %v", tt.name, err)
		}
	}
}

// TestOpenBeneathByPath checks the fallback for kernels without openat2
// on the same cases.
func TestOpenBeneathByPath(t *testing.T) {
	ws := t.TempDir()
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("s"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws, "f"), []byte("f"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("f", filepath.Join(ws, "in")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(ws, "out")); err != nil {
		t.Fatal(err)
	}
	for name, ok := range map[string]bool{"f": true, "in": true, "out": false} {
		f, err := openBeneathByPath(ws, name)
		if (err == nil) != ok {
			t.Errorf("openBeneathByPath(%s): err = %v, want ok=%v", name, err, ok)
		}
		if f != nil {
			f.Close()
		}
	}
}
