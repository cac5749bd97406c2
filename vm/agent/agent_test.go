//go:build linux

package agent

import (
	"os"
	"path/filepath"
	"syscall"
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

func TestPolicy(t *testing.T) {
	p, err := newPolicy([]string{".git/", "HEAD", ".envrc", ".vscode/", "lefthook*.yml", ".config/fish/"}, []string{"web/node_modules"}, true, false)
	if err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string]syscall.Errno{
		"":                        0,
		"src/main.go":             0,
		".envrc":                  syscall.EPERM,
		"a/b/.envrc":              syscall.EPERM,
		"a/.vscode":               syscall.EPERM,
		"a/.vscode/tasks.json":    syscall.EPERM,
		"a/lefthook-local.yml":    syscall.EPERM,
		"a/.config/fish/x.fish":   syscall.EPERM,
		"a/.config/other":         0,
		"a/.git":                  syscall.EPERM,
		"a/.git/config":           syscall.EPERM,
		"a/HEAD":                  syscall.EPERM,
		".git":                    syscall.EPERM,
		".git/config":             syscall.EPERM,
		".git/config.lock":        syscall.EPERM,
		".git/hooks/pre-commit":   syscall.EPERM,
		".git/commondir":          syscall.EPERM,
		".git/worktrees/x/config": syscall.EPERM,
		".git/modules/m/config":   syscall.EPERM,
		".git/info/exclude":       syscall.EPERM,
		".git/objects/ab/cdef":    0,
		".git/refs/heads/main":    0,
		".git/index.lock":         0,
		".git/index.stash.12":     0,
		".git/HEAD":               0,
		".git/ORIG_HEAD.lock":     0,
		".git/COMMIT_EDITMSG":     0,
		".git/packed-refs":        0,
		"web/node_modules/.git":   0,
		".GIT/CONFIG":             syscall.EPERM,
		".git/CONFIG.lock":        syscall.EPERM,
		"a/.Git/config":           syscall.EPERM,
		"a/.ENVRC":                syscall.EPERM,
		"Web/Node_Modules/x":      0,
		"web/node_modules/a/HEAD": 0,
	} {
		if got := p.change(rel); got != want {
			t.Errorf("change(%q) = %v, want %v", rel, got, want)
		}
	}
	for rel, want := range map[string]syscall.Errno{"a/.config": syscall.EPERM, "a/.config/fish": syscall.EPERM, "a/config": 0, "web/node_modules/.config": 0} {
		if got := p.moveDir(rel); got != want {
			t.Errorf("moveDir(%q) = %v, want %v", rel, got, want)
		}
	}
	for rel, want := range map[string]bool{"": true, "web": true, "web/node_modules": true, "web/x": false, "web/node_modules/x": false} {
		if got := p.pinned(rel); got != want {
			t.Errorf("pinned(%q) = %v", rel, got)
		}
	}
	noGit, _ := newPolicy([]string{".git/"}, nil, false, false)
	if got := noGit.change(".git/objects/x"); got != syscall.EPERM {
		t.Errorf("without a top-level .git directory, .git/objects: %v", got)
	}
	ro, _ := newPolicy(nil, []string{"out"}, false, true)
	if ro.change("f") != syscall.EROFS || ro.change("out/f") != 0 {
		t.Error("read-only: the workspace must refuse and the excludes allow")
	}
}
