package store

import (
	"errors"
	"fmt"
	"github.com/silo-dev/silo/internal/fsutil"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// lock takes the store lock, shared or exclusive, and returns its release.
// Each call uses its own open file description, so that goroutines of one
// process exclude each other exactly as processes do.
func (s *Store) lock(exclusive bool) (func(), error) {
	f, err := os.Open(filepath.Join(s.dir, lockFile))
	if err != nil {
		return nil, fmt.Errorf("open store lock: %w", err)
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	err = flock(f, how|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		// Another silo holds it (a GC, most likely): say who, and wait.
		what := "waiting for the store lock"
		if h := lockHolder(f, exclusive); h != "" {
			what += ", held by " + h
		}
		p := s.prog()
		p.Begin(what, "")
		err = flock(f, how)
		p.End()
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("take store lock: %w", err)
	}
	return func() { f.Close() }, nil
}

// flock is flock(2) retried on EINTR.
func flock(f *os.File, how int) error { return fsutil.Flock(f, how) }

// TempRoot keeps entries alive while the process that holds it lives. It is
// a file under roots/.temp listing entry names, locked with flock(2) by its
// owner: the kernel drops the lock when the process dies, even by SIGKILL,
// and the next GC or Open removes the file.
type TempRoot struct {
	s     *Store
	path  string
	mu    sync.Mutex
	f     *os.File
	names map[string]bool
}

// newTempRootFile creates and locks roots/.temp/<id>. The file is created
// and locked under a temporary name and renamed into place, so that no
// other process ever sees it unlocked and takes it for a dead one's; if a
// sweeper probes or removes the temporary name in between, it tries again.
func (s *Store) newTempRootFile(id string) (*TempRoot, error) {
	p := filepath.Join(s.roots, tempRoots, id)
	for range 100 {
		f, err := os.OpenFile(p+".new", os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("create temporary root: %w", err)
		}
		if err := flock(f, unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			os.Remove(p + ".new")
			if errors.Is(err, unix.EWOULDBLOCK) {
				// A sweeper is probing the new file and will remove it as
				// dead: start again under the same name.
				continue
			}
			return nil, fmt.Errorf("lock temporary root %s: %w", p, err)
		}
		err = os.Rename(p+".new", p)
		if err == nil {
			return &TempRoot{s: s, path: p, f: f, names: map[string]bool{}}, nil
		}
		f.Close()
		if !errors.Is(err, os.ErrNotExist) {
			os.Remove(p + ".new")
			return nil, fmt.Errorf("create temporary root: %w", err)
		}
	}
	return nil, fmt.Errorf("create temporary root %s: it kept disappearing", p)
}

// TempRoot creates a temporary root holding entries, kept until Release or
// until this process dies.
func (s *Store) TempRoot(entries ...string) (*TempRoot, error) {
	s.mu.Lock()
	s.seq++
	id := fmt.Sprintf("%s.%d", s.id, s.seq)
	s.mu.Unlock()
	t, err := s.newTempRootFile(id)
	if err != nil {
		return nil, err
	}
	if err := t.Add(entries...); err != nil {
		t.Release()
		return nil, err
	}
	return t, nil
}

// Add holds more entries. Each must exist.
func (t *TempRoot) Add(names ...string) error {
	if len(names) == 0 {
		return nil
	}
	unlock, err := t.s.lock(false)
	if err != nil {
		return err
	}
	defer unlock()
	for i, n := range names {
		name, err := t.s.entryName(n)
		if err != nil {
			return fmt.Errorf("add temporary root: %w", err)
		}
		if !t.s.exists(name) {
			return fmt.Errorf("add temporary root: entry %s: %w", name, ErrNotFound)
		}
		names[i] = name
	}
	return t.addLocked(names...)
}

// addLocked records names; the caller holds the store lock (shared).
func (t *TempRoot) addLocked(names ...string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f == nil {
		return errors.New("add temporary root: it was released")
	}
	var b strings.Builder
	for _, n := range names {
		if !t.names[n] {
			t.names[n] = true
			b.WriteString(n + "\n")
		}
	}
	if b.Len() == 0 {
		return nil
	}
	if _, err := t.f.WriteString(b.String()); err != nil {
		return fmt.Errorf("write temporary root %s: %w", t.path, err)
	}
	return nil
}

// Release drops the root; its entries become collectable unless something
// else roots them.
func (t *TempRoot) Release() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f == nil {
		return nil
	}
	err := os.Remove(t.path)
	if cerr := t.f.Close(); err == nil {
		err = cerr
	}
	t.f = nil
	if err != nil {
		return fmt.Errorf("release temporary root: %w", err)
	}
	return nil
}

// holdLocked puts names in the handle's own temporary root; the caller
// holds the store lock.
func (s *Store) holdLocked(names ...string) error {
	s.mu.Lock()
	own := s.own
	s.mu.Unlock()
	if own == nil {
		return errors.New("the store handle is closed")
	}
	return own.addLocked(names...)
}

// tempRootAlive reports whether the temporary root file at p is held by a
// live process. A dead one is removed.
func tempRootAlive(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := flock(f, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return true
	}
	os.Remove(p)
	return false
}

// liveTempRoots returns the names held by live temporary roots and removes
// the files of dead ones.
func (s *Store) liveTempRoots() (map[string]bool, error) {
	roots, err := s.tempRootList()
	if err != nil {
		return nil, err
	}
	held := map[string]bool{}
	for _, r := range roots {
		for _, n := range r.Entries {
			held[n] = true
		}
	}
	return held, nil
}
