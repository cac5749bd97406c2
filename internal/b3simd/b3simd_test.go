package b3simd

import (
	"math/rand/v2"
	"testing"

	"lukechampine.com/blake3/guts"
)

// want is the top node of the subtree the reference implementation
// computes: 64 calls of guts.CompressBuffer (16 chunks each), merged as
// blake3.Hasher merges.
func want(data *[SubtreeSize]byte, base uint64) guts.Node {
	const group = guts.MaxSIMD * guts.ChunkSize
	cvs := make([][8]uint32, 0, SubtreeSize/group)
	for off := 0; off < SubtreeSize; off += group {
		n := guts.CompressBuffer((*[group]byte)(data[off:off+group]), group, &guts.IV, base+uint64(off/guts.ChunkSize), 0)
		cvs = append(cvs, guts.ChainingValue(n))
	}
	for len(cvs) > 2 {
		next := cvs[:0:0]
		for i := 0; i < len(cvs); i += 2 {
			next = append(next, guts.ChainingValue(guts.ParentNode(cvs[i], cvs[i+1], &guts.IV, 0)))
		}
		cvs = next
	}
	return guts.ParentNode(cvs[0], cvs[1], &guts.IV, 0)
}

func TestSubtree(t *testing.T) {
	if !Available {
		t.Skip("no AVX-512 here: callers use lukechampine.com/blake3")
	}
	data := new([SubtreeSize]byte)
	r := rand.New(rand.NewPCG(1, 2))
	// Bases above 2^32 chunks exercise the counter's high word.
	for _, base := range []uint64{0, 1024, 7 << 10, 1 << 32, 3<<32 + 5<<10, 1<<42 - 1024} {
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		if got, want := Subtree(data, base), want(data, base); got != want {
			t.Fatalf("base %d: node %+v, want %+v", base, got, want)
		}
	}
	// A one-bit change anywhere must change the node: every lane, chunk
	// and block position reaches the result.
	ref := Subtree(data, 0)
	for _, off := range []int{0, 63, 64, 1023, 1024, 65535, 65536, 512 << 10, SubtreeSize - 1} {
		data[off] ^= 1
		if Subtree(data, 0) == ref {
			t.Errorf("flipping a bit at %d left the node unchanged", off)
		}
		if got, want := Subtree(data, 0), want(data, 0); got != want {
			t.Fatalf("flip at %d: node differs from the reference", off)
		}
		data[off] ^= 1
	}
}

func BenchmarkSubtree(b *testing.B) {
	if !Available {
		b.Skip("no AVX-512")
	}
	data := new([SubtreeSize]byte)
	b.SetBytes(SubtreeSize)
	for b.Loop() {
		Subtree(data, 0)
	}
}

func BenchmarkReference(b *testing.B) {
	data := new([SubtreeSize]byte)
	b.SetBytes(SubtreeSize)
	for b.Loop() {
		want(data, 0)
	}
}
