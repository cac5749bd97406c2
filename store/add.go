package store

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// AddOptions say how to add an entry.
type AddOptions struct {
	Name        string            // human part: "python-3.12-slim-rootfs.ext4"; AddFile/AddDir default to the source's base name
	Kind        Kind              // default KindFile
	Deriver     Hash              // non-zero: the entry is derivation-addressed (store path hash = Deriver); zero: content-addressed
	References  []string          // store names (base names) this entry refers to; they must exist
	Rebuildable bool              // may be evicted by --max-size/--max-age
	Annotations map[string]string // free-form, e.g. "oci.digest"
	Move        bool              // AddFile/AddDir: consume src by renaming it into the store when on the same filesystem (e.g. staged under MkTemp); copy otherwise
	// KeepModes (AddDir) keeps the write bits of every inode below the
	// top directory, which alone is made read-only: a root filesystem
	// the namespace backend shows as it is, so that a file 0644 in the
	// image is 0644 in the sandbox and in what is copied out of it. The
	// content hash ignores write bits, so it is the same entry either way.
	KeepModes bool
}

// staged is content prepared under .tmp, final and read-only, ready to be
// renamed into the store.
type staged struct {
	path       string
	dir        bool
	content    Hash
	size, disk int64
	mode       uint32
}

// prepare validates o and fills defaults.
func (s *Store) prepare(o *AddOptions) error {
	if o.Kind == "" {
		o.Kind = KindFile
	}
	if err := checkName(string(o.Kind)); err != nil {
		return fmt.Errorf("kind: %w", err)
	}
	if err := checkName(o.Name); err != nil {
		return err
	}
	refs := make([]string, 0, len(o.References))
	for _, r := range o.References {
		n, err := s.entryName(r)
		if err != nil {
			return fmt.Errorf("reference: %w", err)
		}
		refs = append(refs, n)
	}
	slices.Sort(refs)
	o.References = slices.Compact(refs)
	o.Annotations = maps.Clone(o.Annotations)
	return nil
}

// hit returns the existing entry name when it is already in the store
// (with its data: a lost entry is a miss),
// holds it in the handle's temporary root and, when it was compressed,
// decompresses it so that its Path can be read.
func (s *Store) hit(name string) (*Entry, bool, error) {
	unlock, err := s.lock(false)
	if err != nil {
		return nil, false, err
	}
	m, err := s.readMeta(name)
	if err == nil && s.lost(m) {
		err = ErrNotFound // the add stages the data again and commit puts it back
	}
	if err == nil {
		err = s.holdLocked(name)
	}
	unlock()
	if errors.Is(err, ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if m.Compressed {
		if m, err = s.decompress(m); err != nil {
			return nil, false, err
		}
	}
	s.touch(name)
	return m.entry(), true, nil
}

// AddFile adds the regular file src.
func (s *Store) AddFile(src string, o AddOptions) (*Entry, error) {
	if o.Name == "" {
		o.Name = filepath.Base(src)
	}
	e, err := s.addFile(src, o)
	if err != nil {
		return nil, fmt.Errorf("add %s to the store: %w", src, err)
	}
	return e, nil
}

func (s *Store) addFile(src string, o AddOptions) (*Entry, error) {
	if err := s.prepare(&o); err != nil {
		return nil, err
	}
	fi, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", src)
	}
	if !o.Deriver.IsZero() {
		if e, ok, err := s.hit(storeName(o.Deriver, o.Name)); ok || err != nil {
			if ok && o.Move {
				os.Remove(src)
			}
			return e, err
		}
	}
	tmp, err := s.ownTmp()
	if err != nil {
		return nil, err
	}
	stagePath := filepath.Join(tmp, fmt.Sprintf("stage-%d", time.Now().UnixNano()))
	if o.Move {
		err := os.Rename(src, stagePath)
		if err == nil {
			return s.addStagedFile(stagePath, o)
		}
		if !errors.Is(err, unix.EXDEV) {
			return nil, fmt.Errorf("move into the store: %w", err)
		}
	}
	f, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	e, err := s.addCopy(stagePath, f, fi, o)
	if err == nil && o.Move {
		os.Remove(src)
	}
	return e, err
}

// addCopy copies the regular file src (as fi described it) to p and
// commits the copy, unless the store already holds its content.
func (s *Store) addCopy(p string, src *os.File, fi os.FileInfo, o AddOptions) (*Entry, error) {
	st, err := copyFileStaged(p, src, fi.Size(), uint32(fi.Mode().Perm()))
	if err != nil {
		return nil, err
	}
	if now, err := src.Stat(); err != nil || now.Size() != fi.Size() {
		os.Remove(p)
		return nil, fmt.Errorf("the source changed size while it was being read (%d bytes, then %d); try again when nothing writes to it", fi.Size(), sizeOf(now))
	}
	return s.commitStaged(st, o, false) // copyFileStaged synced it
}

// sizeOf is fi's size, or -1 without fi.
func sizeOf(fi os.FileInfo) int64 {
	if fi == nil {
		return -1
	}
	return fi.Size()
}

// addStagedFile hashes a file already moved under .tmp and commits it.
func (s *Store) addStagedFile(p string, o AddOptions) (*Entry, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	h, err := hashFile(f, fi.Size())
	if err != nil {
		os.Remove(p)
		return nil, err
	}
	mode := canonMode(uint32(fi.Mode().Perm()))
	if err := f.Chmod(os.FileMode(mode)); err != nil {
		os.Remove(p)
		return nil, err
	}
	if err := f.Sync(); err != nil {
		os.Remove(p)
		return nil, err
	}
	return s.commit(&staged{path: p, content: h, size: fi.Size(), disk: diskSize(fi), mode: mode}, o)
}

// addStream copies r to the new file p, hashing it in the same pass,
// and makes it read-only. Content already in the store is dropped before
// it costs an fsync; anything else is fsynced and committed.
func (s *Store) addStream(p string, r io.Reader, perm uint32, o AddOptions) (*Entry, error) {
	st, err := copyStaged(p, r, perm)
	if err != nil {
		return nil, err
	}
	return s.commitStaged(st, o, true)
}

// commitStaged commits the staged file st, unless the store already holds
// its content under o.Name, when st is dropped. With sync, st is fsynced
// first (after that check, so a duplicate costs no fsync).
func (s *Store) commitStaged(st *staged, o AddOptions, sync bool) (*Entry, error) {
	if o.Deriver.IsZero() {
		if e, ok, err := s.hit(storeName(st.content, o.Name)); ok || err != nil {
			os.Remove(st.path)
			return e, err
		}
	}
	if sync {
		if err := syncFile(st.path); err != nil {
			os.Remove(st.path)
			return nil, err
		}
	}
	return s.commit(st, o)
}

// copyStaged copies r to the new file p, hashing it, and makes it
// read-only. It removes p on failure.
func copyStaged(p string, r io.Reader, perm uint32) (*staged, error) {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, roErr(err)
	}
	h, n, err := copyHash(f, r)
	mode := canonMode(perm)
	if err == nil {
		err = f.Chmod(os.FileMode(mode))
	}
	var fi os.FileInfo
	if err == nil {
		fi, err = f.Stat()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(p)
		return nil, err
	}
	return &staged{path: p, content: h, size: n, disk: diskSize(fi), mode: mode}, nil
}

// stageStream copies r to the new file p, hashing it, then fsyncs it and
// makes it read-only.
func (s *Store) stageStream(p string, r io.Reader, perm uint32) (*staged, error) {
	st, err := copyStaged(p, r, perm)
	if err != nil {
		return nil, err
	}
	if err := syncFile(p); err != nil {
		os.Remove(p)
		return nil, err
	}
	return st, nil
}

// syncFile fsyncs the file p.
func syncFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", p, err)
	}
	return nil
}

// AddReader adds the bytes of r as a file entry. o.Name is required.
func (s *Store) AddReader(r io.Reader, o AddOptions) (*Entry, error) {
	e, err := s.addReader(r, o)
	if err != nil {
		return nil, fmt.Errorf("add %q to the store: %w", o.Name, err)
	}
	return e, nil
}

func (s *Store) addReader(r io.Reader, o AddOptions) (*Entry, error) {
	if err := s.prepare(&o); err != nil {
		return nil, err
	}
	if !o.Deriver.IsZero() {
		if e, ok, err := s.hit(storeName(o.Deriver, o.Name)); ok || err != nil {
			return e, err
		}
	}
	tmp, err := s.ownTmp()
	if err != nil {
		return nil, err
	}
	return s.addStream(filepath.Join(tmp, fmt.Sprintf("stage-%d", time.Now().UnixNano())), r, 0o444, o)
}

// AddDir adds the directory tree src. Write bits are cleared throughout;
// modes, ownership (when silo runs as root, or when the tree is moved) and
// mtimes are kept, but only modes enter the content hash.
func (s *Store) AddDir(src string, o AddOptions) (*Entry, error) {
	if o.Name == "" {
		o.Name = filepath.Base(src)
	}
	e, err := s.addDir(src, o)
	if err != nil {
		return nil, fmt.Errorf("add %s to the store: %w", src, err)
	}
	return e, nil
}

func (s *Store) addDir(src string, o AddOptions) (*Entry, error) {
	if err := s.prepare(&o); err != nil {
		return nil, err
	}
	fi, err := os.Lstat(src)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", src)
	}
	if !o.Deriver.IsZero() {
		if e, ok, err := s.hit(storeName(o.Deriver, o.Name)); ok || err != nil {
			if ok && o.Move {
				removeAll(src)
			}
			return e, err
		}
	}
	tmp, err := s.ownTmp()
	if err != nil {
		return nil, err
	}
	stagePath := filepath.Join(tmp, fmt.Sprintf("stage-%d", time.Now().UnixNano()))
	h := newHasher()
	op := newTreeOp(h)
	op.keep = o.KeepModes
	moved := false
	if o.Move {
		// Another filesystem, or a source directory we may not rename
		// (that needs write permission on it): copy instead.
		err := os.Rename(src, stagePath)
		if err != nil && !errors.Is(err, unix.EXDEV) && !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("move into the store: %w", err)
		}
		moved = err == nil
	}
	if !moved && o.Deriver.IsZero() {
		// Hash first: a tree already in the store is not copied at all.
		pre := newHasher()
		if err := newTreeOp(pre).run(src); err != nil {
			return nil, err
		}
		if e, ok, err := s.hit(storeName(sumOf(pre), o.Name)); ok || err != nil {
			if ok && o.Move {
				removeAll(src)
			}
			return e, err
		}
	}
	if moved {
		op.fix = true
		err = op.run(stagePath)
	} else {
		op.copyTo = stagePath
		err = op.run(src)
	}
	if err == nil {
		err = syncFS(stagePath)
	}
	if err != nil {
		removeAll(stagePath)
		return nil, err
	}
	e, err := s.commit(&staged{path: stagePath, dir: true, content: sumOf(h), size: op.size, disk: op.disk, mode: op.topMode}, o)
	if err == nil && o.Move && !moved {
		removeAll(src)
	}
	return e, err
}

// syncFS flushes the filesystem holding p: one syncfs(2) instead of an
// fsync per file of a large tree.
func syncFS(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("sync %s: %w", p, err)
	}
	return nil
}
