package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/silo-dev/silo/internal/fsutil"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Get returns the entry with the given store name, or the entry holding a
// path inside the store. errors.Is(err, ErrNotFound) when it is absent.
func (s *Store) Get(nameOrPath string) (*Entry, error) {
	name, err := s.entryName(nameOrPath)
	if err != nil {
		return nil, err
	}
	m, err := s.readMeta(name)
	if err != nil {
		return nil, err
	}
	return m.entry(), nil
}

// names returns the store names that have metadata, sorted.
func (s *Store) names() ([]string, error) {
	f, err := os.Open(s.meta)
	if err != nil {
		return nil, fmt.Errorf("list the store: %w", err)
	}
	defer f.Close()
	all, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("list the store: %w", err)
	}
	out := all[:0]
	for _, n := range all {
		if name, ok := strings.CutSuffix(n, ".json"); ok && !strings.HasPrefix(n, ".") {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// ByPrefix returns the entries whose store name starts with prefix, or,
// for a prefix starting with "blake3:", whose content hash does.
func (s *Store) ByPrefix(prefix string) ([]*Entry, error) {
	if strings.HasPrefix(prefix, hashPrefix) {
		all, err := s.List(Filter{})
		if err != nil {
			return nil, err
		}
		var out []*Entry
		for _, e := range all {
			if strings.HasPrefix(e.ContentHash.String(), prefix) {
				out = append(out, e)
			}
		}
		return out, nil
	}
	return s.withPrefix(prefix, func(*Entry) bool { return true })
}

// withPrefix returns the entries whose name starts with prefix and that
// keep accepts.
func (s *Store) withPrefix(prefix string, keep func(*Entry) bool) ([]*Entry, error) {
	names, err := s.names()
	if err != nil {
		return nil, err
	}
	var out []*Entry
	for _, n := range names {
		if !strings.HasPrefix(n, prefix) {
			continue
		}
		m, err := s.readMeta(n)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if e := m.entry(); keep(e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// ByContent returns the entries whose content hash is h: content-addressed
// ones and derivation-addressed ones that produced the same bytes.
func (s *Store) ByContent(h Hash) ([]*Entry, error) {
	out, err := s.withPrefix(PathHash(h)+"-", func(e *Entry) bool { return e.ContentHash == h })
	if err != nil {
		return nil, err
	}
	idx, _ := os.ReadDir(filepath.Join(s.idx, "content", h.String()[len(hashPrefix):]))
	for _, d := range idx {
		m, err := s.readMeta(d.Name())
		if err == nil && m.ContentHash == h && !slices.ContainsFunc(out, func(e *Entry) bool { return e.Name == m.Name }) {
			out = append(out, m.entry())
		}
	}
	return out, nil
}

// ByDeriver returns the entry derivation h produced; ErrNotFound when
// absent.
func (s *Store) ByDeriver(h Hash) (*Entry, error) {
	if e, err := s.Realisation(deriverKey(h)); err == nil && e.Deriver == h {
		return e, nil
	}
	out, err := s.withPrefix(PathHash(h)+"-", func(e *Entry) bool { return e.Deriver == h })
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("output of derivation %s: %w", h, ErrNotFound)
	}
	return out[0], nil
}

// SetOutput makes the entry name, an output of derivation h, the one
// ByDeriver returns for h from now on: a derivation rebuilt to other bytes
// (silo rebuild of a step that is not reproducible) has several outputs,
// each its own entry, and the newest is its default.
func (s *Store) SetOutput(h Hash, name string) error {
	e, err := s.Get(name)
	if err != nil {
		return err
	}
	if e.Deriver != h {
		return fmt.Errorf("entry %s is not an output of derivation %s", e.Name, h)
	}
	return s.SetRealisation(deriverKey(h), e.Name)
}

// deriverKey is the realisation key that indexes derivation h's output.
func deriverKey(h Hash) string { return "deriver:" + h.String() }

// Filter selects entries for List. The zero value selects all.
type Filter struct {
	Kind      Kind          // only this kind
	Prefix    string        // only names starting with this
	UnusedFor time.Duration // only entries not used for at least this long
}

// List returns the entries f selects, sorted by name. Entries whose
// metadata cannot be read are left out (Verify reports them).
func (s *Store) List(f Filter) ([]*Entry, error) {
	cutoff := time.Now().Add(-f.UnusedFor)
	all, err := s.withPrefix(f.Prefix, func(e *Entry) bool {
		return (f.Kind == "" || e.Kind == f.Kind) && (f.UnusedFor == 0 || e.LastUsed.Before(cutoff))
	})
	return all, err
}

// Use makes name ready to read at its Path (decompressing it when it was
// compressed), records the use, and holds it in the handle's temporary
// root.
func (s *Store) Use(name string) (*Entry, error) {
	n, err := s.entryName(name)
	if err != nil {
		return nil, err
	}
	unlock, err := s.lock(false)
	if err != nil {
		return nil, err
	}
	m, err := s.readMeta(n)
	if err == nil {
		err = s.holdLocked(n)
	}
	unlock()
	if err != nil {
		return nil, fmt.Errorf("use %s: %w", n, err)
	}
	if m.Compressed {
		if m, err = s.decompress(m); err != nil {
			return nil, fmt.Errorf("use %s: %w", n, err)
		}
	} else if _, err := os.Lstat(m.Path); err != nil {
		return nil, fmt.Errorf("use %s: %w; run `silo store verify --repair` and fetch it again", n, err)
	}
	s.touch(n)
	m.LastUsed = time.Now()
	return m.entry(), nil
}

// realisation is a key -> entry mapping stored in .real/.
type realisation struct {
	Key  string `json:"key"`
	Name string `json:"name"`
}

func (s *Store) realPath(key string) string {
	return filepath.Join(s.real, HashBytes([]byte(key)).String()[len(hashPrefix):]+".json")
}

// SetRealisation maps key (e.g. "oci:sha256:…") to the entry name. The
// mapping is dropped when the entry is collected.
func (s *Store) SetRealisation(key, name string) error {
	n, err := s.entryName(name)
	if err != nil {
		return err
	}
	unlock, err := s.lock(false)
	if err != nil {
		return err
	}
	defer unlock()
	if !s.exists(n) {
		return fmt.Errorf("realise %s: entry %s: %w", key, n, ErrNotFound)
	}
	return s.writeRealisation(key, n)
}

// writeRealisation records key → name; the caller holds the store lock
// and has checked that name exists.
func (s *Store) writeRealisation(key, name string) error {
	b, _ := json.Marshal(realisation{Key: key, Name: name})
	if err := s.writeAtomic(s.realPath(key), b); err != nil {
		return fmt.Errorf("realise %s: %w", key, err)
	}
	return nil
}

// Realisation returns the entry key maps to; ErrNotFound when there is no
// mapping or the entry is gone.
func (s *Store) Realisation(key string) (*Entry, error) {
	b, err := os.ReadFile(s.realPath(key))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("realisation %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("realisation %s: %w", key, err)
	}
	var r realisation
	if err := json.Unmarshal(b, &r); err != nil || r.Key != key {
		return nil, fmt.Errorf("realisation %s: %w (its record is corrupt)", key, ErrNotFound)
	}
	e, err := s.Get(r.Name)
	if err != nil {
		return nil, fmt.Errorf("realisation %s: %w", key, err)
	}
	return e, nil
}

// writeAtomic writes b to p durably, staged in the handle's own temporary
// space.
func (s *Store) writeAtomic(p string, b []byte) error {
	tmp, err := s.ownTmp()
	if err != nil {
		return err
	}
	return roErr(fsutil.WriteFile(p, b, fsutil.WriteOptions{TempDir: tmp, Sync: true}))
}
