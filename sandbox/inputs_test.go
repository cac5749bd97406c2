package sandbox

import (
	"os"
	"path/filepath"
	"testing"
)

// TestInputHashes: a tree input's hash follows its files' content and
// executable bits, leaves out silo.lock, .git and the excluded paths, is
// the same from the stat cache, and a symlink input is its target's text,
// never the file it points to.
func TestInputHashes(t *testing.T) {
	ws := t.TempDir()
	write := func(rel, data string, mode os.FileMode) {
		p := filepath.Join(ws, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("src/a.py", "a", 0o644)
	write("src/run.sh", "#!/bin/sh", 0o755)
	cache := filepath.Join(t.TempDir(), "inputs.json")
	h := newInputHasher(cache)
	hash := func(rel string) string {
		t.Helper()
		s, err := h.hash(ws, rel, []string{"node_modules"})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tree := hash(".")
	h.save()
	h = newInputHasher(cache)
	if hash(".") != tree {
		t.Error("the cached hash differs")
	}
	for _, rel := range []string{"silo.lock", ".git/HEAD", "node_modules/x/index.js"} {
		write(rel, "ignored", 0o644)
	}
	if hash(".") != tree {
		t.Error("silo.lock, .git or an excluded path changes a tree input's hash")
	}
	os.Chmod(filepath.Join(ws, "src/a.py"), 0o755)
	if hash(".") == tree {
		t.Error("an executable bit does not change the hash")
	}
	write("src/a.py", "b", 0o644)
	if hash(".") == tree {
		t.Error("a file's content does not change the hash")
	}
	secret := filepath.Join(t.TempDir(), "id_rsa")
	os.WriteFile(secret, []byte("key one"), 0o600)
	if err := os.Symlink(secret, filepath.Join(ws, "link")); err != nil {
		t.Fatal(err)
	}
	l1 := hash("link")
	os.WriteFile(secret, []byte("key two"), 0o600)
	if hash("link") != l1 {
		t.Error("a symlink input's hash depends on the file it points to")
	}
	if _, err := h.hash(ws, "missing.txt", nil); err == nil {
		t.Error("a missing input hashed")
	}
}
