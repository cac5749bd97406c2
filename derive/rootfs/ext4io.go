package rootfs

import (
	"bytes"
	"fmt"
	"os"
)

// blockSize is the ext4 block size silo writes, and the unit of holes in
// the image file.
const blockSize = 4096

// writeBuf is how many bytes blockWriter gathers before one write, and
// the size of a run it writes straight from the caller's buffer.
const writeBuf = 1 << 20

var zeroBlock [blockSize]byte

// blockWriter writes the image's blocks in increasing order. All-zero
// blocks are skipped, leaving holes; small adjacent writes are gathered
// into one system call.
type blockWriter struct {
	f       *os.File
	pend    []byte // bytes waiting to be written at pendOff
	pendOff int64
}

func newBlockWriter(f *os.File) *blockWriter {
	return &blockWriter{f: f, pend: make([]byte, 0, writeBuf)}
}

// write puts b at block blk and the blocks after it. A last partial block
// reads back with zeros after b.
func (w *blockWriter) write(blk uint32, b []byte) error {
	off := int64(blk) * blockSize
	for i := 0; i < len(b); {
		// Find the next run of non-zero blocks, b[i:j].
		for i < len(b) && isZero(b[i:min(i+blockSize, len(b))]) {
			i += blockSize
		}
		j := i
		for j < len(b) && !isZero(b[j:min(j+blockSize, len(b))]) {
			j += blockSize
		}
		j = min(j, len(b))
		if i < j {
			if err := w.put(off+int64(i), b[i:j]); err != nil {
				return err
			}
		}
		i = j
	}
	return nil
}

func isZero(b []byte) bool { return bytes.Equal(b, zeroBlock[:len(b)]) }

// put writes the non-zero run b at off, through the gathering buffer when
// it is small. Runs start on a block boundary.
func (w *blockWriter) put(off int64, b []byte) error {
	contiguous := len(w.pend) > 0 && w.pendOff+int64(len(w.pend)) == off
	if !contiguous || len(w.pend)+len(b)+blockSize > cap(w.pend) {
		if err := w.flush(); err != nil {
			return err
		}
	}
	if len(b) >= writeBuf/4 && len(w.pend) == 0 {
		if _, err := w.f.WriteAt(b, off); err != nil {
			return fmt.Errorf("write ext4 image: %w", err)
		}
		return nil
	}
	if len(w.pend) == 0 {
		w.pendOff = off
	}
	w.pend = append(w.pend, b...)
	// Pad a last partial block, which nothing else writes to, so that the
	// next block continues this write.
	if rem := len(w.pend) % blockSize; rem != 0 && w.pendOff%blockSize == 0 {
		w.pend = append(w.pend, zeroBlock[:blockSize-rem]...)
	}
	return nil
}

// flush writes what is gathered.
func (w *blockWriter) flush() error {
	if len(w.pend) == 0 {
		return nil
	}
	_, err := w.f.WriteAt(w.pend, w.pendOff)
	w.pend = w.pend[:0]
	if err != nil {
		return fmt.Errorf("write ext4 image: %w", err)
	}
	return nil
}
