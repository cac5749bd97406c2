//go:build linux

package agent

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCleanRel(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{"silo.toml", "silo.toml", false},
		{".git/hooks/", ".git/hooks", false},
		{"/etc/passwd", "etc/passwd", false},
		{"a//b/./c", "a/b/c", false},
		{"../x", "", true},
		{"a/../../x", "", true},
		{"a/..", "", true},
		{"", "", true},
		{"/", "", true},
		{".", "", true},
	}
	for _, tt := range tests {
		got, err := cleanRel(tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("cleanRel(%q) = %q, %v", tt.in, got, err)
		}
	}
}

func TestCovered(t *testing.T) {
	done := []string{".git", "silo.toml"}
	for rel, want := range map[string]bool{".git": true, ".git/hooks": true, ".gitmodules": false, "silo.toml": true, "silo.tomlx": false} {
		if got := covered(done, rel); got != want {
			t.Errorf("covered(%q) = %v", rel, got)
		}
	}
}

func TestExitStatus(t *testing.T) {
	tests := []struct {
		ws   unix.WaitStatus
		want int
	}{
		{0, 0},
		{1 << 8, 1},
		{42 << 8, 42},
		{unix.WaitStatus(unix.SIGINT), 130},
		{unix.WaitStatus(unix.SIGKILL), 137},
	}
	for _, tt := range tests {
		if got := exitStatus(tt.ws); got != tt.want {
			t.Errorf("exitStatus(%#x) = %d, want %d", uint32(tt.ws), got, tt.want)
		}
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	exe, plain := filepath.Join(dir, "tool"), filepath.Join(dir, "data")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"HOME=/root", "PATH=/nonexistent:" + dir}
	if got, err := lookPath("tool", env, "/"); err != nil || got != exe {
		t.Errorf("lookPath(tool) = %q, %v", got, err)
	}
	if _, err := lookPath("data", env, "/"); err == nil {
		t.Error("a file without the executable bit was found")
	}
	if _, err := lookPath("tool", []string{"PATH=/nonexistent"}, "/"); err == nil {
		t.Error("found outside PATH")
	}
	if got, err := lookPath(exe, nil, "/"); err != nil || got != exe {
		t.Errorf("lookPath(absolute) = %q, %v", got, err)
	}
	if _, err := lookPath(dir, nil, "/"); err == nil {
		t.Error("a directory was found as a command")
	}
	// Relative to the command's directory, not the agent's.
	if got, err := lookPath("./tool", nil, dir); err != nil || got != exe {
		t.Errorf("lookPath(./tool) in its directory = %q, %v", got, err)
	}
	if got, err := lookPath("tool", []string{"PATH=/nonexistent:."}, dir); err != nil || got != exe {
		t.Errorf("lookPath(tool) with . in PATH = %q, %v", got, err)
	}
}

func TestMountPointPlaceholders(t *testing.T) {
	ws := t.TempDir()
	if err := os.WriteFile(filepath.Join(ws, ".git"), []byte("gitdir: ../main/.git/worktrees/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(ws, ".envrc")); err != nil {
		t.Fatal(err)
	}
	fs := &sandboxFS{}
	tests := []struct {
		rel  string
		dir  bool
		want string // relative mount point, "" for an error
	}{
		{".git/hooks", true, ".git"},      // a worktree's .git file is itself guarded
		{".envrc", false, ""},             // a symlink is refused
		{"silo.lock", false, "silo.lock"}, // a missing file gets a placeholder
		{".vscode", true, ".vscode"},      // a missing directory too
		{"a/b/c", false, "a"},             // a missing parent is held
	}
	for _, tt := range tests {
		got, err := fs.mountPoint(ws, tt.rel, tt.dir)
		if tt.want == "" {
			if err == nil {
				t.Errorf("%s: no error", tt.rel)
			}
			continue
		}
		if err != nil || got != filepath.Join(ws, tt.want) {
			t.Errorf("%s: got %q, %v; want %s", tt.rel, got, err, tt.want)
		}
	}
	if st, err := os.Stat(filepath.Join(ws, ".vscode")); err != nil || !st.IsDir() {
		t.Errorf(".vscode placeholder: %v", err)
	}
	if st, err := os.Stat(filepath.Join(ws, "silo.lock")); err != nil || !st.Mode().IsRegular() {
		t.Errorf("silo.lock placeholder: %v", err)
	}
	// Cleanup removes what it made, and only that.
	fs.ws, _ = os.Open(ws)
	fs.cleanup()
	for _, p := range []string{"silo.lock", ".vscode", "a"} {
		if _, err := os.Lstat(filepath.Join(ws, p)); !os.IsNotExist(err) {
			t.Errorf("placeholder %s left behind (%v)", p, err)
		}
	}
	for _, p := range []string{".git", ".envrc"} {
		if _, err := os.Lstat(filepath.Join(ws, p)); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
}
