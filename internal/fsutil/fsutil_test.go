package fsutil

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "f.json")
	when := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := WriteFile(p, []byte("one"), WriteOptions{Perm: 0o600, Sync: true, ModTime: when, MkdirPerm: 0o700}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 || !fi.ModTime().Equal(when) {
		t.Fatalf("stat: %v %v %v", fi.Mode(), fi.ModTime(), err)
	}
	if err := WriteFile(p, []byte("two"), WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "two" {
		t.Errorf("content %q", b)
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	if len(ents) != 1 {
		t.Errorf("a temporary file was left: %v", ents)
	}
	// A failed write leaves the target as it was and nothing beside it.
	if err := WriteFile(p, []byte("three"), WriteOptions{TempDir: filepath.Join(dir, "missing")}); err == nil {
		t.Error("a write staged in a missing directory succeeded")
	}
	if b, _ := os.ReadFile(p); string(b) != "two" {
		t.Errorf("a failed write changed the target: %q", b)
	}
}

func TestLockFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	a, err := LockFile(p, unix.LOCK_EX)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LockFile(p, unix.LOCK_EX|unix.LOCK_NB); err == nil {
		t.Fatal("a second exclusive lock was granted")
	}
	a.Close()
	b, err := LockFile(p, unix.LOCK_EX|unix.LOCK_NB)
	if err != nil {
		t.Fatalf("the lock was not released by close: %v", err)
	}
	b.Close()
}

func TestWithin(t *testing.T) {
	for _, tt := range []struct {
		p, d          string
		within, below bool
	}{
		{"/a/b", "/a", true, true},
		{"/a", "/a", true, false},
		{"/a/", "/a", true, false},
		{"/ab", "/a", false, false},
		{"/a/../b", "/a", false, false},
		{"/x", "/", true, true},
		{"/", "/p", false, false},
	} {
		if got := Within(tt.p, tt.d); got != tt.within {
			t.Errorf("Within(%q, %q) = %v", tt.p, tt.d, got)
		}
		if got := Beneath(tt.p, tt.d); got != tt.below {
			t.Errorf("Beneath(%q, %q) = %v", tt.p, tt.d, got)
		}
	}
}
