package vm

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestGuardWorkspaceShared(t *testing.T) {
	run, ws := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(ws, "silo.toml"), []byte("tools = []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws, ".envrc"), nil, 0o644); err != nil { // the user's own, empty
		t.Fatal(err)
	}
	protected := []string{"silo.toml", "silo.lock", ".git/hooks/", ".git/config", ".envrc", ".vscode/"}
	exclude := []string{"web/node_modules"}
	g1, first, err := GuardWorkspace(run, ws, protected, exclude)
	if err != nil {
		t.Fatal(err)
	}
	g2, second, err := GuardWorkspace(run, ws, protected, exclude)
	if err != nil {
		t.Fatal(err)
	}
	// Both sandboxes guard the placeholders made for protected paths,
	// the second too, though it found them made, and every path asked
	// for: the missing .git is itself read-only, so nothing can be made
	// under it.
	for _, g := range [][]string{g1, g2} {
		for _, p := range append([]string{".git"}, protected...) {
			if !slices.Contains(g, p) {
				t.Errorf("%s not guarded: %q", p, g)
			}
		}
		if slices.Contains(g, "web") || slices.Contains(g, "web/node_modules") {
			t.Errorf("an excluded path's placeholder is read-only: %q", g)
		}
	}
	want := map[string]bool{"silo.lock": false, ".git": true, ".vscode": true, "web": true, "web/node_modules": true}
	for p, dir := range want {
		st, err := os.Lstat(filepath.Join(ws, p))
		if err != nil || st.IsDir() != dir {
			t.Fatalf("placeholder %s: %v", p, err)
		}
	}
	// One placeholder per missing protected parent: the read-only .git
	// holds .git/hooks and .git/config, which need none of their own.
	for _, p := range []string{".git/hooks", ".git/config"} {
		if _, err := os.Lstat(filepath.Join(ws, p)); !os.IsNotExist(err) {
			t.Errorf("%s made under the placeholder .git (%v)", p, err)
		}
	}
	first()
	for p := range want {
		if _, err := os.Lstat(filepath.Join(ws, p)); err != nil {
			t.Errorf("%s removed while another sandbox still stands on it: %v", p, err)
		}
	}
	second()
	for p := range want {
		if _, err := os.Lstat(filepath.Join(ws, p)); !os.IsNotExist(err) {
			t.Errorf("%s left behind after the last sandbox: %v", p, err)
		}
	}
	for _, p := range []string{"silo.toml", ".envrc"} {
		if _, err := os.Lstat(filepath.Join(ws, p)); err != nil {
			t.Errorf("the user's %s was removed: %v", p, err)
		}
	}
}

func TestGuardWorkspaceKeepsWhatGotContent(t *testing.T) {
	run, ws := t.TempDir(), t.TempDir()
	_, release, err := GuardWorkspace(run, ws, []string{"silo.lock"}, []string{"node_modules"})
	if err != nil {
		t.Fatal(err)
	}
	// The user writes to them on the host meanwhile.
	if err := os.WriteFile(filepath.Join(ws, "silo.lock"), []byte("# real\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws, "node_modules", "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	release()
	for _, p := range []string{"silo.lock", "node_modules/x"} {
		if _, err := os.Lstat(filepath.Join(ws, p)); err != nil {
			t.Errorf("%s, written by the user, was removed: %v", p, err)
		}
	}
}

func TestGuardWorkspaceSymlinks(t *testing.T) {
	run, ws, outside := t.TempDir(), t.TempDir(), t.TempDir()
	if err := os.Symlink(outside, filepath.Join(ws, ".git")); err != nil {
		t.Fatal(err)
	}
	_, release, err := GuardWorkspace(run, ws, []string{".git/hooks/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if _, err := os.Lstat(filepath.Join(outside, "hooks")); !os.IsNotExist(err) {
		t.Errorf("a placeholder was made through a symlink, outside the workspace (%v)", err)
	}
}

func TestGuardWorkspaceRemakesAHeldPlaceholderThatWentAway(t *testing.T) {
	run, ws := t.TempDir(), t.TempDir()
	protected := []string{".git/hooks/"}
	_, first, err := GuardWorkspace(run, ws, protected, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer first()
	// The user removes the empty .git the first sandbox stands on.
	if err := os.Remove(filepath.Join(ws, ".git")); err != nil {
		t.Fatal(err)
	}
	g, second, err := GuardWorkspace(run, ws, protected, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer second()
	if st, err := os.Lstat(filepath.Join(ws, ".git")); err != nil || !st.IsDir() {
		t.Errorf("the second sandbox did not make .git again: %v", err)
	}
	if !slices.Contains(g, ".git") {
		t.Errorf(".git not guarded: %q", g)
	}
}

func TestGuardWorkspaceUnderARealDirectory(t *testing.T) {
	run, ws := t.TempDir(), t.TempDir()
	if err := os.Mkdir(filepath.Join(ws, ".git"), 0o755); err != nil { // a real repository
		t.Fatal(err)
	}
	g, release, err := GuardWorkspace(run, ws, []string{".git/hooks/", ".git/config"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for p, dir := range map[string]bool{".git/hooks": true, ".git/config": false} {
		if st, err := os.Lstat(filepath.Join(ws, p)); err != nil || st.IsDir() != dir {
			t.Errorf("placeholder %s under the real .git: %v", p, err)
		}
		if !slices.Contains(g, p) {
			t.Errorf("%s not guarded: %q", p, g)
		}
	}
	if slices.Contains(g, ".git") {
		t.Errorf("the user's own .git is guarded whole: %q", g)
	}
	release()
	if _, err := os.Lstat(filepath.Join(ws, ".git")); err != nil {
		t.Errorf("the user's .git was removed: %v", err)
	}
	for _, p := range []string{".git/hooks", ".git/config"} {
		if _, err := os.Lstat(filepath.Join(ws, p)); !os.IsNotExist(err) {
			t.Errorf("%s left behind (%v)", p, err)
		}
	}
}

// TestGuardWorkspaceCleanupStaysInside has the sandbox swap a placeholder's
// parent for a symlink to a host directory during the run: the cleanup
// must not follow it and remove the host's empty directory or file.
func TestGuardWorkspaceCleanupStaysInside(t *testing.T) {
	run, ws, outside := t.TempDir(), t.TempDir(), t.TempDir()
	for _, d := range []string{"b/node_modules", "b/.git"} {
		if err := os.MkdirAll(filepath.Join(outside, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "b/.envrc"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, release, err := GuardWorkspace(run, ws, []string{"a/b/.git/", "a/b/.envrc"}, []string{"a/b/node_modules"})
	if err != nil {
		t.Fatal(err)
	}
	// What a sandbox sharing the workspace can do while it runs.
	if err := os.Rename(filepath.Join(ws, "a"), filepath.Join(ws, "moved")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(ws, "a")); err != nil {
		t.Fatal(err)
	}
	release()
	for _, p := range []string{"b/node_modules", "b/.git", "b/.envrc", "b"} {
		if _, err := os.Lstat(filepath.Join(outside, p)); err != nil {
			t.Errorf("the cleanup followed the swapped-in symlink and removed %s outside the workspace: %v", p, err)
		}
	}
}
