package store

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// copyFileStaged copies the regular file src (size bytes) to the new file
// p inside the kernel, keeping src's holes, then hashes the copy while it
// is being written to disk: what is hashed is what the store keeps, and
// the hash costs no more than a read of the page cache beside the fsync.
// It removes p on failure. It fails if src changed size meanwhile.
func copyFileStaged(p string, src *os.File, size int64, perm uint32) (*staged, error) {
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, roErr(err)
	}
	st, err := copyHashSync(f, src, size, perm)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(p)
		return nil, err
	}
	st.path = p
	return st, nil
}

func copyHashSync(f, src *os.File, size int64, perm uint32) (*staged, error) {
	if err := copyData(f, src, size); err != nil {
		return nil, err
	}
	synced := make(chan error, 1)
	go func() { synced <- f.Sync() }()
	h, herr := hashFile(f, size)
	if err := <-synced; err != nil {
		return nil, fmt.Errorf("sync %s: %w", f.Name(), err)
	}
	if herr != nil {
		return nil, herr
	}
	mode := canonMode(perm)
	if err := f.Chmod(os.FileMode(mode)); err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return &staged{content: h, size: size, disk: diskSize(fi), mode: mode}, nil
}

// copyData copies src's data segments to dst at the same offsets with
// copy_file_range (falling back to a read and write where the kernel
// cannot), and sets dst's size to size.
func copyData(dst, src *os.File, size int64) error {
	for off := int64(0); off < size; {
		data, err := unix.Seek(int(src.Fd()), off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // only a hole is left
		}
		if err != nil {
			data = off // no SEEK_DATA here: copy everything
		}
		end, err := unix.Seek(int(src.Fd()), data, unix.SEEK_HOLE)
		if err != nil || end > size {
			end = size
		}
		if err := copyRange(dst, src, data, end-data); err != nil {
			return err
		}
		off = end
	}
	if err := dst.Truncate(size); err != nil {
		return fmt.Errorf("write %s: %w", dst.Name(), err)
	}
	return nil
}

// copyRange copies n bytes at off from src to dst.
func copyRange(dst, src *os.File, off, n int64) error {
	in, out := off, off
	for n > 0 {
		k, err := unix.CopyFileRange(int(src.Fd()), &in, int(dst.Fd()), &out, int(min(n, 1<<30)), 0)
		if err != nil {
			return copyRangeRW(dst, src, in, n, err)
		}
		if k == 0 {
			return fmt.Errorf("read %s: %w", src.Name(), io.ErrUnexpectedEOF)
		}
		n -= int64(k)
	}
	return nil
}

// copyRangeRW is copyRange through user space, for the file systems and
// kernels copy_file_range refuses (cerr) with EXDEV, ENOSYS, EINVAL or
// EOPNOTSUPP.
func copyRangeRW(dst, src *os.File, off, n int64, cerr error) error {
	if !errors.Is(cerr, unix.EXDEV) && !errors.Is(cerr, unix.ENOSYS) &&
		!errors.Is(cerr, unix.EINVAL) && !errors.Is(cerr, unix.EOPNOTSUPP) {
		return fmt.Errorf("copy %s: %w", src.Name(), cerr)
	}
	w := io.NewOffsetWriter(dst, off)
	k, err := io.Copy(w, io.NewSectionReader(src, off, n))
	if err != nil {
		return fmt.Errorf("copy %s: %w", src.Name(), err)
	}
	if k != n {
		return fmt.Errorf("read %s: %w", src.Name(), io.ErrUnexpectedEOF)
	}
	return nil
}
