package rootfs

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// stackLayers is a three-layer stack exercising whiteouts, opaque
// directories, hardlinks, symlinks, ownership, setuid and xattrs.
func stackLayers(t testing.TB) []Layer {
	l1 := tarOf(t,
		ent{name: "bin/", typ: tar.TypeDir, mode: 0o755},
		ent{name: "bin/tool", mode: 0o755, body: "tool v1"},
		ent{name: "bin/su", mode: 0o4755, body: "setuid"},
		ent{name: "bin/sh", typ: tar.TypeSymlink, link: "tool"},
		ent{name: "etc/", typ: tar.TypeDir, mode: 0o755},
		ent{name: "etc/gone", body: "deleted by layer 2"},
		ent{name: "etc/kept", body: "kept"},
		ent{name: "opq/", typ: tar.TypeDir, mode: 0o755},
		ent{name: "opq/old", body: "hidden by opaque"},
		ent{name: "opq/sub/", typ: tar.TypeDir},
		ent{name: "opq/sub/deep", body: "hidden too"},
		ent{name: "data/", typ: tar.TypeDir, mode: 0o750, uid: 1000, gid: 1000},
		ent{name: "data/orig", body: "shared inode", uid: 1000, gid: 1000, mode: 0o640},
		ent{name: "data/alias", typ: tar.TypeLink, link: "data/orig"},
		ent{name: "data/replaced", body: "v1"},
		ent{name: "data/keeps-v1", typ: tar.TypeLink, link: "data/replaced"},
		ent{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
	)
	l2 := tarOf(t,
		ent{name: "etc/.wh.gone", body: ""},
		ent{name: "opq/new", body: "same layer as the opaque marker"},
		ent{name: "opq/.wh..wh..opq", body: ""},
		ent{name: "bin/tool", mode: 0o755, body: "tool v2"},
		ent{name: "data/replaced", body: "v2"},
		ent{name: "caps", body: "x", xattrs: map[string]string{"user.silo": "yes"}},
	)
	l3 := tarOf(t,
		ent{name: "etc/gone", typ: tar.TypeDir, mode: 0o700},
		ent{name: "etc/.wh.kept", body: ""},
		ent{name: "etc/kept/", typ: tar.TypeDir, mode: 0o711, uid: 7, gid: 8},
	)
	return layersOf(l1, l2, l3)
}

func TestWriteExt4Stack(t *testing.T) {
	img := filepath.Join(t.TempDir(), "rootfs.ext4")
	if err := WriteExt4(stackLayers(t), img, 0, 0); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("e2fsck", "-fn", img).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck finds the image damaged: %v\n%s", err, out)
	}
	for _, c := range []struct {
		path     string
		exists   bool
		mode     int64
		uid, gid int
	}{
		{"/bin/su", true, 0o104755, 0, 0},
		{"/bin/tool", true, 0o100755, 0, 0},
		{"/etc/kept", true, 0o40711, 7, 8},
		{"/etc/gone", true, 0o40700, 0, 0},
		{"/opq/old", false, 0, 0, 0},
		{"/opq/sub", false, 0, 0, 0},
		{"/opq/new", true, 0o100644, 0, 0},
		{"/data", true, 0o40750, 1000, 1000},
		{"/data/orig", true, 0o100640, 1000, 1000},
		{"/tmp", true, 0o41777, 0, 0},
	} {
		in := debugfsStat(t, img, c.path)
		if in.exists != c.exists {
			t.Errorf("%s: exists=%v, want %v", c.path, in.exists, c.exists)
			continue
		}
		if c.exists && (in.mode != c.mode || in.uid != c.uid || in.gid != c.gid) {
			t.Errorf("%s: mode %o uid %d gid %d, want %o %d %d", c.path, in.mode, in.uid, in.gid, c.mode, c.uid, c.gid)
		}
	}
	if got := debugfsStat(t, img, "/bin/sh").linkTarget; got != "tool" {
		t.Errorf("/bin/sh -> %q, want tool", got)
	}
	for path, want := range map[string]string{"/bin/tool": "tool v2", "/data/replaced": "v2", "/data/keeps-v1": "v1", "/data/alias": "shared inode"} {
		if got := debugfsCat(t, img, path); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if a, b := debugfsInode(t, img, "/data/alias"), debugfsInode(t, img, "/data/orig"); a != b {
		t.Errorf("hardlink lost: /data/alias inode %s, /data/orig inode %s", a, b)
	}
	out, _ := exec.Command("debugfs", "-R", "ea_list /caps", img).Output()
	if !strings.Contains(string(out), "user.silo") {
		t.Errorf("xattr user.silo lost: %s", out)
	}
}

func TestWriteExt4Reproducible(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.ext4"), filepath.Join(dir, "b.ext4")
	zeros := tarOf(t, ent{name: "zeros", body: strings.Repeat("\x00", 4<<20)}, ent{name: "tail", body: "end"})
	layers := append(stackLayers(t), layersOf(zeros)...)
	if err := WriteExt4(layers, a, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := WriteExt4(layers, b, 0, 0); err != nil {
		t.Fatal(err)
	}
	if got := debugfsCat(t, a, "/zeros"); got != strings.Repeat("\x00", 4<<20) {
		t.Fatalf("/zeros reads back as %d bytes, not 4 MiB of zeros", len(got))
	}
	ab, _ := os.ReadFile(a)
	bb, _ := os.ReadFile(b)
	if len(ab) == 0 || !bytes.Equal(ab, bb) {
		t.Fatalf("same layers gave different images (%d and %d bytes)", len(ab), len(bb))
	}
	var st syscall.Stat_t
	if err := syscall.Stat(a, &st); err != nil {
		t.Fatal(err)
	}
	if st.Blocks*512 >= st.Size/2 {
		t.Errorf("image is not sparse: %d bytes on disk for %d", st.Blocks*512, st.Size)
	}
}

func TestWriteDirStack(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "root")
	if err := WriteDir(stackLayers(t), dst, 0); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{
		"bin/su":    0o755 | os.ModeSetuid,
		"bin/sh":    os.ModeSymlink | 0o777,
		"etc/kept":  os.ModeDir | 0o711,
		"etc/gone":  os.ModeDir | 0o700,
		"tmp":       os.ModeDir | 0o777 | os.ModeSticky,
		"data/orig": 0o640,
	} {
		fi, err := os.Lstat(filepath.Join(dst, path))
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
		}
		if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != os.Getuid() {
			t.Errorf("%s: owner %d, want the invoking user %d", path, st.Uid, os.Getuid())
		}
	}
	for _, gone := range []string{"opq/old", "opq/sub", "etc/kept/x"} {
		if _, err := os.Lstat(filepath.Join(dst, gone)); !os.IsNotExist(err) {
			t.Errorf("%s should not exist: %v", gone, err)
		}
	}
	a, _ := os.Stat(filepath.Join(dst, "data/alias"))
	o, _ := os.Stat(filepath.Join(dst, "data/orig"))
	if !os.SameFile(a, o) {
		t.Error("data/alias is not a hardlink of data/orig")
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "data/keeps-v1")); string(b) != "v1" {
		t.Errorf("data/keeps-v1 = %q, want v1", b)
	}
}

// TestUnsafeLayers feeds each layer silo must refuse to both writers and
// checks the error and that nothing is left behind.
func TestUnsafeLayers(t *testing.T) {
	corruptGzip := func() []Layer {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(tarOf(t, ent{name: "a", body: strings.Repeat("x", 10000)}))
		zw.Close()
		b := buf.Bytes()
		b[len(b)/2] ^= 0xff
		return []Layer{{Name: "corrupt", Open: func() (io.ReadCloser, error) {
			return gzip.NewReader(bytes.NewReader(b))
		}}}
	}
	cases := []struct {
		name   string
		layers []Layer
		want   string
		unsafe bool
	}{
		{"dotdot", layersOf(tarOf(t, ent{name: "../escape", body: "x"})), `".." in path`, true},
		{"dotdot inside", layersOf(tarOf(t, ent{name: "a/../../escape", body: "x"})), `".." in path`, true},
		{"absolute", layersOf(tarOf(t, ent{name: "/etc/passwd", body: "x"})), "absolute path", true},
		{"write through symlink", layersOf(tarOf(t,
			ent{name: "evil", typ: tar.TypeSymlink, link: "/etc"},
			ent{name: "evil/passwd", body: "x"})), "is a symlink", true},
		{"write through symlink from lower layer", layersOf(
			tarOf(t, ent{name: "evil", typ: tar.TypeSymlink, link: "../../.."}),
			tarOf(t, ent{name: "evil/x", body: "x"})), "is a symlink", true},
		{"hardlink outside", layersOf(tarOf(t, ent{name: "h", typ: tar.TypeLink, link: "../../etc/shadow"})), "points outside", true},
		{"hardlink absolute", layersOf(tarOf(t, ent{name: "h", typ: tar.TypeLink, link: "/etc/shadow"})), "points outside", true},
		{"hardlink missing", layersOf(tarOf(t, ent{name: "h", typ: tar.TypeLink, link: "nothere"})), "not in the image", true},
		{"hardlink through symlink", layersOf(tarOf(t,
			ent{name: "s", typ: tar.TypeSymlink, link: "/etc"},
			ent{name: "h", typ: tar.TypeLink, link: "s/shadow"})), "through the symlink", true},
		{"unknown entry type", layersOf(tarOf(t, ent{name: "odd", typ: 'Z'})), "unsupported tar entry type", true},
		{"declared size larger than data", layersOf(tarOf(t, ent{name: "big", body: "short", size: 1 << 20})), "truncated or corrupt", false},
		{"corrupt gzip", corruptGzip(), "truncated or corrupt", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, w := range []struct {
				name  string
				write func(string) error
			}{
				{"ext4", func(dst string) error { return WriteExt4(c.layers, dst, 0, 0) }},
				{"dir", func(dst string) error { return WriteDir(c.layers, dst, 0) }},
			} {
				dst := filepath.Join(dir, w.name)
				err := w.write(dst)
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("%s: error %v, want one saying %q", w.name, err, c.want)
				}
				if errors.Is(err, ErrUnsafe) != c.unsafe {
					t.Errorf("%s: errors.Is(err, ErrUnsafe) = %v, want %v", w.name, !c.unsafe, c.unsafe)
				}
				if _, err := os.Lstat(dst); !os.IsNotExist(err) {
					t.Errorf("%s: output left behind after a refused layer: %v", w.name, err)
				}
			}
			if _, err := os.Lstat(filepath.Join(filepath.Dir(dir), "escape")); err == nil {
				t.Error("a file escaped the output directory")
			}
		})
	}
}

// TestWriteExt4SizeCap: content larger than the size policy's cap is a
// clear error and leaves no image behind.
func TestWriteExt4SizeCap(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "small.ext4")
	big := layersOf(tarOf(t, ent{name: "big", body: strings.Repeat("x", 4<<20)}))
	err := WriteExt4(big, dst, 1<<20, 0)
	if err == nil || !strings.Contains(err.Error(), "size limit") {
		t.Fatalf("4 MiB into a 1 MiB cap: %v", err)
	}
	if _, err := os.Lstat(dst); !os.IsNotExist(err) {
		t.Errorf("image left behind: %v", err)
	}
	if err := WriteExt4(big, dst, 64<<20, 0); err != nil {
		t.Fatalf("4 MiB into a 64 MiB cap: %v", err)
	}
}
