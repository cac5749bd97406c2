package store

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// RootKind says how a root keeps entries alive.
type RootKind string

// The kinds of roots.
const (
	RootDirect    RootKind = "direct"    // a named symlink roots/<name> -> store entry
	RootIndirect  RootKind = "indirect"  // entries pinned while an external file (a project's silo.lock) exists
	RootTemporary RootKind = "temporary" // entries held by a live process
)

// Root is one root and the entries it keeps alive.
type Root struct {
	Kind     RootKind `json:"kind"`
	Name     string   `json:"name"`    // direct: the root's name; indirect: the external path; temporary: the holder's id
	Entries  []string `json:"entries"` // store names
	Dangling bool     `json:"dangling,omitempty"`
}

// AddRoot makes roots/<name> a direct root of entry, replacing any root of
// that name.
func (s *Store) AddRoot(name, entry string) error {
	if err := checkName(name); err != nil {
		return fmt.Errorf("add root: %w", err)
	}
	n, err := s.entryName(entry)
	if err != nil {
		return fmt.Errorf("add root %s: %w", name, err)
	}
	unlock, err := s.lock(false)
	if err != nil {
		return err
	}
	defer unlock()
	if !s.exists(n) {
		return fmt.Errorf("add root %s: entry %s: %w", name, n, ErrNotFound)
	}
	tmp := filepath.Join(s.roots, ".new-"+s.id)
	os.Remove(tmp)
	if err := os.Symlink(filepath.Join("..", "store", n), tmp); err != nil {
		return fmt.Errorf("add root %s: %w", name, roErr(err))
	}
	if err := os.Rename(tmp, filepath.Join(s.roots, name)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("add root %s: %w", name, err)
	}
	return syncDir(s.roots)
}

// RemoveRoot removes the direct root name.
func (s *Store) RemoveRoot(name string) error {
	if err := checkName(name); err != nil {
		return fmt.Errorf("remove root: %w", err)
	}
	err := os.Remove(filepath.Join(s.roots, name))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove root %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("remove root %s: %w", name, err)
	}
	return nil
}

// indirectRoot is the record of an indirect root in roots/.indirect/.
// Entries is what it keeps: the union of Parts when the record has parts.
type indirectRoot struct {
	External string              `json:"external"`
	Entries  []string            `json:"entries"`
	Parts    map[string][]string `json:"parts,omitempty"`
}

// indirectPath returns the record file for the external path abs.
func (s *Store) indirectPath(abs string) string {
	return filepath.Join(s.roots, indirectDir, HashBytes([]byte(abs)).String()[len(hashPrefix):40]+".json")
}

// AddIndirectRoot pins entries for as long as the file external (e.g. a
// project's silo.lock) exists; GC prunes the root once it is gone. Calling
// it again for the same file replaces its entries.
func (s *Store) AddIndirectRoot(external string, entries []string) error {
	return s.SetIndirectRootParts(external, map[string][]string{"": entries}, func(string) bool { return false })
}

// SetIndirectRootParts pins entries for as long as the file external
// exists, in named parts (a project's silo.lock roots each tool's closure
// as one part): each part in set replaces the part of that name, the
// other parts are kept if keep(name) says so and dropped otherwise. An
// empty set and keep that keeps nothing leaves a root that keeps nothing.
// Entries a record held before it had parts are kept as the part "".
func (s *Store) SetIndirectRootParts(external string, set map[string][]string, keep func(part string) bool) error {
	abs, err := filepath.Abs(external)
	if err != nil {
		return fmt.Errorf("add indirect root %s: %w", external, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return fmt.Errorf("add indirect root: %w", err)
	}
	unlock, err := s.lock(false)
	if err != nil {
		return err
	}
	defer unlock()
	parts := s.indirectParts(abs)
	for name := range parts {
		if _, ok := set[name]; !ok && !keep(name) {
			delete(parts, name)
		}
	}
	for name, entries := range set {
		names, err := s.existingNames(entries)
		if err != nil {
			return fmt.Errorf("add indirect root %s: %w", abs, err)
		}
		parts[name] = names
	}
	var all []string
	for _, names := range parts {
		all = append(all, names...)
	}
	slices.Sort(all)
	b, _ := json.Marshal(indirectRoot{External: abs, Entries: slices.Compact(all), Parts: parts})
	if err := s.writeAtomic(s.indirectPath(abs), b); err != nil {
		return fmt.Errorf("add indirect root %s: %w", abs, err)
	}
	return nil
}

// indirectParts are the parts of abs's indirect root record; a record
// without parts gives its entries as the part "".
func (s *Store) indirectParts(abs string) map[string][]string {
	parts := map[string][]string{}
	b, err := os.ReadFile(s.indirectPath(abs))
	if err != nil {
		return parts
	}
	var r indirectRoot
	if json.Unmarshal(b, &r) != nil || r.External != abs {
		return parts
	}
	if r.Parts == nil {
		if len(r.Entries) > 0 {
			parts[""] = r.Entries
		}
		return parts
	}
	return r.Parts
}

// existingNames are entries as sorted, unique store names, each of which
// must exist.
func (s *Store) existingNames(entries []string) ([]string, error) {
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		n, err := s.entryName(e)
		if err != nil {
			return nil, err
		}
		if !s.exists(n) {
			return nil, fmt.Errorf("entry %s: %w", n, ErrNotFound)
		}
		names = append(names, n)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// RemoveIndirectRoot drops the indirect root for external.
func (s *Store) RemoveIndirectRoot(external string) error {
	abs, err := filepath.Abs(external)
	if err != nil {
		return fmt.Errorf("remove indirect root %s: %w", external, err)
	}
	if err := os.Remove(s.indirectPath(abs)); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove indirect root %s: %w", abs, ErrNotFound)
	} else if err != nil {
		return fmt.Errorf("remove indirect root %s: %w", abs, err)
	}
	return nil
}

// Roots lists every root: direct, indirect and live temporary ones.
func (s *Store) Roots() ([]Root, error) {
	d, err := s.directRoots()
	if err != nil {
		return nil, err
	}
	in, err := s.indirectRoots(false)
	if err != nil {
		return nil, err
	}
	t, err := s.tempRootList()
	if err != nil {
		return nil, err
	}
	return append(append(d, in...), t...), nil
}

// directRoots reads the symlinks under roots/.
func (s *Store) directRoots() ([]Root, error) {
	ents, err := os.ReadDir(s.roots)
	if err != nil {
		return nil, fmt.Errorf("read roots: %w", err)
	}
	var out []Root
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") || e.Type()&os.ModeSymlink == 0 {
			continue
		}
		target, err := os.Readlink(filepath.Join(s.roots, e.Name()))
		if err != nil {
			continue
		}
		n := filepath.Base(target)
		out = append(out, Root{Kind: RootDirect, Name: e.Name(), Entries: []string{n}, Dangling: !s.exists(n)})
	}
	return out, nil
}

// indirectRoots reads roots/.indirect. With prune, the records of
// external files that no longer exist are removed and left out.
func (s *Store) indirectRoots(prune bool) ([]Root, error) {
	dir := filepath.Join(s.roots, indirectDir)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read indirect roots: %w", err)
	}
	var out []Root
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var r indirectRoot
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("indirect root %s is corrupt (%v); remove it", p, err)
		}
		_, serr := os.Stat(r.External)
		gone := errors.Is(serr, os.ErrNotExist)
		if gone && prune {
			os.Remove(p)
			continue
		}
		out = append(out, Root{Kind: RootIndirect, Name: r.External, Entries: r.Entries, Dangling: gone})
	}
	return out, nil
}

// tempRootList lists live temporary roots.
func (s *Store) tempRootList() ([]Root, error) {
	dir := filepath.Join(s.roots, tempRoots)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read temporary roots: %w", err)
	}
	var out []Root
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if !tempRootAlive(p) {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		r := Root{Kind: RootTemporary, Name: e.Name()}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if sc.Text() != "" {
				r.Entries = append(r.Entries, sc.Text())
			}
		}
		f.Close()
		out = append(out, r)
	}
	return out, nil
}
