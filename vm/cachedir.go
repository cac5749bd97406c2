package vm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// OpenCacheDir opens the directory root/rel, a tool's package cache, for a
// backend to bind into the sandbox, making the components that are missing
// (0700). No symlink is followed below root: each component is made with
// mkdirat in the one before and opened beneath it with
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS (O_NOFOLLOW where the kernel has no
// openat2). A sandbox can change what a cache holds, and may have left a
// link to / or ~/.ssh where a later run's cache directory would be: that
// run fails here, naming the link, instead of binding what it points at.
// The backend binds the open directory itself (Mount.Dir), so nothing
// swapped in after this call is bound either.
//
// root is silo's own ($SILO_HOME/cache), which no sandbox sees; rel must
// be relative and free of `..`.
func OpenCacheDir(root, rel string) (*os.File, error) {
	parts, err := cacheParts(rel)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("make the cache directory %s: %w", root, err)
	}
	dir, err := unix.Open(root, dirFlags, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: root, Err: err}
	}
	at := root
	for _, p := range parts {
		at = filepath.Join(at, p)
		if err := unix.Mkdirat(dir, p, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			unix.Close(dir)
			return nil, fmt.Errorf("make the cache directory %s: %w", at, err)
		}
		next, err := openDirNoFollow(dir, p)
		unix.Close(dir)
		if err != nil {
			return nil, notCacheDir(at, err)
		}
		dir = next
	}
	return os.NewFile(uintptr(dir), filepath.Join(root, rel)), nil
}

// cacheParts splits rel into its components, refusing what could leave
// root.
func cacheParts(rel string) ([]string, error) {
	c := filepath.Clean(rel)
	if rel == "" || filepath.IsAbs(rel) || c == "." || c == ".." || strings.HasPrefix(c, "../") || strings.ContainsRune(rel, 0) {
		return nil, fmt.Errorf("cache directory %q is not a path inside the cache root", rel)
	}
	return strings.Split(filepath.ToSlash(c), "/"), nil
}

// notCacheDir words the error for a component that is not a directory.
func notCacheDir(at string, err error) error {
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.EXDEV) {
		what := "not a directory"
		if fi, lerr := os.Lstat(at); lerr == nil && fi.Mode()&os.ModeSymlink != 0 {
			what = "a symlink (a sandbox may have planted it)"
		}
		return fmt.Errorf("cache directory %s is %s: silo does not follow it; remove it (rm %s) and run again", at, what, at)
	}
	return &os.PathError{Op: "open", Path: at, Err: err}
}

// MountDirs returns the open directories of the spec's mounts (Mount.Dir),
// in order, skipping mounts that have none: what a backend hands its
// process, as ExtraFiles, to bind them.
func (s *Spec) MountDirs() []*os.File {
	var out []*os.File
	for _, m := range s.Mounts {
		if m.Dir != nil {
			out = append(out, m.Dir)
		}
	}
	return out
}

// CloseMounts closes the directories the spec's mounts hold open. Call it
// once the sandbox is gone.
func (s *Spec) CloseMounts() {
	for i := range s.Mounts {
		if d := s.Mounts[i].Dir; d != nil {
			d.Close()
			s.Mounts[i].Dir = nil
		}
	}
}
