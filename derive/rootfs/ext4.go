package rootfs

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	// tar2ext4 (hcsshim's compact ext4 writer, maintained by Microsoft and
	// used by containerd for LCOW layers) is pure Go and takes ownership,
	// modes and xattrs from tar headers, so building an image needs neither
	// host root nor e2fsprogs (mkfs.ext4 -d copies ownership from disk,
	// which an ordinary user cannot set, and does not exist on macOS hosts,
	// which also boot these images). It writes no UUID, no random hash seed
	// and no clock time: the same tar stream gives the same bytes. The image
	// is compact (no free blocks), which suits its use as the read-only
	// lower layer of the sandbox's overlay.
	"github.com/Microsoft/hcsshim/ext4/tar2ext4"

	"github.com/silo-dev/silo/internal/safetext"
)

// WriteExt4 merges layers into an ext4 filesystem image at dst, which must
// not exist. maxSize, when positive, is the most bytes the image may take;
// the merge fails if the content needs more. maxContent, when positive, is
// the most bytes the merged files, or one layer's files, may hold
// (ErrTooLarge, before anything is written). The file is sparse: all-zero
// blocks are holes. On error dst is removed.
func WriteExt4(layers []Layer, dst string, maxSize, maxContent int64) (err error) {
	t, err := scan(layers, maxContent)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("create ext4 image: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close ext4 image: %w", cerr)
		}
		if err != nil {
			os.Remove(dst)
		}
	}()
	sf := &sparseFile{f: f}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		// Without a limit, leave room for images up to 1 TiB (the
		// default is 16 GiB): the reservation is a few block-group
		// descriptors, holes in the sparse file.
		opts := []tar2ext4.Option{tar2ext4.MaximumDiskSize(1 << 40)}
		if maxSize > 0 {
			opts = []tar2ext4.Option{tar2ext4.MaximumDiskSize(maxSize)}
		}
		err := tar2ext4.ConvertTarToExt4(pr, sf, opts...)
		pr.CloseWithError(err) // unblock the writer if the converter stopped early
		done <- err
	}()
	tw := tar.NewWriter(pw)
	err = emit(t, layers, &tarSink{tw: tw})
	if err == nil {
		err = tw.Close()
	}
	pw.CloseWithError(err)
	if cerr := <-done; cerr != nil && err == nil {
		err = fmt.Errorf("write ext4: %w", cerr)
	}
	if err != nil && strings.Contains(err.Error(), "maximum link count") {
		return fmt.Errorf("a directory in the image has more than 65000 subdirectories, more than silo's ext4 images can hold (the namespace backend can run it): %w", err)
	}
	if err != nil && maxSize > 0 && strings.Contains(err.Error(), "exceeded maximum size") {
		return fmt.Errorf("the root filesystem needs more than its %d MB size limit (raise rootfsSizeMB): %w", maxSize>>20, err)
	}
	if err != nil {
		return err
	}
	if err := sf.finish(); err != nil {
		return fmt.Errorf("write ext4: %w", err)
	}
	if err := padInodeBitmaps(f); err != nil {
		return fmt.Errorf("write ext4: %w", err)
	}
	return f.Sync()
}

// tarSink writes the merged tree as one tar stream, in emit's order, for
// tar2ext4: parents always come before their children.
type tarSink struct{ tw *tar.Writer }

func (s *tarSink) header(p string, typ byte, m *meta) (*tar.Header, error) {
	t := tarTime(m.mtime)
	h := &tar.Header{
		Name: p, Typeflag: typ, Mode: m.mode, Uid: m.uid, Gid: m.gid,
		ModTime: t, AccessTime: t, ChangeTime: t,
		Format: tar.FormatPAX,
	}
	if len(m.xattrs) > 0 {
		xattrs, err := ext4Xattrs(p, m.xattrs)
		if err != nil {
			return nil, err
		}
		h.PAXRecords = map[string]string{}
		for k, v := range xattrs {
			h.PAXRecords["SCHILY.xattr."+k] = v
		}
	}
	return h, nil
}

// write writes the header for p, made by header, with extra fields set
// by set (nil for none).
func (s *tarSink) write(p string, typ byte, m *meta, set func(*tar.Header)) error {
	h, err := s.header(p, typ, m)
	if err != nil {
		return err
	}
	if set != nil {
		set(h)
	}
	return s.tw.WriteHeader(h)
}

func (s *tarSink) dir(p string, m *meta) error {
	return s.write(p+"/", tar.TypeDir, m, nil)
}

func (s *tarSink) symlink(p, target string, m *meta) error {
	return s.write(p, tar.TypeSymlink, m, func(h *tar.Header) { h.Linkname = target })
}

func (s *tarSink) fifo(p string, m *meta) error {
	return s.write(p, tar.TypeFifo, m, nil)
}

// maxExt4File is the largest file tar2ext4 writes correctly: it gives a
// file at most one block of extents (340 of 32768 blocks each); past
// that it writes extents e2fsck calls invalid.
const maxExt4File = 340 * 32768 * 4096

func (s *tarSink) file(p string, m *meta, size int64, r io.Reader) error {
	if size > maxExt4File {
		return fmt.Errorf("%s is %d GiB, more than the %d GiB a file in silo's ext4 images may have (the namespace backend can run it)", safetext.Escape(p), size>>30, maxExt4File>>30)
	}
	if err := s.write(p, tar.TypeReg, m, func(h *tar.Header) { h.Size = size }); err != nil {
		return err
	}
	n, err := io.Copy(s.tw, r)
	if err == nil && n != size {
		err = fmt.Errorf("%s: %d bytes of %d", safetext.Escape(p), n, size)
	}
	return err
}

func (s *tarSink) link(p, target string) error {
	return s.tw.WriteHeader(&tar.Header{
		Name: p, Typeflag: tar.TypeLink, Linkname: target,
		ModTime: time.Unix(0, 0), Format: tar.FormatPAX,
	})
}

// sparseFile is the io.ReadWriteSeeker tar2ext4 writes to. Whole blocks of
// zeros are skipped instead of written, leaving holes.
type sparseFile struct {
	f        *os.File
	off, end int64
}

const sparseBlock = 4096

var zeroBlock [sparseBlock]byte

func (s *sparseFile) Write(b []byte) (int, error) {
	n := 0
	runStart, runOff := -1, int64(0) // pending run of non-zero data
	flush := func(end int) error {
		if runStart < 0 {
			return nil
		}
		_, err := s.f.WriteAt(b[runStart:end], runOff)
		runStart = -1
		return err
	}
	for n < len(b) {
		k := min(len(b)-n, sparseBlock-int(s.off%sparseBlock))
		if bytes.Equal(b[n:n+k], zeroBlock[:k]) {
			if err := flush(n); err != nil {
				return n, err
			}
		} else if runStart < 0 {
			runStart, runOff = n, s.off
		}
		s.off += int64(k)
		s.end = max(s.end, s.off)
		n += k
	}
	return n, flush(n)
}

func (s *sparseFile) Read(b []byte) (int, error) {
	if s.off >= s.end {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), s.end-s.off)]
	n, err := s.f.ReadAt(b, s.off)
	if err == io.EOF { // a hole at the end, not yet truncated to size
		clear(b[n:])
		n, err = len(b), nil
	}
	s.off += int64(n)
	return n, err
}

func (s *sparseFile) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += s.off
	case io.SeekEnd:
		offset += s.end
	default:
		return 0, fmt.Errorf("seek: bad whence %d", whence)
	}
	if offset < 0 {
		return 0, fmt.Errorf("seek: negative offset")
	}
	s.off = offset
	return offset, nil
}

// finish gives the file its full size, holes included.
func (s *sparseFile) finish() error { return s.f.Truncate(s.end) }
