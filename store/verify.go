package store

import (
	"errors"
	"fmt"
	"os"

	"github.com/klauspost/compress/zstd"
)

// ProblemKind names what Verify found wrong.
type ProblemKind string

// The problems Verify reports.
const (
	ProblemCorrupt        ProblemKind = "corrupt"          // the bytes do not hash to the recorded content hash
	ProblemBadMetadata    ProblemKind = "corrupt-metadata" // the metadata file cannot be read
	ProblemOrphanMetadata ProblemKind = "orphan-metadata"  // metadata whose entry is gone
	ProblemOrphanFile     ProblemKind = "orphan-file"      // a file in the store without metadata
	ProblemMissing        ProblemKind = "missing"          // a reference or a named entry that does not exist
)

// Problem is one thing Verify found wrong.
type Problem struct {
	Name     string      `json:"name"`
	Kind     ProblemKind `json:"kind"`
	Detail   string      `json:"detail"`
	Repaired bool        `json:"repaired,omitempty"`
}

// VerifyReport says what Verify checked and found.
type VerifyReport struct {
	Checked  int       `json:"checked"`
	Problems []Problem `json:"problems"`
}

// OK reports whether nothing is wrong (or everything wrong was repaired).
func (r *VerifyReport) OK() bool {
	for _, p := range r.Problems {
		if !p.Repaired {
			return false
		}
	}
	return true
}

// Verify re-hashes the named entries (all when names is empty) against
// their metadata, and, for a full check, looks for orphaned metadata and
// files. With repair, what is broken is removed so that it can be fetched
// or built again.
func (s *Store) Verify(names []string, repair bool) (*VerifyReport, error) {
	full := len(names) == 0
	if full {
		var err error
		if names, err = s.names(); err != nil {
			return nil, err
		}
	}
	rep := &VerifyReport{Problems: []Problem{}}
	for _, n := range names {
		name, err := s.entryName(n)
		if err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		rep.Checked++
		if p := s.verifyOne(name); p != nil {
			rep.Problems = append(rep.Problems, *p)
		}
	}
	if full {
		if err := s.verifyOrphans(rep); err != nil {
			return nil, err
		}
	}
	if repair {
		if err := s.repair(rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// verifyOne checks one entry; nil means it is sound.
func (s *Store) verifyOne(name string) *Problem {
	m, err := s.readMeta(name)
	if errors.Is(err, ErrNotFound) {
		if _, serr := os.Lstat(s.entryPath(name)); serr == nil {
			return &Problem{Name: name, Kind: ProblemOrphanFile, Detail: "the entry has no metadata"}
		}
		return &Problem{Name: name, Kind: ProblemMissing, Detail: "no such entry"}
	}
	if err != nil {
		return &Problem{Name: name, Kind: ProblemBadMetadata, Detail: err.Error()}
	}
	for _, r := range m.References {
		if !s.exists(r) {
			return &Problem{Name: name, Kind: ProblemMissing, Detail: "it refers to " + r + ", which is not in the store"}
		}
	}
	got, err := s.hashStored(m)
	if errors.Is(err, os.ErrNotExist) {
		if !s.exists(name) {
			return nil // collected meanwhile
		}
		return &Problem{Name: name, Kind: ProblemOrphanMetadata, Detail: "its file is gone"}
	}
	if err != nil {
		return &Problem{Name: name, Kind: ProblemCorrupt, Detail: err.Error()}
	}
	if got != m.ContentHash {
		return &Problem{Name: name, Kind: ProblemCorrupt, Detail: fmt.Sprintf("content hash is %s, want %s", got, m.ContentHash)}
	}
	if m.Deriver.IsZero() && PathHash(got) != name[:pathHashLen] {
		return &Problem{Name: name, Kind: ProblemCorrupt, Detail: "the name does not match the content hash"}
	}
	return nil
}

// hashStored hashes an entry as stored: raw when its file exists,
// otherwise through its compressed form.
func (s *Store) hashStored(m *metaFile) (Hash, error) {
	if _, err := os.Lstat(s.entryPath(m.Name)); err == nil || !m.Compressed {
		st, err := s.statEntry(m.Name)
		if err != nil {
			return Hash{}, err
		}
		if st.dir != m.Dir {
			return Hash{}, fmt.Errorf("it should be a %s", map[bool]string{true: "directory", false: "file"}[m.Dir])
		}
		return st.content, nil
	}
	f, err := os.Open(s.zstPath(m.Name))
	if err != nil {
		return Hash{}, err
	}
	defer f.Close()
	zr, err := zstd.NewReader(f)
	if err != nil {
		return Hash{}, err
	}
	defer zr.Close()
	if m.Dir {
		h, _, err := unpackTree(zr, "")
		return h, err
	}
	h := newHasher()
	if _, err := zr.WriteTo(h); err != nil {
		return Hash{}, fmt.Errorf("decompress: %w", err)
	}
	return sumOf(h), nil
}

// verifyOrphans reports files without metadata, under the exclusive lock
// so that an add in progress is not mistaken for one.
func (s *Store) verifyOrphans(rep *VerifyReport) error {
	unlock, err := s.lock(true)
	if err != nil {
		return err
	}
	defer unlock()
	names, err := s.names()
	if err != nil {
		return err
	}
	orphans, _, err := s.orphanFiles(names)
	if err != nil {
		return err
	}
	for _, o := range orphans {
		rep.Problems = append(rep.Problems, Problem{Name: o.Name, Kind: ProblemOrphanFile, Detail: "a file in the store without metadata"})
	}
	return nil
}

// repair removes what the problems name, under the exclusive lock.
func (s *Store) repair(rep *VerifyReport) error {
	unlock, err := s.lock(true)
	if err != nil {
		return err
	}
	trash, err := s.MkTemp("trash-")
	if err != nil {
		unlock()
		return err
	}
	defer removeAll(trash)
	defer unlock()
	kept := rep.Problems[:0]
	for _, p := range rep.Problems {
		if p.Kind == ProblemMissing {
			kept = append(kept, p)
			continue // nothing here to remove; fetch or rebuild what is missing
		}
		// The first look ran without the lock: a compress or a use may
		// have swapped the entry's form under it. Only what is still
		// broken now, with everyone else locked out, is removed.
		if s.verifyOne(p.Name) == nil {
			continue
		}
		if err := s.removeEntry(p.Name, true, trash); err != nil {
			return fmt.Errorf("repair %s: %w", p.Name, err)
		}
		p.Repaired = true
		kept = append(kept, p)
	}
	rep.Problems = kept
	return nil
}
