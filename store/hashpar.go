package store

import (
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"lukechampine.com/blake3"
	"lukechampine.com/blake3/guts"

	"github.com/silo-dev/silo/internal/b3simd"
)

// Parallel BLAKE3.
//
// BLAKE3 is a binary Merkle tree over 1 KiB chunks in which every left
// subtree is a full power of two of chunks. Cut into aligned pieces of
// subtreeSize bytes, the input's tree is the tree of those pieces' own
// trees: each piece can be hashed on its own core, and merging the
// pieces' chaining values left to right, as the incremental hasher's
// stack does, gives the same root node, to which the ROOT flag is applied.
// The digest is the plain blake3-256 of the input, bit for bit.
//
// A whole subtree is hashed by internal/b3simd where the CPU has AVX-512
// (read in one pread, then hashed from the core's cache); other pieces,
// and every piece on other CPUs, by lukechampine.com/blake3's guts.

const (
	// groupSize is one SIMD batch: the unit guts.CompressBuffer hashes.
	groupSize = guts.MaxSIMD * guts.ChunkSize

	// subtreeSize is the size of the pieces hashed in parallel: a power
	// of two number of groups. It divides chunkSize.
	subtreeSize = b3simd.SubtreeSize

	// subtreeHeight is log2 of the chunks in a subtree.
	subtreeHeight = 10 // 1 MiB / 1 KiB

	// readSize is the pread size within a subtree: small enough that what
	// was read is still in the core's cache when it is hashed.
	readSize = 256 << 10

	// parMin is the input size from which hashing goes parallel; below
	// it the plain hasher is as fast.
	parMin = 2 * subtreeSize
)

// cvStack holds the chaining values of complete subtrees, at most one per
// height, exactly as blake3.Hasher does: n counts the chunks pushed, and
// its set bits are the occupied heights.
type cvStack struct {
	cv [64][8]uint32
	n  uint64
}

// push adds the chaining value of a subtree of 2^height chunks, merging
// it with the complete subtrees of equal height to its left.
func (s *cvStack) push(cv [8]uint32, height int) {
	i := height
	for s.n&(1<<i) != 0 {
		cv = guts.ChainingValue(guts.ParentNode(s.cv[i], cv, &guts.IV, 0))
		i++
	}
	s.cv[i] = cv
	s.n += 1 << height
}

// fold returns the top node of the tree whose right edge is n, the node
// of everything after the stack: n merged with every subtree on the stack,
// lowest (rightmost) first. With an empty stack it is n itself.
func (s *cvStack) fold(n guts.Node) guts.Node {
	for i := bits.TrailingZeros64(s.n); i < bits.Len64(s.n); i++ {
		if s.n&(1<<i) != 0 {
			n = guts.ParentNode(s.cv[i], guts.ChainingValue(n), &guts.IV, 0)
		}
	}
	return n
}

// subtree hashes the part of the input that starts at chunk index base,
// a multiple of its size in chunks, fed in order: whole groups by write,
// then the last (non-empty) piece by node.
type subtree struct {
	base    uint64
	stack   cvStack
	scratch *[groupSize]byte
}

// write hashes p, a whole number of groups, none of them the last.
func (t *subtree) write(p []byte) {
	for ; len(p) > 0; p = p[groupSize:] {
		n := guts.CompressBuffer((*[groupSize]byte)(p), groupSize, &guts.IV, t.base+t.stack.n, 0)
		t.stack.push(guts.ChainingValue(n), bits.TrailingZeros(guts.MaxSIMD))
	}
}

// node hashes last, 1 byte or more that end the subtree, and returns the
// subtree's top node, not yet compressed.
func (t *subtree) node(last []byte) guts.Node {
	if len(last) > groupSize {
		cut := (len(last) - 1) / groupSize * groupSize
		t.write(last[:cut])
		last = last[cut:]
	}
	counter := t.base + t.stack.n
	var n guts.Node
	switch {
	case len(last) <= guts.ChunkSize:
		n = guts.CompressChunk(last, &guts.IV, counter, 0)
	case len(last) == groupSize:
		n = guts.CompressBuffer((*[groupSize]byte)(last), groupSize, &guts.IV, counter, 0)
	default:
		// CompressBuffer reads a whole group: never past the input.
		if t.scratch == nil {
			t.scratch = new([groupSize]byte)
		}
		copy(t.scratch[:], last)
		n = guts.CompressBuffer(t.scratch, len(last), &guts.IV, counter, 0)
	}
	return t.stack.fold(n)
}

// treeNode returns the top node of data, 1 byte or more starting at
// chunk index base.
func treeNode(data []byte, base uint64) guts.Node {
	if len(data) == subtreeSize && b3simd.Available {
		return b3simd.Subtree((*[subtreeSize]byte)(data), base)
	}
	t := subtree{base: base}
	return t.node(data)
}

// rootHash returns the digest whose root node is n.
func rootHash(n guts.Node) Hash {
	n.Flags |= guts.FlagRoot
	out := guts.WordsToBytes(guts.CompressNode(n))
	var h Hash
	copy(h[:], out[:])
	return h
}

// workers returns how many goroutines hash n subtrees.
func workers(n int) int { return max(1, min(runtime.GOMAXPROCS(0), n)) }

// hashParallel returns the blake3-256 of f's first size bytes, hashing
// subtrees of it on every core, each read with pread into its worker's
// own buffer. It fails if f is shorter than size.
func hashParallel(f *os.File, size int64) (Hash, error) {
	if size < parMin {
		return hashSmall(f, size)
	}
	count := int((size + subtreeSize - 1) / subtreeSize)
	nodes := make([]guts.Node, count)
	var next atomic.Int64
	var failed atomic.Bool
	errs := make(chan error, workers(count))
	var wg sync.WaitGroup
	for range workers(count) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, workerBuf())
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= count {
					return
				}
				off := int64(i) * subtreeSize
				n, err := hashAt(f, buf, off, min(subtreeSize, size-off))
				if err != nil {
					failed.Store(true)
					errs <- err
					return
				}
				nodes[i] = n
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return Hash{}, err
	}
	return mergeNodes(nodes), nil
}

// workerBuf is the read buffer of a hashParallel worker: a whole subtree
// where b3simd hashes it, else readSize.
func workerBuf() int {
	if b3simd.Available {
		return subtreeSize
	}
	return readSize
}

// hashAt hashes the subtree of n bytes at offset off of f, reading it
// through buf (a multiple of groupSize).
func hashAt(f *os.File, buf []byte, off, n int64) (guts.Node, error) {
	if n == subtreeSize && len(buf) >= subtreeSize {
		p := buf[:subtreeSize]
		if _, err := f.ReadAt(p, off); err != nil {
			return guts.Node{}, readErr(f, err)
		}
		return treeNode(p, uint64(off/guts.ChunkSize)), nil
	}
	t := subtree{base: uint64(off / guts.ChunkSize)}
	for done := int64(0); ; {
		p := buf[:min(int64(len(buf)), n-done)]
		if _, err := f.ReadAt(p, off+done); err != nil {
			return guts.Node{}, readErr(f, err)
		}
		done += int64(len(p))
		if done == n {
			return t.node(p), nil
		}
		t.write(p)
	}
}

// mergeNodes returns the digest of the input whose aligned subtrees, in
// order, have the top nodes nodes (two or more).
func mergeNodes(nodes []guts.Node) Hash {
	var s cvStack
	for _, n := range nodes[:len(nodes)-1] {
		s.push(guts.ChainingValue(n), subtreeHeight)
	}
	return rootHash(s.fold(nodes[len(nodes)-1]))
}

// streamHasher is a parallel blake3-256 hasher for data that arrives in
// whole subtrees (as copyHash's buffers do) followed by a tail.
type streamHasher struct {
	stack   cvStack
	pending *guts.Node // the last whole subtree: the root if nothing follows
}

// write hashes p, a whole number of subtrees, on every core.
func (h *streamHasher) write(p []byte) {
	if len(p) == 0 {
		return
	}
	if len(p)%subtreeSize != 0 {
		panic("store: streamHasher.write of a partial subtree")
	}
	base := h.stack.n
	if h.pending != nil {
		base += 1 << subtreeHeight
	}
	nodes := make([]guts.Node, len(p)/subtreeSize)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers(len(nodes)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(nodes); i = int(next.Add(1) - 1) {
				nodes[i] = treeNode(p[i*subtreeSize:(i+1)*subtreeSize], base+uint64(i)<<subtreeHeight)
			}
		}()
	}
	wg.Wait()
	if h.pending != nil {
		h.stack.push(guts.ChainingValue(*h.pending), subtreeHeight)
	}
	for _, n := range nodes[:len(nodes)-1] {
		h.stack.push(guts.ChainingValue(n), subtreeHeight)
	}
	h.pending = &nodes[len(nodes)-1]
}

// sum hashes tail, the rest of the data, and returns the digest of all.
func (h *streamHasher) sum(tail []byte) Hash {
	whole := len(tail) / subtreeSize * subtreeSize
	h.write(tail[:whole])
	tail = tail[whole:]
	switch {
	case h.pending == nil:
		return blake3.Sum256(tail) // all of it fits one subtree
	case len(tail) == 0:
		return rootHash(h.stack.fold(*h.pending))
	}
	h.stack.push(guts.ChainingValue(*h.pending), subtreeHeight)
	h.pending = nil
	return rootHash(h.stack.fold(treeNode(tail, h.stack.n)))
}

// hashSmall hashes f's first size bytes with the plain hasher.
func hashSmall(f *os.File, size int64) (Hash, error) {
	buf := make([]byte, size)
	if _, err := f.ReadAt(buf, 0); err != nil {
		return Hash{}, readErr(f, err)
	}
	return blake3.Sum256(buf), nil
}

// readErr explains a failed read of f: an early end means the file shrank.
func readErr(f *os.File, err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%s changed size while it was being read; try again when nothing writes to it", f.Name())
	}
	return fmt.Errorf("read %s: %w", f.Name(), err)
}
