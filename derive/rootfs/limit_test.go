package rootfs

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestContentLimit: layers whose files add up to more than the limit are
// refused by both writers before anything is written, whatever their
// compressed size (here a 1 GiB file of zeros, streamed); a hardlinked
// file counts once, and a file a later layer replaces does not count.
func TestContentLimit(t *testing.T) {
	const limit = 64 << 20
	bomb := []Layer{bigFileLayer(t, "zeros", 1<<30, []byte("HEAD"), []byte("TAIL"))}
	fits := append(layersOf(tarOf(t, ent{name: "a", body: "x"})), bigFileLayer(t, "half", limit/2+1, []byte("H"), []byte("T")))
	fits = append(fits, layersOf(tarOf(t, ent{name: "link", typ: tar.TypeLink, link: "half"}))...)
	// Each layer fits; together they would not, but the second replaces
	// the first's file.
	deleted := []Layer{bigFileLayer(t, "gone", limit*3/4, []byte("H"), []byte("T")), bigFileLayer(t, "gone", limit*3/4, []byte("h"), []byte("t"))}
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
		for what, layers := range map[string][]Layer{"a hardlinked file": fits, "a replaced file": deleted} {
			dst := filepath.Join(t.TempDir(), "out")
			if err := write(layers, dst); err != nil {
				t.Errorf("%s: %s counted against the limit: %v", name, what, err)
			}
		}
	}
}

// countingLayer counts the bytes its reader hands out.
type countingLayer struct {
	io.Reader
	n *int64
}

func (c countingLayer) Read(p []byte) (int, error) {
	n, err := c.Reader.Read(p)
	*c.n += int64(n)
	return n, err
}

func (c countingLayer) Close() error { return nil }

// TestContentLimitStopsEarly: a layer that declares a terabyte of zeros is
// refused from its header, after reading a few KB of it, not after
// decompressing the terabyte.
func TestContentLimitStopsEarly(t *testing.T) {
	big := bigFileLayer(t, "zeros", 1<<40, []byte("HEAD"), []byte("TAIL"))
	var read int64
	layer := Layer{Name: "bomb", Open: func() (io.ReadCloser, error) {
		rc, err := big.Open()
		return countingLayer{Reader: rc, n: &read}, err
	}}
	err := WriteDir([]Layer{layer}, filepath.Join(t.TempDir(), "out"), 64<<20)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a layer declaring 1 TiB under a 64 MB limit: %v", err)
	}
	if read > 1<<20 {
		t.Errorf("read %d bytes of the layer before refusing it", read)
	}
}
