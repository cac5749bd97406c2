package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// commit renames st into the store and registers it, under the shared
// store lock so that no GC runs in between:
//
//  1. if the entry is already registered, drop st and return it;
//  2. leave an intent file in this handle's .tmp directory;
//  3. rename st into place (never over an existing entry) and fsync the
//     store directory;
//  4. write the metadata atomically;
//  5. put the entry in the handle's temporary root, remove the intent.
//
// A process killed between 3 and 4 leaves an entry without metadata and an
// intent: Open of a later process removes both (see sweepDead).
func (s *Store) commit(st *staged, o AddOptions) (*Entry, error) {
	addr := st.content
	if !o.Deriver.IsZero() {
		addr = o.Deriver
	}
	name := storeName(addr, o.Name)
	unlock, err := s.lock(false)
	if err != nil {
		removeAll(st.path)
		return nil, err
	}
	defer unlock()
	e, err := s.commitLocked(name, st, o)
	if err != nil {
		removeAll(st.path)
		return nil, err
	}
	return e, nil
}

func (s *Store) commitLocked(name string, st *staged, o AddOptions) (*Entry, error) {
	for _, r := range o.References {
		if !s.exists(r) {
			return nil, fmt.Errorf("reference %s: %w; add it first", r, ErrNotFound)
		}
	}
	m, err := s.readMeta(name)
	if err == nil && s.lost(m) {
		// Its data went missing behind the store's back: what was just
		// staged puts it back.
		if err := os.Remove(s.metaPath(name)); err != nil {
			return nil, fmt.Errorf("replace the lost entry %s: %w", name, err)
		}
		err = fmt.Errorf("entry %s: %w", name, ErrNotFound)
	}
	if err == nil {
		if o.Deriver.IsZero() && m.ContentHash != st.content {
			return nil, fmt.Errorf("store path %s already holds different content (%s); run `silo store verify`", name, m.ContentHash)
		}
		if err := s.holdLocked(name); err != nil {
			return nil, err
		}
		if m.Compressed && st.content == m.ContentHash {
			// The raw bytes were just staged: put them back in place
			// of the compressed form.
			return s.restoreLocked(m, st)
		}
		removeAll(st.path)
		s.touch(name)
		return m.entry(), nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	return s.commitNew(name, st, o)
}

// lost reports whether the entry m describes has neither its data nor,
// when compressed, its compressed form.
func (s *Store) lost(m *metaFile) bool {
	p := s.entryPath(m.Name)
	if m.Compressed {
		p = s.zstPath(m.Name)
	}
	_, err := os.Lstat(p)
	return errors.Is(err, os.ErrNotExist)
}

// commitNew moves the staged data into the store as the new entry name
// and writes its metadata.
func (s *Store) commitNew(name string, st *staged, o AddOptions) (*Entry, error) {
	tmp := filepath.Dir(st.path)
	intent := filepath.Join(tmp, "intent-"+name)
	if err := os.WriteFile(intent, nil, 0o600); err != nil {
		return nil, fmt.Errorf("record intent: %w", roErr(err))
	}
	defer os.Remove(intent)
	err := unix.Renameat2(unix.AT_FDCWD, st.path, unix.AT_FDCWD, s.entryPath(name), unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EEXIST) {
		// Another process renamed the same entry in and has not written
		// its metadata yet (or died before it could): adopt what is there.
		removeAll(st.path)
		if st, err = s.statEntry(name); err != nil {
			return nil, fmt.Errorf("adopt %s: %w", name, err)
		}
		if o.Deriver.IsZero() && PathHash(st.content) != name[:pathHashLen] {
			return nil, fmt.Errorf("store path %s holds different content", name)
		}
	} else if err != nil {
		return nil, fmt.Errorf("rename into the store: %w", err)
	}
	if st.dir {
		// The top directory was left writable for the rename.
		if err := chmod(s.entryPath(name), st.mode); err != nil {
			return nil, err
		}
	}
	if err := syncDir(s.dir); err != nil {
		return nil, err
	}
	now := time.Now()
	m := &metaFile{Mode: st.mode, Entry: Entry{
		Name: name, Path: s.entryPath(name), Kind: o.Kind, Dir: st.dir,
		ContentHash: st.content, Deriver: o.Deriver,
		Size: st.size, DiskSize: st.disk, RawDiskSize: st.disk,
		References: o.References, Rebuildable: o.Rebuildable, Annotations: o.Annotations,
		Created: now, LastUsed: now,
	}}
	if !o.Deriver.IsZero() {
		if err := s.indexContent(st.content, name); err != nil {
			return nil, err
		}
	}
	if err := s.writeMeta(m); err != nil {
		return nil, err
	}
	if !o.Deriver.IsZero() {
		// An index for ByDeriver, which every warm run asks; advisory: a
		// lookup that misses it falls back to a scan.
		if err := s.writeRealisation(deriverKey(o.Deriver), name); err != nil {
			return nil, err
		}
	}
	if err := s.holdLocked(name); err != nil {
		return nil, err
	}
	return m.entry(), nil
}

// statEntry hashes and measures the entry name as it sits in the store.
func (s *Store) statEntry(name string) (*staged, error) {
	p := s.entryPath(name)
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		h := newHasher()
		op := newTreeOp(h)
		if err := op.run(p); err != nil {
			return nil, err
		}
		return &staged{path: p, dir: true, content: sumOf(h), size: op.size, disk: op.disk, mode: op.topMode}, nil
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is neither a file nor a directory", p)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h, err := hashFile(f, fi.Size())
	if err != nil {
		return nil, err
	}
	return &staged{path: p, content: h, size: fi.Size(), disk: diskSize(fi), mode: canonMode(uint32(fi.Mode().Perm()))}, nil
}

// indexContent records that the derivation-addressed entry name holds
// content h, for ByContent: an empty file .idx/content/<hex>/<name>.
func (s *Store) indexContent(h Hash, name string) error {
	d := filepath.Join(s.idx, "content", h.String()[len(hashPrefix):])
	if err := os.MkdirAll(d, 0o755); err != nil {
		return fmt.Errorf("index %s: %w", name, err)
	}
	if err := os.WriteFile(filepath.Join(d, name), nil, 0o644); err != nil {
		return fmt.Errorf("index %s: %w", name, err)
	}
	return nil
}

// restoreLocked renames st, the raw content of the compressed entry m,
// into place and records it; the caller holds the store lock.
func (s *Store) restoreLocked(m *metaFile, st *staged) (*Entry, error) {
	err := unix.Renameat2(unix.AT_FDCWD, st.path, unix.AT_FDCWD, s.entryPath(m.Name), unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EEXIST) {
		removeAll(st.path)
	} else if err != nil {
		return nil, fmt.Errorf("restore %s: %w", m.Name, err)
	} else if st.dir {
		if err := chmod(s.entryPath(m.Name), st.mode); err != nil {
			return nil, err
		}
	}
	if err := syncDir(s.dir); err != nil {
		return nil, err
	}
	m, err = s.markDecompressedLocked(m.Name)
	if err != nil {
		return nil, err
	}
	s.touch(m.Name)
	return m.entry(), nil
}
