// Package fsutil holds the file-system primitives the rest of silo shares,
// each written once: an atomic file write, flock(2) taken through
// interruptions, and the lexical "is this path within that one".
//
// # Atomic writes
//
// WriteFile stages the bytes in a temporary file beside the target (or in
// the directory WriteOptions.TempDir names, on the same file system),
// sets its mode, optionally syncs it and sets its times, and renames it
// over the target: a reader sees the old file or the new one whole, never
// a part. With Sync, the data is on disk before the rename and the rename
// is on disk before WriteFile returns (the directory is synced too). On
// any error the temporary file is removed and the target is untouched.
package fsutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// WriteOptions say how WriteFile writes.
type WriteOptions struct {
	// Perm is the file's mode (default 0o644).
	Perm os.FileMode
	// TempDir is where the file is staged; "" stages it beside the target.
	// It must be on the target's file system.
	TempDir string
	// Sync makes the write durable: the file and then its directory are
	// synced.
	Sync bool
	// ModTime, when set, becomes the file's access and modification time.
	ModTime time.Time
	// MkdirPerm, when set, creates the target's directory first with it.
	MkdirPerm os.FileMode
}

// WriteFile writes data to path atomically, as the package doc says.
func WriteFile(path string, data []byte, o WriteOptions) (err error) {
	dir := filepath.Dir(path)
	if o.MkdirPerm != 0 {
		if err := os.MkdirAll(dir, o.MkdirPerm); err != nil {
			return err
		}
	}
	tmpDir := o.TempDir
	if tmpDir == "" {
		tmpDir = dir
	}
	f, err := os.CreateTemp(tmpDir, "."+filepath.Base(path)+".new-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	if err = fill(f, data, o); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	if o.Sync {
		return SyncDir(dir)
	}
	return nil
}

// fill writes data into f, sets its mode, syncs it if asked, closes it and
// sets its times.
func fill(f *os.File, data []byte, o WriteOptions) error {
	perm := o.Perm
	if perm == 0 {
		perm = 0o644
	}
	_, err := f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil && o.Sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && !o.ModTime.IsZero() {
		err = os.Chtimes(f.Name(), o.ModTime, o.ModTime)
	}
	return err
}

// SyncDir syncs a directory, so that the renames and creations in it are
// on disk.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, unix.EINVAL) {
		return err
	}
	return nil
}

// Flock is flock(2) on f, retried when a signal interrupts it. how is
// unix.LOCK_SH or unix.LOCK_EX, optionally with unix.LOCK_NB.
func Flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// LockFile opens p (creating it 0600) and flocks it; closing the file
// releases the lock, and so does the process's death.
func LockFile(p string, how int) (*os.File, error) {
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := Flock(f, how); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	return f, nil
}

// Within reports whether path is dir or lies beneath it, comparing the
// clean paths lexically (no link is followed: resolve them first where
// links matter).
func Within(path, dir string) bool {
	path, dir = filepath.Clean(path), filepath.Clean(dir)
	if dir == "/" {
		return strings.HasPrefix(path, "/")
	}
	return path == dir || strings.HasPrefix(path, dir+"/")
}

// Beneath reports whether path lies strictly beneath dir (lexically).
func Beneath(path, dir string) bool {
	return Within(path, dir) && filepath.Clean(path) != filepath.Clean(dir)
}
