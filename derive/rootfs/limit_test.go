package rootfs

import (
	"archive/tar"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestContentLimit: layers whose files add up to more than the limit are
// refused by both writers before anything is written, whatever their
// compressed size (here a 1 GiB file of zeros, streamed); a hardlinked
// file counts once, and a file a later layer deletes does not count.
func TestContentLimit(t *testing.T) {
	const limit = 64 << 20
	bomb := []Layer{bigFileLayer(t, "zeros", 1<<30, []byte("HEAD"), []byte("TAIL"))}
	fits := append(layersOf(tarOf(t, ent{name: "a", body: "x"})), bigFileLayer(t, "half", limit/2+1, []byte("H"), []byte("T")))
	fits = append(fits, layersOf(tarOf(t, ent{name: "link", typ: tar.TypeLink, link: "half"}))...)
	deleted := append([]Layer{bigFileLayer(t, "gone", 2*limit, []byte("H"), []byte("T"))}, layersOf(tarOf(t, ent{name: ".wh.gone"}))...)
	writers := map[string]func(l []Layer, dst string) error{
		"ext4": func(l []Layer, dst string) error { return WriteExt4(l, dst, 0, limit) },
		"dir":  func(l []Layer, dst string) error { return WriteDir(l, dst, limit) },
	}
	for name, write := range writers {
		dst := filepath.Join(t.TempDir(), "out")
		if err := write(bomb, dst); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: 1 GiB of files under a 64 MB limit: %v", name, err)
		}
		if _, err := os.Lstat(dst); !os.IsNotExist(err) {
			t.Errorf("%s: something was written: %v", name, err)
		}
		for what, layers := range map[string][]Layer{"a hardlinked file": fits, "a deleted file": deleted} {
			dst := filepath.Join(t.TempDir(), "out")
			if err := write(layers, dst); err != nil {
				t.Errorf("%s: %s counted against the limit: %v", name, what, err)
			}
		}
	}
}
