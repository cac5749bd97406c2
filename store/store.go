package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	homedir "github.com/silo-dev/silo/internal/home"
)

// Store is an open handle on a store. It is safe for concurrent use by
// multiple goroutines; many processes may open the same store at once.
//
// Every entry a handle adds or uses is held by the handle's temporary root
// until Close or until the process dies.
type Store struct {
	home  string // $SILO_HOME
	dir   string // home/store
	tmp   string // home/store/.tmp
	meta  string // home/store/.meta
	zst   string // home/store/.zst
	idx   string // home/store/.idx
	real  string // home/store/.real
	roots string // home/roots

	id   string // this handle's owner id: <pid>-<random>
	mu   sync.Mutex
	own  *TempRoot // the handle's temporary root
	held map[string]bool
	seq  int

	progress Progress // SetProgress; nil: nothing told
}

// Layout directory names under the store directory and under roots/.
const (
	tmpDir      = ".tmp"
	metaDir     = ".meta"
	zstDir      = ".zst"
	idxDir      = ".idx"
	realDir     = ".real"
	lockFile    = ".lock"
	tempRoots   = ".temp"
	indirectDir = ".indirect"
)

// Open creates or opens the store under home ($SILO_HOME): entries live in
// home/store, roots in home/roots. home is made private first
// (internal/home's Secure). It sweeps staging files and temporary
// roots left behind by processes that died.
func Open(home string) (*Store, error) { return OpenWith(home, OpenOptions{}) }

// OpenOptions are Open's options.
type OpenOptions struct {
	// Progress is told about the handle's long steps (SetProgress),
	// from Open's own wait for the store lock on.
	Progress Progress
}

// OpenWith is Open with options.
func OpenWith(home string, o OpenOptions) (*Store, error) {
	abs, err := filepath.Abs(home)
	if err != nil {
		return nil, fmt.Errorf("open store: resolve %s: %w", home, err)
	}
	if err := homedir.Dir(abs).Secure(nil); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	dir := filepath.Join(abs, "store")
	s := &Store{
		home: abs, dir: dir,
		tmp:   filepath.Join(dir, tmpDir),
		meta:  filepath.Join(dir, metaDir),
		zst:   filepath.Join(dir, zstDir),
		idx:   filepath.Join(dir, idxDir),
		real:  filepath.Join(dir, realDir),
		roots: filepath.Join(abs, "roots"),
		held:  map[string]bool{},

		progress: o.Progress,
	}
	if err := s.makeLayout(); err != nil {
		return nil, err
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.id = fmt.Sprintf("%d-%s", os.Getpid(), hex.EncodeToString(rnd[:]))
	own, err := s.newTempRootFile(s.id)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, roErr(err))
	}
	s.own = own
	if err := s.sweepDead(); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	return s, nil
}

// makeLayout creates the store's directories and lock file.
func (s *Store) makeLayout() error {
	for _, d := range []string{s.dir, s.tmp, s.meta, s.zst, filepath.Join(s.idx, "content"), s.real,
		s.roots, filepath.Join(s.roots, tempRoots), filepath.Join(s.roots, indirectDir)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("open store: create %s: %w", d, roErr(err))
		}
	}
	f, err := os.OpenFile(filepath.Join(s.dir, lockFile), os.O_RDONLY|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open store: create lock file: %w", roErr(err))
	}
	return f.Close()
}

// roErr adds advice to errors caused by a read-only filesystem.
func roErr(err error) error {
	if errors.Is(err, syscall.EROFS) {
		return fmt.Errorf("%w: the store must be on a writable filesystem; set SILO_HOME to a writable directory", err)
	}
	return err
}

// Home returns the store's home directory ($SILO_HOME).
func (s *Store) Home() string { return s.home }

// Dir returns the directory that holds the entries: Home()/store.
func (s *Store) Dir() string { return s.dir }

// Close releases the handle's temporary root and staging directory. The
// entries it held become collectable unless something else roots them.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.own == nil {
		return nil
	}
	err := removeAll(filepath.Join(s.tmp, s.id))
	if rerr := s.own.Release(); err == nil {
		err = rerr
	}
	s.own = nil
	return err
}

// ownTmp returns (creating it) this handle's staging directory.
func (s *Store) ownTmp() (string, error) {
	d := filepath.Join(s.tmp, s.id)
	if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("create staging directory: %w", roErr(err))
	}
	return d, nil
}

// MkTemp creates a staging directory inside store/.tmp, on the store's
// filesystem, so that AddDir or AddFile with Move can rename what is built
// there into the store. It is swept by a later Open if this process dies;
// the caller removes it otherwise.
func (s *Store) MkTemp(pattern string) (string, error) {
	d, err := s.ownTmp()
	if err != nil {
		return "", err
	}
	p, err := os.MkdirTemp(d, pattern)
	if err != nil {
		return "", fmt.Errorf("create staging directory: %w", roErr(err))
	}
	return p, nil
}

// entryPath returns the absolute path of the store entry name.
func (s *Store) entryPath(name string) string { return filepath.Join(s.dir, name) }

// zstPath returns the path of name's compressed form.
func (s *Store) zstPath(name string) string { return filepath.Join(s.zst, name+".zst") }

// removeAll removes path even when it holds read-only directories.
func removeAll(path string) error {
	err := os.RemoveAll(path)
	if err == nil {
		return nil
	}
	makeRemovable(path)
	return os.RemoveAll(path)
}

// makeRemovable opens up every directory of a tree, before reading it:
// a store tree's directories have no write bits, and an image may ship
// directories with none at all.
func makeRemovable(p string) {
	fi, err := os.Lstat(p)
	if err != nil || !fi.IsDir() {
		return
	}
	_ = os.Chmod(p, 0o700)
	f, err := os.Open(p)
	if err != nil {
		return
	}
	names, _ := f.Readdirnames(-1)
	f.Close()
	for _, n := range names {
		makeRemovable(filepath.Join(p, n))
	}
}

// renameOut moves the store entry p (a file or a read-only tree) to dst,
// on the same filesystem. A directory is made writable first: renaming it
// to a new parent needs write permission on it.
func renameOut(p, dst string) error {
	err := os.Rename(p, dst)
	if !errors.Is(err, os.ErrPermission) {
		return err
	}
	if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
		if err := os.Chmod(p, 0o700); err != nil {
			return err
		}
	}
	return os.Rename(p, dst)
}
