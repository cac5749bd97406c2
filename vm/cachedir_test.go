package vm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenCacheDir opens cache directories as a sandbox may have left
// them: missing components are made, a symlink anywhere below the root
// (a trailing slash included) is refused, and so is a path leaving it.
func TestOpenCacheDir(t *testing.T) {
	root := filepath.Join(t.TempDir(), "cache")
	outside := t.TempDir()
	f, err := OpenCacheDir(root, "project/k/bb/x")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := f.Stat()
	f.Close()
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("made %v, %v; want a 0700 directory", fi, err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "project/k/bb/x/l")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "project/k/link")); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"project/k/bb/x/l", "project/k/bb/x/l/", "project/k/bb/x/l/deeper", "project/k/link/bb"} {
		f, err := OpenCacheDir(root, rel)
		if err == nil {
			f.Close()
			t.Errorf("%s: opened through a symlink", rel)
		} else if !strings.Contains(err.Error(), "is a symlink") {
			t.Errorf("%s: %v; want it to name the symlink", rel, err)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("something was made through the link: %v", entries)
	}
	for _, rel := range []string{"", ".", "..", "../x", "/etc", "a/../../x"} {
		if f, err := OpenCacheDir(root, rel); err == nil {
			f.Close()
			t.Errorf("%q: opened a path outside the root", rel)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenCacheDir(root, "file/x"); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("through a file: %v", err)
	}
}
