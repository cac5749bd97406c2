package store

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// archive builds a tree archive by hand.
func archive(build func(e *narEnc)) []byte {
	var b bytes.Buffer
	e := newNarEnc(&b, true)
	build(e)
	return b.Bytes()
}

func TestUnpackRefusesHostileArchives(t *testing.T) {
	file := func(e *narEnc, data string) {
		e.file(0o644, owner{}, int64(len(data)))
		e.raw([]byte(data))
	}
	for _, tc := range []struct {
		name  string
		build func(e *narEnc)
	}{
		{"dot-dot", func(e *narEnc) { e.dirStart(0o755, owner{}); e.child(".."); file(e, "x"); e.dirEnd() }},
		{"slash", func(e *narEnc) { e.dirStart(0o755, owner{}); e.child("../../evil"); file(e, "x"); e.dirEnd() }},
		{"empty name", func(e *narEnc) { e.dirStart(0o755, owner{}); e.child(""); file(e, "x"); e.dirEnd() }},
		{"duplicate", func(e *narEnc) {
			e.dirStart(0o755, owner{})
			e.child("a")
			file(e, "x")
			e.child("a")
			file(e, "y")
			e.dirEnd()
		}},
		{"unsorted", func(e *narEnc) {
			e.dirStart(0o755, owner{})
			e.child("b")
			file(e, "x")
			e.child("a")
			file(e, "y")
			e.dirEnd()
		}},
		{"top is a file", func(e *narEnc) { file(e, "x") }},
		{"truncated", func(e *narEnc) {
			e.dirStart(0o755, owner{})
			e.child("a")
			e.file(0o644, owner{}, 100)
			e.raw([]byte("short"))
		}},
		{"huge size", func(e *narEnc) { e.dirStart(0o755, owner{}); e.child("a"); e.file(0o644, owner{}, 1<<63-1) }},
		{"bad tag", func(e *narEnc) { e.dirStart(0o755, owner{}); e.raw([]byte{'?'}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			dst := filepath.Join(base, "out", "tree")
			os.MkdirAll(filepath.Dir(dst), 0o755)
			_, _, err := unpackTree(bytes.NewReader(archive(tc.build)), dst)
			if err == nil {
				t.Fatal("unpacked a hostile archive")
			}
			if _, err := os.Lstat(filepath.Join(base, "evil")); err == nil {
				t.Fatal("wrote outside the destination")
			}
		})
	}
	if _, _, err := unpackTree(strings.NewReader("not an archive at all"), ""); err == nil {
		t.Error("accepted a bad magic")
	}
}

// TestTreeSymlinksStaySymlinks: links inside a tree, to directories and
// outside the tree, are stored as links and never followed.
func TestTreeSymlinksStaySymlinks(t *testing.T) {
	s := open(t)
	outside := t.TempDir()
	writeFile(t, outside, "secret", []byte("secret"), 0o600)
	tree := t.TempDir()
	os.Symlink(outside, filepath.Join(tree, "out"))
	os.Symlink("/etc/passwd", filepath.Join(tree, "passwd"))
	e, err := s.AddDir(tree, AddOptions{Name: "links"})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"out", "passwd"} {
		fi, err := os.Lstat(filepath.Join(e.Path, n))
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s: %v %v", n, fi.Mode(), err)
		}
	}
	if e.Size != 0 {
		t.Errorf("link targets were read: %d bytes", e.Size)
	}
}

// FuzzUnpackTree: no archive makes the decoder panic or allocate without
// bound; it only hashes here (no destination).
func FuzzUnpackTree(f *testing.F) {
	f.Add(archive(func(e *narEnc) {
		e.dirStart(0o755, owner{1, 2, 3})
		e.child("a")
		e.file(0o644, owner{}, 3)
		e.raw([]byte("abc"))
		e.child("l")
		e.symlink("a", owner{})
		e.child("p")
		e.special(tagFifo, 0o644, owner{}, 0)
		e.dirEnd()
	}))
	f.Add([]byte(narMagic + "d\x00\x00\x00\x00E"))
	f.Fuzz(func(t *testing.T, b []byte) {
		unpackTree(bytes.NewReader(b), "")
	})
}
