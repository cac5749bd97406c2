//go:build amd64 && !purego

package b3simd

import (
	"golang.org/x/sys/cpu"
	"lukechampine.com/blake3/guts"
)

// Available reports whether Subtree can run here.
var Available = cpu.X86.HasAVX512F

// params is what the chunk kernel reads; gen/main.go has its offsets.
type params struct {
	ctrLo, ctrHi [lanes]uint32 // each lane's chunk counter
	flags        [16]uint32    // the flags of each of a chunk's 16 blocks
	key          [8]uint32
	stride       uint64 // bytes from one lane's chunk to the next lane's
}

//go:noescape
func chunks16(out *[8][16]uint32, in *byte, p *params)

//go:noescape
func parents16(out, left, right *[8][16]uint32, key *[8]uint32, flags uint32)

// Subtree returns the top node, not yet compressed, of the BLAKE3 subtree
// whose bytes are data and whose first chunk has index base, a multiple
// of 1,024. It panics unless Available.
func Subtree(data *[SubtreeSize]byte, base uint64) guts.Node {
	if !Available {
		panic("b3simd: Subtree without AVX-512")
	}
	p := params{key: guts.IV, stride: perLane * guts.ChunkSize}
	p.flags[0] |= guts.FlagChunkStart
	p.flags[15] |= guts.FlagChunkEnd
	var cvs [perLane][8][16]uint32
	for pos := range perLane {
		for l := range lanes {
			c := base + uint64(l*perLane+pos)
			p.ctrLo[l], p.ctrHi[l] = uint32(c), uint32(c>>32)
		}
		chunks16(&cvs[pos], &data[pos*guts.ChunkSize], &p)
	}
	// Pairwise within each lane, in place: parent q is written after
	// both its children are read, and no later parent reads slot q.
	for n := perLane; n > 1; n /= 2 {
		for q := range n / 2 {
			parents16(&cvs[q], &cvs[2*q], &cvs[2*q+1], &guts.IV, guts.FlagParent)
		}
	}
	return mergeLanes(&cvs[0])
}
