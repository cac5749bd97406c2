//go:build linux

package agent

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/silo-dev/silo/internal/owners"
)

// The owners layer.
//
// A directory rootfs belongs, on the host, to the user who assembled it,
// so inside the namespace sandbox every file of it is root's. The spec's
// owner table (internal/owners) names the paths the image gives to
// another owner. Where the sandbox's user namespace maps their ids, the
// agent copies those paths, on scratch, into a layer of their own with
// their owners, and stacks it between the store's read-only tree and the
// overlay's upper: the upper, which a build captures, stays as the
// command leaves it. Each directory above a listed path is made in the
// layer with the tree's mode, times and owner, so that the layer changes
// owners and nothing else. A listed file's bytes are copied (images list
// few: /etc/shadow's group, a home directory, setgid helpers); a second
// name of a hardlinked file keeps root's owner. Entries whose uid or gid
// the namespace does not map are left as root's, and so are files past
// ownedBytes in all and entries past ownedEntries: an image that gives
// gigabytes to another user costs every run no more than that.

const (
	ownedBytes   = 64 << 20
	ownedEntries = 20000
)

// ownersLayer builds the owners layer of table t under scratch from the
// rootfs lower and returns its path, or "" when no entry applies.
func ownersLayer(lower, scratch string, t owners.Table) (string, error) {
	t, err := mappedEntries(t)
	if err != nil || len(t) == 0 {
		return "", err
	}
	dir := filepath.Join(scratch, "owners")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", fmt.Errorf("make the owners layer: %w", err)
	}
	src, err := os.OpenRoot(lower)
	if err != nil {
		return "", fmt.Errorf("open the rootfs: %w", err)
	}
	defer src.Close()
	dst, err := os.OpenRoot(dir)
	if err != nil {
		return "", fmt.Errorf("open the owners layer: %w", err)
	}
	defer dst.Close()
	b := &layerBuilder{src: src, dst: dst, owner: map[string]owners.Entry{}, made: map[string]bool{}}
	if len(t) > ownedEntries {
		t = t[:ownedEntries]
	}
	for _, e := range t {
		b.owner[e.Path] = e
	}
	// The layer's top shows through as the root directory: it takes the
	// tree's meta like every directory the layer holds.
	for _, p := range append([]string{"."}, pathsOf(t)...) {
		if err := b.add(p); err != nil {
			return "", fmt.Errorf("owners layer, %s: %w", p, err)
		}
	}
	if err := b.finishDirs(); err != nil {
		return "", fmt.Errorf("owners layer: %w", err)
	}
	return dir, nil
}

// pathsOf lists t's paths.
func pathsOf(t owners.Table) []string {
	ps := make([]string, len(t))
	for i, e := range t {
		ps[i] = e.Path
	}
	return ps
}

// layerBuilder copies paths from the rootfs (src) into the owners layer
// (dst).
type layerBuilder struct {
	src, dst *os.Root
	owner    map[string]owners.Entry
	made     map[string]bool // paths already in the layer
	dirs     []string        // directories made, parents first
	bytes    int64           // file bytes copied so far
}

// add puts p into the layer, with the directories above it.
func (b *layerBuilder) add(p string) error {
	if b.made[p] {
		return nil
	}
	if p != "." {
		if err := b.add(path.Dir(p)); err != nil {
			return err
		}
	}
	fi, err := b.src.Lstat(p)
	if err != nil {
		return err
	}
	switch fi.Mode().Type() {
	case fs.ModeDir:
		if p != "." {
			if err := b.dst.Mkdir(p, 0o700); err != nil {
				return err
			}
		}
		b.dirs = append(b.dirs, p)
	case 0:
		if b.bytes+fi.Size() > ownedBytes {
			return nil // past the budget: root's
		}
		b.bytes += fi.Size()
		if err := b.copyFile(p); err != nil {
			return err
		}
	case fs.ModeSymlink:
		target, err := b.src.Readlink(p)
		if err != nil {
			return err
		}
		if err := b.dst.Symlink(target, p); err != nil {
			return err
		}
	case fs.ModeNamedPipe:
		if err := b.mkfifo(p); err != nil {
			return err
		}
	default:
		return nil // the directory form has no other kinds
	}
	b.made[p] = true
	if fi.IsDir() {
		return nil // owner, mode and times once its content is in
	}
	return b.setMeta(p, fi)
}

// copyFile copies the regular file p's bytes.
func (b *layerBuilder) copyFile(p string) error {
	in, err := b.src.Open(p)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := b.dst.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// mkfifo makes the named pipe p.
func (b *layerBuilder) mkfifo(p string) error {
	d, err := b.dst.Open(path.Dir(p))
	if err != nil {
		return err
	}
	defer d.Close()
	return unix.Mkfifoat(int(d.Fd()), path.Base(p), 0o600)
}

// setMeta gives p in the layer its owner (the table's, else root's),
// then the tree's mode (after the chown, which clears setuid and setgid)
// and times.
func (b *layerBuilder) setMeta(p string, fi fs.FileInfo) error {
	e := b.owner[p] // zero: root's
	if err := b.dst.Lchown(p, int(e.UID), int(e.GID)); err != nil {
		return err
	}
	if fi.Mode().Type() == fs.ModeSymlink {
		return nil // a link's mode is fixed, and its times do not show through
	}
	st := fi.Sys().(*syscall.Stat_t)
	if err := b.dst.Chmod(p, fileMode(st.Mode)); err != nil {
		return err
	}
	return b.dst.Chtimes(p, fi.ModTime(), fi.ModTime())
}

// finishDirs gives the layer's directories their meta, deepest first, so
// that nothing made in one afterwards moves its time.
func (b *layerBuilder) finishDirs() error {
	for i := len(b.dirs) - 1; i >= 0; i-- {
		p := b.dirs[i]
		fi, err := b.src.Lstat(p)
		if err != nil {
			return err
		}
		if err := b.setMeta(p, fi); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return nil
}

// fileMode is the fs.FileMode of raw mode bits, setuid, setgid and
// sticky included.
func fileMode(mode uint32) fs.FileMode {
	m := fs.FileMode(mode & 0o777)
	if mode&unix.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if mode&unix.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if mode&unix.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// mappedEntries returns the entries of t whose path is safe and whose
// uid and gid this user namespace maps.
func mappedEntries(t owners.Table) (owners.Table, error) {
	uids, err := idMap("/proc/self/uid_map")
	if err != nil {
		return nil, err
	}
	gids, err := idMap("/proc/self/gid_map")
	if err != nil {
		return nil, err
	}
	var out owners.Table
	for _, e := range t {
		if owners.Check(e.Path) != nil {
			return nil, fmt.Errorf("owner table: unsafe path %q", e.Path)
		}
		if uids.has(e.UID) && gids.has(e.GID) {
			out = append(out, e)
		}
	}
	return out, nil
}

// idRanges are the inner ids a user namespace maps, as [first, end).
type idRanges [][2]uint64

func (r idRanges) has(id uint32) bool {
	for _, x := range r {
		if uint64(id) >= x[0] && uint64(id) < x[1] {
			return true
		}
	}
	return false
}

// idMap reads a uid_map or gid_map: "inner outer count" lines.
func idMap(p string) (idRanges, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("read the user namespace's id map: %w", err)
	}
	defer f.Close()
	var r idRanges
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) != 3 {
			continue
		}
		first, err1 := strconv.ParseUint(fl[0], 10, 32)
		n, err2 := strconv.ParseUint(fl[2], 10, 33)
		if err1 == nil && err2 == nil {
			r = append(r, [2]uint64{first, first + n})
		}
	}
	return r, sc.Err()
}
