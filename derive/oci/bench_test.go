package oci

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// BenchmarkPull pulls a 5-layer, ~80 MB image of incompressible data from
// a loopback registry into a fresh store, in process.
func BenchmarkPull(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	var layers []v1.Layer
	var total int64
	for range 5 {
		big := make([]byte, 16<<20)
		for j := 0; j+8 <= len(big); j += 8 {
			binary.LittleEndian.PutUint64(big[j:], rng.Uint64())
		}
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: "blob", Mode: 0o644, Size: int64(len(big))})
		tw.Write(big)
		tw.Close()
		raw := buf.Bytes()
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil })
		if err != nil {
			b.Fatal(err)
		}
		n, _ := l.Size()
		total += n
		layers = append(layers, l)
	}
	reg := startRegistry(b)
	ref := reg.push(b, "bench", imageOf(b, "amd64", layers...))
	b.SetBytes(total)
	for b.Loop() {
		b.StopTimer()
		st := openStore(b)
		b.StartTimer()
		if _, err := Pull(context.Background(), st, ref, Options{Platform: amd64}); err != nil {
			b.Fatal(err)
		}
	}
}
