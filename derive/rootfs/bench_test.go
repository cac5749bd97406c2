package rootfs

import (
	"archive/tar"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// benchLayers writes 5 gzip layers to dir, each with a 16 MiB file of
// incompressible bytes and 256 small text files (~100 MB in all).
func benchLayers(b *testing.B, dir string) ([]Layer, int64) {
	rng := rand.New(rand.NewPCG(5, 6))
	var layers []Layer
	var total int64
	for i := range 5 {
		p := filepath.Join(dir, fmt.Sprintf("layer%d.tar.gz", i))
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
		tw := tar.NewWriter(zw)
		big := make([]byte, 16<<20)
		for j := 0; j+8 <= len(big); j += 8 {
			binary.LittleEndian.PutUint64(big[j:], rng.Uint64())
		}
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("l%d/blob", i), Mode: 0o644, Size: int64(len(big))})
		tw.Write(big)
		total += int64(len(big))
		for j := range 256 {
			small := make([]byte, 4096+rng.IntN(16384))
			for k := range small {
				small[k] = byte('a' + rng.IntN(8))
			}
			tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("l%d/f%03d", i, j), Mode: 0o644, Size: int64(len(small))})
			tw.Write(small)
			total += int64(len(small))
		}
		tw.Close()
		zw.Close()
		f.Close()
		layers = append(layers, Layer{Name: p, Open: func() (io.ReadCloser, error) {
			f, err := os.Open(p)
			if err != nil {
				return nil, err
			}
			zr, err := gzip.NewReader(f)
			if err != nil {
				f.Close()
				return nil, err
			}
			return struct {
				io.Reader
				io.Closer
			}{zr, f}, nil
		}})
	}
	return layers, total
}

// BenchmarkWriteExt4 merges ~100 MB of layers into an ext4 image.
func BenchmarkWriteExt4(b *testing.B) {
	dir := b.TempDir()
	layers, total := benchLayers(b, dir)
	b.SetBytes(total)
	i := 0
	for b.Loop() {
		out := filepath.Join(dir, fmt.Sprintf("out%d.ext4", i))
		i++
		if err := WriteExt4(layers, out, 0, 0); err != nil {
			b.Fatal(err)
		}
		os.Remove(out)
	}
}

// BenchmarkWriteDir merges the same layers into a directory.
func BenchmarkWriteDir(b *testing.B) {
	dir := b.TempDir()
	layers, total := benchLayers(b, dir)
	b.SetBytes(total)
	i := 0
	for b.Loop() {
		out := filepath.Join(dir, fmt.Sprintf("out%d", i))
		i++
		if err := WriteDir(layers, out, 0); err != nil {
			b.Fatal(err)
		}
		RemoveTree(out)
	}
}
