package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ownerAlive reports whether the store handle with owner id is alive: its
// temporary root file exists and is locked.
func (s *Store) ownerAlive(id string) bool {
	if id == s.id {
		return true
	}
	return tempRootAlive(filepath.Join(s.roots, tempRoots, id))
}

// sweepDead removes the temporary roots and staging directories of
// processes that died. A dead process's unfinished commits (intent files)
// are rolled back under the exclusive store lock: an entry renamed into
// place without metadata is removed.
func (s *Store) sweepDead() error {
	// Dead temporary roots go first; tempRootAlive removes them.
	dir := filepath.Join(s.roots, tempRoots)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read temporary roots: %w", err)
	}
	for _, e := range ents {
		if e.Name() != s.id {
			tempRootAlive(filepath.Join(dir, e.Name()))
		}
	}
	return s.sweepTmp(false)
}

// sweepTmp removes the staging directories of dead owners. locked says
// whether the caller already holds the exclusive store lock.
func (s *Store) sweepTmp(locked bool) error {
	ents, err := os.ReadDir(s.tmp)
	if err != nil {
		return fmt.Errorf("read %s: %w", s.tmp, err)
	}
	var dead []string
	for _, e := range ents {
		if !s.ownerAlive(e.Name()) {
			dead = append(dead, filepath.Join(s.tmp, e.Name()))
		}
	}
	var intents []string
	for _, d := range dead {
		names, _ := filepath.Glob(filepath.Join(d, "intent-*"))
		intents = append(intents, names...)
	}
	if len(intents) > 0 && !locked {
		unlock, err := s.lock(true)
		if err != nil {
			return err
		}
		defer unlock()
	}
	for _, in := range intents {
		name := strings.TrimPrefix(filepath.Base(in), "intent-")
		if checkStoreName(name) != nil || s.exists(name) {
			continue
		}
		if err := removeAll(s.entryPath(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("roll back unfinished add of %s: %w", name, err)
		}
	}
	for _, d := range dead {
		if err := removeAll(d); err != nil {
			return fmt.Errorf("sweep %s: %w", d, err)
		}
	}
	return nil
}
