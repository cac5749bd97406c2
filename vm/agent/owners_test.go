//go:build linux

package agent

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/silo-dev/silo/internal/owners"
)

// TestOwnersLayer builds an owners layer from a tree as the agent would
// (as root, where every id is mapped) and checks each copy: owner from
// the table, mode (setgid kept through the chown), bytes and times from
// the tree; every directory above a listed path, the top included, as
// the tree has it; files past the byte budget left out; unsafe table
// paths refused.
func TestOwnersLayer(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: chown to other ids")
	}
	lower, scratch := t.TempDir(), t.TempDir()
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	mk := func(p string, mode os.FileMode, body string) {
		full := filepath.Join(lower, p)
		if body == "/" {
			must(t, os.Mkdir(full, 0o700))
		} else {
			must(t, os.WriteFile(full, []byte(body), 0o600))
		}
		must(t, os.Chmod(full, mode))
	}
	mk("home", 0o755, "/")
	mk("home/app", 0o750, "/")
	mk("home/app/.profile", 0o600, "export APP=1\n")
	mk("usr", 0o711, "/")
	mk("usr/helper", 0o755|os.ModeSetgid, "#!/bin/sh\n")
	mk("big", 0o644, string(make([]byte, ownedBytes)))
	must(t, os.Symlink(".profile", filepath.Join(lower, "home/app/link")))
	for _, p := range []string{"home/app/.profile", "home/app", "usr/helper", "usr", "home", "big", "."} {
		must(t, os.Chtimes(filepath.Join(lower, p), old, old))
	}
	must(t, os.Chmod(lower, 0o751))
	tab := owners.Table{
		{Path: "home/app", UID: 1000, GID: 1000},
		{Path: "home/app/.profile", UID: 1000, GID: 1000},
		{Path: "home/app/link", UID: 1000, GID: 7},
		{Path: "usr/helper", UID: 0, GID: 42},
		{Path: "big", UID: 5, GID: 5},
	}
	dir, err := ownersLayer(lower, scratch, tab)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		p        string
		uid, gid uint32
		mode     os.FileMode
	}{
		{".", 0, 0, os.ModeDir | 0o751},
		{"home", 0, 0, os.ModeDir | 0o755},
		{"home/app", 1000, 1000, os.ModeDir | 0o750},
		{"home/app/.profile", 1000, 1000, 0o600},
		{"usr", 0, 0, os.ModeDir | 0o711},
		{"usr/helper", 0, 42, 0o755 | os.ModeSetgid},
	} {
		fi, err := os.Lstat(filepath.Join(dir, c.p))
		if err != nil {
			t.Errorf("%s: %v", c.p, err)
			continue
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != c.uid || st.Gid != c.gid || fi.Mode() != c.mode || !fi.ModTime().Equal(old) {
			t.Errorf("%s: %d:%d %v %v, want %d:%d %v %v", c.p, st.Uid, st.Gid, fi.Mode(), fi.ModTime(), c.uid, c.gid, c.mode, old)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "home/app/.profile")); err != nil || string(b) != "export APP=1\n" {
		t.Errorf("the copy's bytes: %q, %v", b, err)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "home/app/link")); err != nil || fi.Sys().(*syscall.Stat_t).Gid != 7 {
		t.Errorf("the link: %v %+v", err, fi)
	}
	if _, err := os.Lstat(filepath.Join(dir, "big")); err == nil {
		t.Error("a file past the byte budget was copied")
	}
	for _, bad := range []string{"../x", "/etc/passwd", "a/../../b"} {
		if _, err := ownersLayer(lower, t.TempDir(), owners.Table{{Path: bad, UID: 1, GID: 1}}); err == nil {
			t.Errorf("the table path %q was taken", bad)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
