//go:build linux

package agent

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestLayerWriterNormalizes writes an overlay-like upper directory and
// checks the layer: sorted entries, mtimes clamped to the epoch, numeric
// owners, a whiteout for a 0/0 character device, an opaque marker, hard
// links, skipped paths left out, and the same bytes twice.
func TestLayerWriterNormalizes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for mknod and trusted xattrs")
	}
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "opt/b"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "opt/b/z"), []byte("z"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "opt/a"), []byte("a"), 0o755))
	must(os.Link(filepath.Join(dir, "opt/a"), filepath.Join(dir, "opt/a2")))
	must(os.Symlink("a", filepath.Join(dir, "opt/link")))
	must(os.MkdirAll(filepath.Join(dir, "workspace/x"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, "tmp"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "tmp/scratch"), []byte("t"), 0o644))
	if err := unix.Mknod(filepath.Join(dir, "opt/gone"), unix.S_IFCHR, 0); err != nil {
		t.Skipf("mknod: %v", err)
	}
	if err := unix.Setxattr(filepath.Join(dir, "opt/b"), "trusted.overlay.opaque", []byte("y"), 0); err != nil {
		t.Skipf("trusted xattr: %v", err)
	}
	future := time.Now().Add(time.Hour)
	must(os.Chtimes(filepath.Join(dir, "opt/a"), future, future))
	const epoch = 315532800
	write := func() []byte {
		var buf bytes.Buffer
		w := newLayerWriter(&buf, epoch)
		must(w.tree(dir, "", []string{"tmp", "workspace"}, true))
		must(w.tw.Close())
		return buf.Bytes()
	}
	b := write()
	if !bytes.Equal(b, write()) {
		t.Error("the same tree captured twice differs")
	}
	tr := tar.NewReader(bytes.NewReader(b))
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(err)
		names = append(names, h.Name)
		if h.ModTime.Unix() > epoch {
			t.Errorf("%s: mtime %v after the epoch", h.Name, h.ModTime)
		}
		if h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: owner names %q %q", h.Name, h.Uname, h.Gname)
		}
		switch h.Name {
		case "opt/a2":
			if h.Typeflag != tar.TypeLink || h.Linkname != "opt/a" {
				t.Errorf("hard link: %c %q", h.Typeflag, h.Linkname)
			}
		case "opt/a":
			if h.Mode&0o111 == 0 {
				t.Errorf("opt/a lost its executable bit")
			}
		}
	}
	want := []string{"opt/", "opt/a", "opt/a2", "opt/b/", "opt/b/.wh..wh..opq", "opt/b/z", "opt/.wh.gone", "opt/link"}
	if len(names) != len(want) {
		t.Fatalf("entries %q, want %q", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("entries %q, want %q", names, want)
		}
	}
}
