package store

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func blocks(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Blocks * 512
}

func TestCompressRoundTrip(t *testing.T) {
	s := open(t)
	src := t.TempDir()
	// A sparse 64 MiB file with 512 KiB of data in the middle.
	sparse := filepath.Join(src, "disk.img")
	f, _ := os.Create(sparse)
	f.WriteAt(bytes.Repeat([]byte("data"), 128<<10), 32<<20)
	f.Truncate(64 << 20)
	f.Close()
	file, err := s.AddFile(sparse, AddOptions{Kind: KindRootfs})
	if err != nil {
		t.Fatal(err)
	}
	if file.DiskSize > 1<<20 || file.Size != 64<<20 {
		t.Fatalf("sparse file stored as %d bytes on disk, %d apparent", file.DiskSize, file.Size)
	}
	tree := filepath.Join(src, "tree")
	writeFile(t, tree, "bin/tool", []byte("#!/bin/sh\necho hi\n"), 0o755)
	writeFile(t, tree, "etc/conf", bytes.Repeat([]byte("conf "), 10000), 0o640)
	os.Chmod(filepath.Join(tree, "bin/tool"), os.ModeSetuid|0o755)
	os.Symlink("../bin/tool", filepath.Join(tree, "etc/link"))
	os.Symlink("/nonexistent/dangling", filepath.Join(tree, "dangling"))
	os.Mkdir(filepath.Join(tree, "empty"), 0o700)
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	os.Chtimes(filepath.Join(tree, "etc/conf"), mtime, mtime)
	dir, err := s.AddDir(tree, AddOptions{Kind: KindRootfs})
	if err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s) // nothing holds them now
	rep, err := s.Compress(CompressOptions{DryRun: true})
	if err != nil || len(rep.Entries) != 0 {
		t.Fatalf("dry run of fresh entries: %+v %v", rep, err)
	}
	rep, err = s.Compress(CompressOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Entries) != 2 || rep.Saved <= 0 {
		t.Fatalf("compress: %+v", rep)
	}
	for _, e := range []*Entry{file, dir} {
		got, err := s.Get(e.Name)
		if err != nil || !got.Compressed || got.ContentHash != e.ContentHash {
			t.Fatalf("after compress: %+v %v", got, err)
		}
		if _, err := os.Lstat(e.Path); !os.IsNotExist(err) {
			t.Errorf("%s: raw form still there", e.Name)
		}
	}
	if r, err := s.Verify(nil, false); err != nil || !r.OK() {
		t.Fatalf("verify compressed: %+v %v", r, err)
	}
	dr, err := s.Report()
	if err != nil || dr.Total.Compressed != 2 || dr.Saved <= 0 {
		t.Fatalf("report: %+v %v", dr, err)
	}
	// Use brings them back, byte for byte, mode for mode, holes and all.
	for _, e := range []*Entry{file, dir} {
		u, err := s.Use(e.Name)
		if err != nil {
			t.Fatal(err)
		}
		if u.Compressed || u.Path != e.Path {
			t.Errorf("Use: %+v", u)
		}
	}
	if b := blocks(t, file.Path); b > 1<<20 {
		t.Errorf("decompressed sparse file takes %d bytes on disk", b)
	}
	data, _ := os.ReadFile(file.Path)
	orig, _ := os.ReadFile(sparse)
	if !bytes.Equal(data, orig) {
		t.Error("decompressed file differs")
	}
	checks := map[string]os.FileMode{"bin/tool": 0o555 | os.ModeSetuid, "etc/conf": 0o440, "empty": os.ModeDir | 0o500, "": os.ModeDir | 0o555}
	for p, want := range checks {
		fi, err := os.Lstat(filepath.Join(dir.Path, p))
		if err != nil || fi.Mode() != want {
			t.Errorf("%s: %v %v, want %v", p, fi.Mode(), err, want)
		}
	}
	if l, _ := os.Readlink(filepath.Join(dir.Path, "etc/link")); l != "../bin/tool" {
		t.Errorf("symlink %q", l)
	}
	if l, _ := os.Readlink(filepath.Join(dir.Path, "dangling")); l != "/nonexistent/dangling" {
		t.Errorf("dangling symlink %q", l)
	}
	if fi, _ := os.Stat(filepath.Join(dir.Path, "etc/conf")); !fi.ModTime().Equal(mtime) {
		t.Errorf("mtime %v, want %v", fi.ModTime(), mtime)
	}
	if r, err := s.Verify(nil, false); err != nil || !r.OK() {
		t.Fatalf("verify after decompress: %+v %v", r, err)
	}
	// In use now (held by this handle): compress skips them.
	rep, err = s.Compress(CompressOptions{All: true})
	if err != nil || len(rep.Entries) != 0 || len(rep.Skipped) != 2 {
		t.Errorf("compress of held entries: %+v %v", rep, err)
	}
}

func TestCompressedCorruptBlob(t *testing.T) {
	s := open(t)
	e := addN(t, s, "x", string(bytes.Repeat([]byte("abc"), 10000)), AddOptions{})
	s = reopen(t, s)
	if _, err := s.Compress(CompressOptions{Names: []string{e.Name}}); err != nil {
		t.Fatal(err)
	}
	zp := s.zstPath(e.Name)
	b, _ := os.ReadFile(zp)
	os.Chmod(zp, 0o644)
	os.WriteFile(zp, b[:len(b)-4], 0o444)
	if _, err := s.Use(e.Name); err == nil {
		t.Fatal("Use of a truncated compressed entry succeeded")
	}
	r, err := s.Verify(nil, false)
	if err != nil || r.OK() || r.Problems[0].Kind != ProblemCorrupt {
		t.Fatalf("verify: %+v %v", r, err)
	}
}

// TestAddOverCompressed: adding content whose entry is compressed gives
// back a readable entry, whichever way the add finds it.
func TestAddOverCompressed(t *testing.T) {
	s := open(t)
	data := bytes.Repeat([]byte("compressible "), 10000)
	src := writeFile(t, t.TempDir(), "f", data, 0o644)
	drv := HashBytes([]byte("drv"))
	ca, err := s.AddFile(src, AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	da, err := s.AddReader(bytes.NewReader(data), AddOptions{Name: "out", Deriver: drv})
	if err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s)
	if r, err := s.Compress(CompressOptions{All: true}); err != nil || len(r.Entries) != 2 {
		t.Fatalf("compress: %+v %v", r, err)
	}
	for _, add := range []func() (*Entry, error){
		func() (*Entry, error) { return s.AddFile(src, AddOptions{}) },                              // pre-hash hit
		func() (*Entry, error) { return s.AddReader(bytes.NewReader(data), AddOptions{Name: "f"}) }, // commit hit
		func() (*Entry, error) {
			return s.AddReader(bytes.NewReader(data), AddOptions{Name: "out", Deriver: drv})
		}, // deriver hit
	} {
		e, err := add()
		if err != nil {
			t.Fatal(err)
		}
		if e.Name != ca.Name && e.Name != da.Name {
			t.Fatalf("got %s", e.Name)
		}
		got, err := os.ReadFile(e.Path)
		if err != nil || !bytes.Equal(got, data) || e.Compressed {
			t.Fatalf("%s after add: %v compressed=%v", e.Name, err, e.Compressed)
		}
	}
	// Compress again and hit the commit path (AddReader has no pre-hash).
	s = reopen(t, s)
	if _, err := s.Compress(CompressOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	e, err := s.AddReader(bytes.NewReader(data), AddOptions{Name: "f"})
	if err != nil || e.Compressed {
		t.Fatalf("commit over compressed: %+v %v", e, err)
	}
	if got, _ := os.ReadFile(e.Path); !bytes.Equal(got, data) {
		t.Fatal("restored content differs")
	}
	if r, err := s.Verify(nil, false); err != nil || !r.OK() {
		t.Fatalf("verify: %+v %v", r, err)
	}
}
