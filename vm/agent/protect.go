//go:build linux

package agent

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// placeholder is an empty file or directory the agent created in the host
// workspace to hold a mount, removed again after the run.
type placeholder struct {
	rel string
	dir bool
}

// excludes backs each excluded workspace path with its own directory in
// scratch, so that what the sandbox writes there never reaches the host,
// and pins the directories above it (see pinParents): otherwise the
// sandbox could move frontend aside and make a frontend/node_modules of
// its own, which is the host's.
func (fs *sandboxFS) excludes(ws, scratch string, paths []string) error {
	var rels []string
	for i, p := range paths {
		rel, err := cleanRel(p)
		if err != nil {
			return fmt.Errorf("mount.exclude %q: %w", p, err)
		}
		dst, err := fs.mountPoint(ws, rel, true)
		if err != nil {
			return fmt.Errorf("mount.exclude %q: %w", p, err)
		}
		if dst, err = fs.completeDirs(ws, dst, rel); err != nil {
			return fmt.Errorf("mount.exclude %q: %w", p, err)
		}
		src := filepath.Join(scratch, strconv.Itoa(i))
		if err := os.MkdirAll(src, 0o755); err != nil {
			return fmt.Errorf("mount.exclude %q: %w", p, err)
		}
		if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("mount.exclude %q: %w", p, err)
		}
		rels = append(rels, dst[len(ws)+1:])
	}
	return fs.pinParents(ws, rels)
}

// protect makes each protected workspace path read-only, whether it exists
// or not: a missing one is held by an empty read-only placeholder (a
// missing parent, such as .git in a project without git, is itself held),
// so that the sandbox can neither write nor create it.
func (fs *sandboxFS) protect(ws, roView string, paths []string) error {
	sorted := append([]string(nil), paths...)
	sort.Strings(sorted)
	var done []string
	for _, p := range sorted {
		rel, err := cleanRel(p)
		if err != nil {
			return fmt.Errorf("protected path %q: %w", p, err)
		}
		if covered(done, rel) {
			continue
		}
		dst, err := fs.mountPoint(ws, rel, strings.HasSuffix(p, "/"))
		if err != nil {
			return fmt.Errorf("protected path %q: %w", p, err)
		}
		done = append(done, dst[len(ws)+1:])
	}
	if len(done) == 0 {
		return nil
	}
	if err := fs.pinParents(ws, done); err != nil {
		return err
	}
	if err := fs.readOnlyView(ws, roView); err != nil {
		return err
	}
	for _, rel := range done {
		// A bind of a read-only mount is read-only: one mount per path.
		if err := unix.Mount(filepath.Join(roView, rel), filepath.Join(ws, rel), "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("protected path %q: %w", rel, err)
		}
	}
	return nil
}

// pinParents binds each directory between the workspace and a protected
// or excluded path onto itself, once. A mount point cannot be renamed or
// removed, so the sandbox cannot move such a directory aside and put one
// of its own in its place (mv .git .git2 && mkdir -p .git/hooks) to
// escape the protection or the exclusion. The binds are recursive (they
// carry the excludes' mounts beneath them) and come before the read-only
// ones, so that none hides another.
func (fs *sandboxFS) pinParents(ws string, rels []string) error {
	for _, rel := range rels {
		parts := splitPath(rel)
		for i := 1; i < len(parts); i++ {
			p := filepath.Join(ws, filepath.Join(parts[:i]...))
			if slices.Contains(fs.pinned, p) {
				continue
			}
			if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
				return fmt.Errorf("pin %s in place: %w", p[len(ws)+1:], err)
			}
			fs.pinned = append(fs.pinned, p)
		}
	}
	return nil
}

// completeDirs makes the rest of an excluded path's directories when
// mountPoint stopped at a placeholder for a missing parent, and refuses a
// path under a file.
func (fs *sandboxFS) completeDirs(ws, dst, rel string) (string, error) {
	full := filepath.Join(ws, rel)
	if dst == full {
		return dst, nil
	}
	n := len(fs.made)
	if n == 0 || filepath.Join(ws, fs.made[n-1].rel) != dst {
		return "", fmt.Errorf("%s is a file; exclude directories only", dst[len(ws)+1:])
	}
	for _, c := range splitPath(full[len(dst)+1:]) {
		dst = filepath.Join(dst, c)
		if err := os.Mkdir(dst, 0o755); err != nil {
			return "", err
		}
		fs.made = append(fs.made, placeholder{rel: dst[len(ws)+1:], dir: true})
	}
	return dst, nil
}

// readOnlyView binds the workspace read-only at view, once.
func (fs *sandboxFS) readOnlyView(ws, view string) error {
	if fs.roView {
		return nil
	}
	if err := os.MkdirAll(view, 0o755); err != nil {
		return fmt.Errorf("make the read-only workspace view: %w", err)
	}
	if err := bindReadOnly(ws, view, false); err != nil {
		return fmt.Errorf("read-only workspace view: %w", err)
	}
	fs.roView = true
	return nil
}

// covered reports whether rel is, or is under, one of done.
func covered(done []string, rel string) bool {
	for _, d := range done {
		if rel == d || strings.HasPrefix(rel, d+"/") {
			return true
		}
	}
	return false
}

// mountPoint finds where to mount for the workspace path rel: the path
// itself, or the first component that is a file (nothing under a file can
// be created), creating a placeholder at the first missing component.
// Symlinks are refused: a mount would land on their target and leave the
// link itself writable.
func (fs *sandboxFS) mountPoint(ws, rel string, dir bool) (string, error) {
	cur := ws
	parts := splitPath(rel)
	for i, c := range parts {
		cur = filepath.Join(cur, c)
		last := i == len(parts)-1
		st, err := os.Lstat(cur)
		switch {
		case errors.Is(err, os.ErrNotExist):
			isDir := dir || !last
			if err := makePlaceholder(cur, isDir); err != nil {
				return "", err
			}
			fs.made = append(fs.made, placeholder{rel: cur[len(ws)+1:], dir: isDir})
			return cur, nil
		case err != nil:
			return "", err
		case st.Mode()&os.ModeSymlink != 0:
			return "", fmt.Errorf("%s is a symlink: silo cannot guard it; replace it with what it points to", cur[len(ws)+1:])
		case !st.IsDir() || last:
			return cur, nil
		}
	}
	return cur, nil
}

// makePlaceholder creates an empty directory or file at p.
func makePlaceholder(p string, dir bool) error {
	if dir {
		return os.Mkdir(p, 0o755)
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// cleanup undoes the workspace mounts and removes the placeholders, if
// they are still empty, through the host's view of the workspace.
func (fs *sandboxFS) cleanup() {
	// Detaching the workspace detaches every mount on it: the excludes and
	// the protected paths.
	if fs.wsMount != "" {
		_ = unix.Unmount(fs.wsMount, unix.MNT_DETACH)
	}
	if fs.ws == nil {
		return
	}
	fd := int(fs.ws.Fd())
	for i := len(fs.made) - 1; i >= 0; i-- {
		p := fs.made[i]
		if p.dir {
			_ = unix.Unlinkat(fd, p.rel, unix.AT_REMOVEDIR)
			continue
		}
		var st unix.Stat_t
		if unix.Fstatat(fd, p.rel, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size == 0 {
			_ = unix.Unlinkat(fd, p.rel, 0)
		}
	}
	fs.ws.Close()
}

// cleanRel checks a workspace- or root-relative path: no "..", not the
// root itself. A leading "/" is allowed and dropped.
func cleanRel(p string) (string, error) {
	c := path.Clean("/" + filepath.ToSlash(p))
	if c == "/" {
		return "", errors.New("names the whole tree")
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return "", errors.New(`must not contain ".."`)
		}
	}
	return c[1:], nil
}

// splitPath splits a clean relative path into its components.
func splitPath(rel string) []string { return strings.Split(rel, "/") }
