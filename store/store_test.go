package store

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// open opens a store in a fresh temporary home, closed at cleanup.
func open(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		// Entries are read-only; let t.TempDir's cleanup remove them.
		filepath.Walk(s.Home(), func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	return s
}

// writeFile writes data to dir/name and returns the path.
func writeFile(t testing.TB, dir, name string, data []byte, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNix32(t *testing.T) {
	// Nix's base32 of the 20-byte all-zero and 0xff..0xff inputs, and a
	// known vector: nix32 of sha1("") in Nix is "3sc4zqzq1hwd2xfw4qrv4l3ayby8k0ny"
	// with Nix's own byte order; we check shape and alphabet here.
	for _, tc := range []struct {
		in   []byte
		want string
	}{
		{make([]byte, 20), strings.Repeat("0", 32)},
		{bytes.Repeat([]byte{0xff}, 20), strings.Repeat("z", 32)},
		{[]byte{0x01}, "01"},
		{[]byte{0x1f}, "0z"},
		{[]byte{0x20}, "10"},
	} {
		if got := nix32(tc.in); got != tc.want {
			t.Errorf("nix32(%x) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestHashText(t *testing.T) {
	h := HashBytes([]byte("silo"))
	p, err := ParseHash(h.String())
	if err != nil || p != h {
		t.Fatalf("ParseHash(%s) = %v, %v", h, p, err)
	}
	for _, bad := range []string{"", "blake3:", "sha256:" + strings.Repeat("0", 64), "blake3:" + strings.Repeat("g", 64)} {
		if _, err := ParseHash(bad); err == nil {
			t.Errorf("ParseHash(%q) succeeded", bad)
		}
	}
	if !(Hash{}).IsZero() || h.IsZero() {
		t.Error("IsZero is wrong")
	}
}

func TestAddNames(t *testing.T) {
	s := open(t)
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"python-3.12-slim-rootfs.ext4", true},
		{"a", true},
		{"", false},
		{"a/b", false},
		{"..", false},
		{"x..y", false},
		{".hidden", false},
		{"nul\x00", false},
		{"tab\there", false},
		{"esc\x1b[31m", false},
		{"del\x7f", false},
		{strings.Repeat("n", 201), false},
		{"bad\xffutf8", false},
	} {
		_, err := s.AddReader(strings.NewReader("x"), AddOptions{Name: tc.name})
		if (err == nil) != tc.ok {
			t.Errorf("AddReader name %q: err = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if !tc.ok && !errors.Is(err, ErrBadName) {
			t.Errorf("AddReader name %q: %v is not ErrBadName", tc.name, err)
		}
	}
}

func TestAddFileTwice(t *testing.T) {
	s := open(t)
	src := writeFile(t, t.TempDir(), "kernel", []byte("vmlinux bytes"), 0o755)
	e1, err := s.AddFile(src, AddOptions{Kind: KindKernel})
	if err != nil {
		t.Fatal(err)
	}
	if want := storeName(HashBytes([]byte("vmlinux bytes")), "kernel"); e1.Name != want {
		t.Fatalf("name %s, want %s", e1.Name, want)
	}
	fi, err := os.Stat(e1.Path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o555 {
		t.Errorf("mode %v, want r-xr-xr-x", fi.Mode())
	}
	metaFi, _ := os.Stat(s.metaPath(e1.Name))
	e2, err := s.AddFile(src, AddOptions{Kind: KindKernel})
	if err != nil {
		t.Fatal(err)
	}
	if e2.Path != e1.Path {
		t.Fatalf("second add gave %s, want %s", e2.Path, e1.Path)
	}
	fi2, _ := os.Stat(e1.Path)
	if !os.SameFile(fi, fi2) {
		t.Error("second add replaced the entry's file")
	}
	if metaFi2, _ := os.Stat(s.metaPath(e1.Name)); !os.SameFile(metaFi, metaFi2) {
		t.Error("second add rewrote the metadata")
	}
	got, err := os.ReadFile(e1.Path)
	if err != nil || string(got) != "vmlinux bytes" {
		t.Fatalf("content %q, %v", got, err)
	}
	if err := os.WriteFile(e1.Path, []byte("x"), 0o644); err == nil && os.Geteuid() != 0 {
		t.Error("entry is writable")
	}
}

func TestAddDirDeterministic(t *testing.T) {
	s := open(t)
	mk := func(order []string) string {
		d := t.TempDir()
		for _, n := range order {
			writeFile(t, d, n, []byte("content of "+n), 0o644)
		}
		if err := os.Symlink("a", filepath.Join(d, "link")); err != nil {
			t.Fatal(err)
		}
		writeFile(t, d, "bin/tool", []byte("#!/bin/sh\n"), 0o755)
		return d
	}
	a := mk([]string{"a", "sub/b", "sub/c"})
	b := mk([]string{"sub/c", "a", "sub/b"})
	ea, err := s.AddDir(a, AddOptions{Name: "tree", Kind: KindRootfs})
	if err != nil {
		t.Fatal(err)
	}
	tmpBefore, _ := os.Stat(filepath.Join(s.tmp, s.id))
	time.Sleep(20 * time.Millisecond) // past the filesystem's timestamp granularity
	eb, err := s.AddDir(b, AddOptions{Name: "tree", Kind: KindRootfs})
	if err != nil {
		t.Fatal(err)
	}
	// The second add found the tree by its hash and staged nothing.
	if tmpAfter, _ := os.Stat(filepath.Join(s.tmp, s.id)); !tmpAfter.ModTime().Equal(tmpBefore.ModTime()) {
		t.Error("adding a tree already in the store staged a copy")
	}
	if ea.Name != eb.Name || ea.ContentHash != eb.ContentHash {
		t.Fatalf("same tree, different entries: %s vs %s", ea.Name, eb.Name)
	}
	if target, err := os.Readlink(filepath.Join(ea.Path, "link")); err != nil || target != "a" {
		t.Errorf("symlink: %q %v", target, err)
	}
	fi, err := os.Stat(filepath.Join(ea.Path, "bin/tool"))
	if err != nil || fi.Mode().Perm() != 0o555 {
		t.Errorf("bin/tool mode %v %v, want 0555", fi.Mode(), err)
	}
	// A change of mode, content or name changes the hash.
	for _, change := range []func(d string){
		func(d string) { os.Chmod(filepath.Join(d, "a"), 0o755) },
		func(d string) { os.WriteFile(filepath.Join(d, "a"), []byte("other"), 0o644) },
		func(d string) { os.Rename(filepath.Join(d, "a"), filepath.Join(d, "z")) },
		func(d string) { os.Remove(filepath.Join(d, "link")); os.Symlink("b", filepath.Join(d, "link")) },
	} {
		c := mk([]string{"a", "sub/b", "sub/c"})
		change(c)
		ec, err := s.AddDir(c, AddOptions{Name: "tree", Kind: KindRootfs})
		if err != nil {
			t.Fatal(err)
		}
		if ec.ContentHash == ea.ContentHash {
			t.Error("a changed tree kept its hash")
		}
	}
}

func TestAddDirMoveKeepsModes(t *testing.T) {
	s := open(t)
	stage, err := s.MkTemp("build-")
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(stage, "rootfs")
	writeFile(t, root, "usr/bin/sudo", []byte("suid"), 0o755)
	os.Chmod(filepath.Join(root, "usr/bin/sudo"), os.ModeSetuid|0o755)
	writeFile(t, root, "etc/shadow", []byte("secret"), 0o640)
	e, err := s.AddDir(root, AddOptions{Name: "rootfs", Kind: KindRootfs, Move: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("Move left the source: %v", err)
	}
	for p, want := range map[string]os.FileMode{"usr/bin/sudo": 0o555 | os.ModeSetuid, "etc/shadow": 0o440, "usr": os.ModeDir | 0o555} {
		fi, err := os.Lstat(filepath.Join(e.Path, p))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
		}
	}
	// Copying the same tree gives the same entry.
	if e2, err := s.AddDir(e.Path, AddOptions{Name: "rootfs", Kind: KindRootfs}); err != nil || e2.Name != e.Name {
		t.Errorf("re-adding the entry: %v, %v", e2, err)
	}
}

func TestReferencesAndQueries(t *testing.T) {
	s := open(t)
	layer, err := s.AddReader(strings.NewReader("layer"), AddOptions{Name: "layer.tar", Kind: KindLayer})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddReader(strings.NewReader("x"), AddOptions{Name: "r", References: []string{storeName(HashBytes([]byte("nope")), "gone")}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing reference: %v", err)
	}
	drv := HashBytes([]byte("derivation"))
	rootfs, err := s.AddReader(strings.NewReader("layer"), AddOptions{Name: "rootfs.ext4", Kind: KindRootfs, Deriver: drv, References: []string{layer.Name}, Rebuildable: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rootfs.Name, PathHash(drv)+"-") {
		t.Errorf("derivation-addressed name %s", rootfs.Name)
	}
	if e, err := s.ByDeriver(drv); err != nil || e.Name != rootfs.Name {
		t.Errorf("ByDeriver: %v %v", e, err)
	}
	if _, err := s.ByDeriver(HashBytes([]byte("other"))); !errors.Is(err, ErrNotFound) {
		t.Errorf("ByDeriver(absent): %v", err)
	}
	byc, err := s.ByContent(HashBytes([]byte("layer")))
	if err != nil || len(byc) != 2 {
		t.Errorf("ByContent: %d entries, %v", len(byc), err)
	}
	if e, err := s.Get(filepath.Join(rootfs.Path)); err != nil || e.Name != rootfs.Name || e.References[0] != layer.Name {
		t.Errorf("Get(path): %+v %v", e, err)
	}
	if p, err := s.ByPrefix(rootfs.Name[:6]); err != nil || len(p) == 0 {
		t.Errorf("ByPrefix: %v %v", p, err)
	}
	if p, err := s.ByPrefix(layer.ContentHash.String()[:20]); err != nil || len(p) != 2 {
		t.Errorf("ByPrefix(content): %d %v", len(p), err)
	}
	if l, err := s.List(Filter{Kind: KindLayer}); err != nil || len(l) != 1 {
		t.Errorf("List(layer): %d %v", len(l), err)
	}
	for _, bad := range []string{"/etc/passwd", "nothash-x", s.Dir()} {
		if _, err := s.Get(bad); err == nil {
			t.Errorf("Get(%q) succeeded", bad)
		}
	}
	if _, err := s.Get(storeName(HashBytes(nil), "absent")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(absent): %v", err)
	}
	if err := s.SetRealisation("oci:sha256:abc", layer.Name); err != nil {
		t.Fatal(err)
	}
	if e, err := s.Realisation("oci:sha256:abc"); err != nil || e.Name != layer.Name {
		t.Errorf("Realisation: %v %v", e, err)
	}
	if _, err := s.Realisation("oci:sha256:def"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Realisation(absent): %v", err)
	}
}

func TestOpenReadOnlyAndNotADirectory(t *testing.T) {
	f := writeFile(t, t.TempDir(), "file", nil, 0o644)
	if _, err := Open(f); err == nil {
		t.Error("Open on a file succeeded")
	}
}

// truncated yields data, then fails as a cut-off download does.
type truncated struct{ data []byte }

func (r *truncated) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestAddReaderRefusesTruncatedStream(t *testing.T) {
	s := open(t)
	_, err := s.AddReader(&truncated{data: bytes.Repeat([]byte("x"), 3000)}, AddOptions{Name: "cut", Kind: KindLayer})
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("AddReader of a truncated stream: err = %v, want io.ErrUnexpectedEOF", err)
	}
	entries, err := s.List(Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("a failed add left %d entries: %v", len(entries), entries[0].Name)
	}
}

// TestByDeriverIndex finds a derivation's output through its index, by a
// scan when the index is lost, and not at all once GC has collected it.
func TestByDeriverIndex(t *testing.T) {
	s := open(t)
	drv := HashBytes([]byte("rootfs derivation"))
	e, err := s.AddReader(strings.NewReader("image"), AddOptions{Name: "rootfs.ext4", Kind: KindRootfs, Deriver: drv})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.realPath(deriverKey(drv))); err != nil {
		t.Fatalf("no index for the derivation: %v", err)
	}
	if got, err := s.ByDeriver(drv); err != nil || got.Name != e.Name {
		t.Fatalf("ByDeriver through the index = %v, %v", got, err)
	}
	if err := os.Remove(s.realPath(deriverKey(drv))); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ByDeriver(drv); err != nil || got.Name != e.Name {
		t.Fatalf("ByDeriver by scan = %v, %v", got, err)
	}
	if err := s.SetRealisation(deriverKey(drv), e.Name); err != nil {
		t.Fatal(err)
	}
	home := s.Home()
	s.Close()
	s2, err := Open(home)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.GC(GCOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, err := s2.ByDeriver(drv); !errors.Is(err, ErrNotFound) {
		t.Errorf("ByDeriver after GC = %v, %v; want ErrNotFound", got, err)
	}
	if _, err := os.Stat(s2.realPath(deriverKey(drv))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("GC left the index of a collected entry: %v", err)
	}
}

// TestReAddHealsALostEntry deletes an entry's data behind the store's
// back (a stray rm in the store directory): adding the same content again
// must put it back, not hand out a path that does not exist.
func TestReAddHealsALostEntry(t *testing.T) {
	for _, dir := range []bool{false, true} {
		s := open(t)
		src := writeFile(t, t.TempDir(), "f", []byte("lost and found"), 0o644)
		if dir {
			src = filepath.Dir(src)
		}
		add := s.AddFile
		if dir {
			add = s.AddDir
		}
		e1, err := add(src, AddOptions{Name: "x"})
		if err != nil {
			t.Fatal(err)
		}
		makeRemovable(e1.Path)
		if err := os.RemoveAll(e1.Path); err != nil {
			t.Fatal(err)
		}
		e2, err := add(src, AddOptions{Name: "x"})
		if err != nil {
			t.Fatalf("re-add of a lost entry: %v", err)
		}
		if e2.Name != e1.Name {
			t.Errorf("re-add named it %s, want %s", e2.Name, e1.Name)
		}
		if _, err := os.Lstat(e2.Path); err != nil {
			t.Fatalf("re-add returned a path that does not exist: %v", err)
		}
		if rep, err := s.Verify(nil, false); err != nil || len(rep.Problems) != 0 {
			t.Errorf("verify after healing: %+v, %v", rep, err)
		}
	}
}

// TestAddFileCopyAcrossFileSystems copies files from tmpfs, where the
// kernel's copy_file_range refuses to cross into the store's file system,
// and from the store's own file system, with data past a hole: each entry
// holds the source's bytes and their hash.
func TestAddFileCopyAcrossFileSystems(t *testing.T) {
	s := open(t)
	dirs := []string{t.TempDir()}
	if shm, err := os.MkdirTemp("/dev/shm", "silo-add-"); err == nil {
		t.Cleanup(func() { os.RemoveAll(shm) })
		dirs = append(dirs, shm)
	}
	for i, dir := range dirs {
		data := bytes.Repeat([]byte{byte('a' + i)}, 3<<20)
		p := filepath.Join(dir, "blob")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt(data, 5<<20); err != nil {
			t.Fatal(err)
		}
		f.Close()
		want, _ := os.ReadFile(p)
		e, err := s.AddFile(p, AddOptions{Name: "blob"})
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		got, err := os.ReadFile(e.Path)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: stored %d bytes (%v), want the source's %d", dir, len(got), err, len(want))
		}
		if e.Name != storeName(HashBytes(want), "blob") {
			t.Errorf("%s: name %s does not carry the content's hash", dir, e.Name)
		}
	}
}
