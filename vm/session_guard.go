package vm

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// A sandbox makes a protected path that does not exist read-only by
// mounting over an empty placeholder, and an excluded one private by
// mounting over an empty directory; both must exist in the host's
// workspace while the sandbox runs. When a placeholder's name is removed
// on the host, the kernel detaches the mounts on it in every other
// namespace, so a sandbox must not remove a placeholder that another
// sandbox of the same workspace still stands on. GuardWorkspace makes the
// placeholders on the host before the sandbox starts, shares them between
// the sandboxes of one workspace, and has the last one remove them.

// GuardWorkspace creates, in workspace, the placeholders the sandbox's
// protected and excluded paths need (every missing component, so that the
// agent finds them all and makes none of its own), and returns the
// protected paths to give the agent: the ones asked for, and every
// placeholder made for a protected path by this or a concurrent sandbox,
// so that a missing .git is itself read-only, not only .git/hooks. The
// release function drops this sandbox's hold; the last sandbox of the
// workspace to release removes the placeholders still empty. runDir holds
// the lock and the record, per workspace.
func GuardWorkspace(runDir, workspace string, protected, exclude []string) (guarded []string, release func(), err error) {
	if err := os.MkdirAll(runDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("workspace guard: %w", err)
	}
	sum := sha256.Sum256([]byte(workspace))
	base := filepath.Join(runDir, hex.EncodeToString(sum[:8]))
	mutex, err := lockFile(base+".lock", unix.LOCK_EX)
	if err != nil {
		return nil, nil, err
	}
	defer mutex.Close()
	users, err := lockFile(base+".users", unix.LOCK_SH)
	if err != nil {
		return nil, nil, err
	}
	// The record of the sandboxes already running, read under the mutex
	// before this one adds to it: what it holds is theirs and this one's.
	record, err := readLines(base + ".made")
	var made []string
	if err == nil {
		made, err = makePlaceholders(workspace, protected, exclude, guardedSet(record))
		record = append(record, made...)
	}
	if err == nil {
		err = appendLines(base+".made", made)
	}
	if err != nil {
		users.Close()
		return nil, nil, fmt.Errorf("workspace guard: %w", err)
	}
	guarded = append([]string(nil), protected...)
	for _, l := range record {
		if rel, ok := strings.CutPrefix(l, "p "); ok {
			guarded = append(guarded, rel)
		}
	}
	return guarded, func() { releaseGuard(base, workspace, users) }, nil
}

// releaseGuard drops this sandbox's hold and, if it was the last,
// removes the recorded placeholders.
func releaseGuard(base, workspace string, users *os.File) {
	mutex, err := lockFile(base+".lock", unix.LOCK_EX)
	if err != nil {
		users.Close()
		return
	}
	defer mutex.Close()
	users.Close()
	last, err := lockFile(base+".users", unix.LOCK_EX|unix.LOCK_NB)
	if err != nil {
		return // another sandbox of this workspace still runs
	}
	defer last.Close()
	made, _ := readLines(base + ".made")
	for i := len(made) - 1; i >= 0; i-- {
		if len(made[i]) > 2 {
			removeEmptyBeneath(workspace, made[i][2:])
		}
	}
	os.Remove(base + ".made")
}

// guardedSet is the set of protected placeholders in record lines.
func guardedSet(record []string) map[string]bool {
	held := map[string]bool{}
	for _, l := range record {
		if rel, ok := strings.CutPrefix(l, "p "); ok {
			held[rel] = true
		}
	}
	return held
}

// makePlaceholders creates what the paths need and returns the record
// lines of what it made, parents first: "p REL" for a protected path's,
// "x REL" for an excluded one's. A protected path needs one placeholder
// only, at its first missing component: that placeholder is itself
// read-only in the sandbox (and pinned), so nothing can be created under
// it, and the agent mounts there and skips the paths below (a project
// without git gets an empty .git, not also .git/hooks and .git/config).
// held holds the protected placeholders already made (by a running
// sandbox, or by an earlier path of this call): a path under one needs
// nothing more.
func makePlaceholders(workspace string, protected, exclude []string, held map[string]bool) ([]string, error) {
	var made []string
	for _, p := range protected {
		rel, err := protectedPlaceholder(workspace, p, strings.HasSuffix(p, "/"), held)
		if rel != "" {
			held[rel] = true
			made = append(made, "p "+rel)
		}
		if err != nil {
			return made, err
		}
	}
	for _, p := range exclude {
		m, err := placeholder(workspace, p, true)
		for _, rel := range m {
			made = append(made, "x "+rel)
		}
		if err != nil {
			return made, err
		}
	}
	return made, nil
}

// placeholder creates every missing component of rel: directories, and a
// file for the last one unless dir. A symlink or a file on the way stops
// it: the agent refuses or guards those itself.
func placeholder(workspace, rel string, dir bool) ([]string, error) {
	parts := strings.Split(strings.Trim(filepath.ToSlash(filepath.Clean("/"+rel)), "/"), "/")
	var made []string
	cur := workspace
	for i, c := range parts {
		if c == "" || c == ".." {
			return made, nil
		}
		cur = filepath.Join(cur, c)
		st, err := os.Lstat(cur)
		if err == nil {
			if !st.IsDir() || st.Mode()&os.ModeSymlink != 0 {
				return made, nil
			}
			continue
		}
		if !errors.Is(err, os.ErrNotExist) {
			return made, err
		}
		last := i == len(parts)-1
		if last && !dir {
			f, err := os.OpenFile(cur, os.O_CREATE|os.O_EXCL|os.O_WRONLY|unix.O_NOFOLLOW, 0o644)
			if err != nil {
				return made, err
			}
			f.Close()
		} else if err := os.Mkdir(cur, 0o755); err != nil {
			return made, err
		}
		rel, _ := filepath.Rel(workspace, cur)
		made = append(made, filepath.ToSlash(rel))
	}
	return made, nil
}

// protectedPlaceholder creates the first missing component of the
// protected path rel, a directory unless it is the last one and not dir,
// and returns it; "" when nothing is missing, when rel is under a held
// placeholder that is still there, or when a symlink or a file is on the way (the agent
// refuses or guards those itself).
func protectedPlaceholder(workspace, rel string, dir bool, held map[string]bool) (string, error) {
	parts := strings.Split(strings.Trim(filepath.ToSlash(filepath.Clean("/"+rel)), "/"), "/")
	cur := workspace
	for i, c := range parts {
		if c == "" || c == ".." {
			return "", nil
		}
		cur = filepath.Join(cur, c)
		r := strings.Join(parts[:i+1], "/")
		st, err := os.Lstat(cur)
		if err == nil {
			if held[r] || !st.IsDir() || st.Mode()&os.ModeSymlink != 0 {
				return "", nil
			}
			continue
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		if i == len(parts)-1 && !dir {
			f, err := os.OpenFile(cur, os.O_CREATE|os.O_EXCL|os.O_WRONLY|unix.O_NOFOLLOW, 0o644)
			if err != nil {
				return "", err
			}
			return r, f.Close()
		}
		if err := os.Mkdir(cur, 0o755); err != nil {
			return "", err
		}
		return r, nil
	}
	return "", nil
}

// removeEmptyAt removes name in the directory dirfd if it is an empty
// directory or an empty regular file.
func removeEmptyAt(dirfd int, name string) {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return
	}
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFDIR:
		_ = unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR) // fails unless empty
	case st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size == 0:
		_ = unix.Unlinkat(dirfd, name, 0)
	}
}

// removeEmptyByPath is removeEmptyBeneath without openat2: it opens each
// parent component with O_NOFOLLOW, so no symlink is followed either.
func removeEmptyByPath(root, rel string) {
	dir, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	parts := strings.Split(filepath.ToSlash(filepath.Clean(rel)), "/")
	for _, c := range parts[:len(parts)-1] {
		next, err := unix.Openat(dir, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(dir)
		if err != nil || c == ".." {
			if err == nil {
				unix.Close(next)
			}
			return
		}
		dir = next
	}
	defer unix.Close(dir)
	removeEmptyAt(dir, parts[len(parts)-1])
}

// lockFile opens (creating) and flocks p.
func lockFile(p string, how int) (*os.File, error) {
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("workspace guard: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("workspace guard: lock %s: %w", p, err)
	}
	return f, nil
}

// appendLines appends lines to p.
func appendLines(p string, lines []string) error {
	if len(lines) == 0 {
		return nil
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strings.Join(lines, "\n") + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// readLines reads p's non-empty lines.
func readLines(p string) ([]string, error) {
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); l != "" {
			out = append(out, l)
		}
	}
	return out, sc.Err()
}
