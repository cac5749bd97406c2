package store

import (
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// chunkSize is the read size for copying: a whole number of the subtrees
// that are hashed in parallel.
const chunkSize = 8 << 20

// hashFile returns the blake3 of f's bytes (from offset 0), hashing large
// files on every core. It fails if f is no longer size bytes long.
func hashFile(f *os.File, size int64) (Hash, error) {
	h, err := hashParallel(f, size)
	if err != nil {
		return Hash{}, err
	}
	var b [1]byte
	if n, _ := f.ReadAt(b[:], size); n > 0 {
		return Hash{}, readErr(f, io.EOF)
	}
	return h, nil
}

// copyHash copies r to dst (leaving holes for zero blocks) while hashing
// what it copies: each buffer is read once, ahead in another goroutine,
// then written and hashed (on every core) at the same time. It returns
// the hash and the byte count.
func copyHash(dst *os.File, r io.Reader) (Hash, int64, error) {
	full, done := readAhead(r)
	defer close(done)
	var h streamHasher
	w := &sparseWriter{f: dst}
	werr := make(chan error, 1)
	var total int64
	var sum Hash
	last := false
	for c := range full {
		if c.err != nil {
			return Hash{}, 0, fmt.Errorf("read: %w", c.err)
		}
		go func(off int64) {
			preallocate(dst, c.b, off)
			_, err := w.Write(c.b)
			werr <- err
		}(total)
		if len(c.b) == chunkSize {
			h.write(c.b)
		} else {
			sum, last = h.sum(c.b), true
		}
		if err := <-werr; err != nil {
			return Hash{}, 0, fmt.Errorf("write %s: %w", dst.Name(), err)
		}
		total += int64(len(c.b))
		c.free <- c.b[:cap(c.b)]
	}
	if !last {
		sum = h.sum(nil)
	}
	if err := w.finish(); err != nil {
		return Hash{}, 0, fmt.Errorf("write %s: %w", dst.Name(), err)
	}
	return sum, total, nil
}

// preallocate reserves, in one extent per run, the disk blocks that a
// sparseWriter writes p at off to (those that are not whole zero blocks):
// ext4 then takes the writes as fast as an overwrite. It is only a hint;
// the writes allocate what it could not.
func preallocate(f *os.File, p []byte, off int64) {
	run := -1
	flush := func(end int) {
		if run >= 0 {
			_ = unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_KEEP_SIZE, off+int64(run), int64(end-run))
			run = -1
		}
	}
	for i := 0; i < len(p); i += sparseBlock {
		if i+sparseBlock <= len(p) && isZero(p[i:i+sparseBlock]) {
			flush(i)
		} else if run < 0 {
			run = i
		}
	}
	flush(len(p))
}

// chunk is one buffer of read-ahead: chunkSize bytes, fewer only at the
// end of the data, or the error that ended it. The consumer hands b back
// through free.
type chunk struct {
	b    []byte
	err  error
	free chan<- []byte
}

// readAhead reads r into chunks in its own goroutine until r ends, fails
// or done is closed.
func readAhead(r io.Reader) (<-chan chunk, chan<- struct{}) {
	full := make(chan chunk, 2)
	free := make(chan []byte, 3)
	for range 3 {
		free <- make([]byte, chunkSize)
	}
	done := make(chan struct{})
	send := func(c chunk) bool {
		select {
		case full <- c:
			return true
		case <-done:
			return false
		}
	}
	go func() {
		defer close(full)
		for {
			var b []byte
			select {
			case b = <-free:
			case <-done:
				return
			}
			n, err := fill(r, b)
			if n > 0 && !send(chunk{b: b[:n], free: free}) {
				return
			}
			if err == io.EOF {
				return
			}
			if err != nil {
				send(chunk{err: err})
				return
			}
		}
	}()
	return full, done
}

// diskSize returns the bytes fi occupies on disk.
func diskSize(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}

// fill reads into b until it is full or r fails. Unlike io.ReadFull it
// reports a clean end as io.EOF only when r said io.EOF, so that a reader's
// own io.ErrUnexpectedEOF (a truncated download) is never taken for the end
// of the data.
func fill(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
