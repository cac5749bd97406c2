package store

import (
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// chunkSize is the read size for hashing and copying: large enough for
// blake3's multi-threaded SIMD path.
const chunkSize = 8 << 20

// mmapMin is the file size from which hashing maps the file instead of
// reading it.
const mmapMin = 4 << 20

// hashFile returns the blake3 of f's bytes (from offset 0), mapping large
// files into memory as b3sum does.
func hashFile(f *os.File, size int64) (Hash, error) {
	if size >= mmapMin && int64(int(size)) == size {
		data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
		if err == nil {
			defer unix.Munmap(data)
			_ = unix.Madvise(data, unix.MADV_SEQUENTIAL|unix.MADV_WILLNEED)
			h := newHasher()
			for off := 0; off < len(data); off += 64 << 20 {
				h.Write(data[off:min(off+64<<20, len(data))])
			}
			return sumOf(h), nil
		}
	}
	h := newHasher()
	n, err := io.CopyBuffer(h, io.NewSectionReader(f, 0, 1<<62), make([]byte, min(chunkSize, max(size, 4096))))
	if err != nil {
		return Hash{}, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	if n != size {
		return Hash{}, fmt.Errorf("%s changed size while it was being read; try again when nothing writes to it", f.Name())
	}
	return sumOf(h), nil
}

// copyHash copies r to dst (leaving holes for zero blocks) while hashing
// what it copies, reading ahead in a second goroutine. It returns the hash
// and the byte count.
func copyHash(dst *os.File, r io.Reader) (Hash, int64, error) {
	type chunk struct {
		b   []byte
		err error
	}
	full := make(chan chunk, 2)
	free := make(chan []byte, 3)
	for range 3 {
		free <- make([]byte, chunkSize)
	}
	done := make(chan struct{})
	defer close(done)
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
			if n > 0 {
				full <- chunk{b: b[:n]}
			}
			if err == io.EOF {
				return
			}
			if err != nil {
				full <- chunk{err: err}
				return
			}
		}
	}()
	h := newHasher()
	w := &sparseWriter{f: dst}
	var total int64
	for c := range full {
		if c.err != nil {
			return Hash{}, 0, fmt.Errorf("read: %w", c.err)
		}
		h.Write(c.b)
		if _, err := w.Write(c.b); err != nil {
			return Hash{}, 0, fmt.Errorf("write %s: %w", dst.Name(), err)
		}
		total += int64(len(c.b))
		free <- c.b[:cap(c.b)]
	}
	if err := w.finish(); err != nil {
		return Hash{}, 0, fmt.Errorf("write %s: %w", dst.Name(), err)
	}
	return sumOf(h), total, nil
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
