//go:build !amd64 || purego

package b3simd

import "lukechampine.com/blake3/guts"

// Available reports whether Subtree can run here: never on this build.
const Available = false

// Subtree is not available on this build; it panics.
func Subtree(data *[SubtreeSize]byte, base uint64) guts.Node {
	panic("b3simd: Subtree without AVX-512")
}
