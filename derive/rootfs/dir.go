package rootfs

import (
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/silo-dev/silo/internal/owners"
	"github.com/silo-dev/silo/internal/safetext"
)

// WriteDir merges layers into the directory dst, which must not exist.
// Every file belongs to the invoking user (the Owners option lists the
// image's own owners); modes (setuid included) and
// modification times are kept; extended attributes are dropped. All writes
// go through an os.Root, so even a tree that slipped past the checks could
// not write outside dst. maxContent, when positive, is the most bytes the
// merged files, or one layer's files, may hold (ErrTooLarge, before
// anything is written). On error dst is removed.
func WriteDir(layers []Layer, dst string, maxContent int64, opts ...Option) (err error) {
	o := optionsOf(opts)
	t, err := scan(layers, maxContent, o)
	if err != nil {
		return err
	}
	t.progress = o.progress
	if err := os.Mkdir(dst, 0o700); err != nil {
		return fmt.Errorf("create rootfs directory: %w", err)
	}
	defer func() {
		if err != nil {
			RemoveTree(dst)
		}
	}()
	root, err := os.OpenRoot(dst)
	if err != nil {
		return fmt.Errorf("open rootfs directory: %w", err)
	}
	defer root.Close()
	s := &dirSink{root: root}
	defer s.close()
	s.own(".", &t.root.meta)
	if err := emit(t, layers, s); err != nil {
		return err
	}
	if err := s.finish(&t.root.meta); err != nil {
		return fmt.Errorf("finish rootfs directory: %w", err)
	}
	if o.owners != nil {
		*o.owners = s.owners
	}
	if len(s.devices) > 0 {
		o.note(fmt.Sprintf("left out the image's %d device nodes (%s): the sandbox has its own /dev", len(s.devices), deviceList(s.devices)))
	}
	return nil
}

// deviceList names the first few device nodes, escaped for the terminal.
func deviceList(paths []string) string {
	var b strings.Builder
	for i, p := range paths {
		if i == 3 {
			b.WriteString(", …")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("/" + safetext.Escape(p))
	}
	return b.String()
}

// RemoveTree removes a tree written by WriteDir, making its directories writable
// first.
func RemoveTree(dir string) {
	_ = fs.WalkDir(os.DirFS(dir), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(path.Join(dir, p), 0o700)
		}
		return nil
	})
	os.RemoveAll(dir)
}

// dirSink writes the merged tree into a directory. Directories are made
// writable while it fills them and get their real modes at the end.
type dirSink struct {
	root *os.Root
	dirs []string
	meta []*meta
	// devices are the device nodes left out.
	devices []string
	// owners lists the paths whose owner is not root.
	owners owners.Table

	// cur is an os.Root for the directory curDir, reused while files go
	// into the same directory: each operation is then one system call on
	// a single name instead of a walk from the top.
	cur    *os.Root
	curDir string
}

// in returns an os.Root for p's directory and p's base name.
func (s *dirSink) in(p string) (*os.Root, string, error) {
	dir, base := path.Split(p)
	dir = path.Clean(dir)
	if dir == "." {
		return s.root, base, nil
	}
	if s.cur == nil || s.curDir != dir {
		if s.cur != nil {
			s.cur.Close()
			s.cur = nil
		}
		r, err := s.root.OpenRoot(dir)
		if err != nil {
			return nil, "", err
		}
		s.cur, s.curDir = r, dir
	}
	return s.cur, base, nil
}

// close releases the cached directory.
func (s *dirSink) close() {
	if s.cur != nil {
		s.cur.Close()
		s.cur = nil
	}
}

// own lists p in the owner table when the image gives it an owner other
// than root; ids that do not fit 32 bits are left as root.
func (s *dirSink) own(p string, m *meta) {
	if (m.uid == 0 && m.gid == 0) || m.uid < 0 || m.gid < 0 || m.uid > math.MaxUint32 || m.gid > math.MaxUint32 {
		return
	}
	s.owners = append(s.owners, owners.Entry{Path: p, UID: uint32(m.uid), GID: uint32(m.gid)})
}

func (s *dirSink) dir(p string, m *meta) error {
	if err := s.root.Mkdir(p, 0o700); err != nil {
		return err
	}
	s.own(p, m)
	s.dirs, s.meta = append(s.dirs, p), append(s.meta, m)
	return nil
}

func (s *dirSink) symlink(p, target string, m *meta) error {
	s.own(p, m)
	return s.root.Symlink(target, p)
}

// devnode skips a device node: an ordinary user cannot make one, and the
// namespace sandbox mounts its own /dev.
func (s *dirSink) devnode(p string, _ *device, _ *meta) error {
	s.devices = append(s.devices, p)
	return nil
}

func (s *dirSink) fifo(p string, m *meta) error {
	d, err := s.root.Open(path.Dir(p))
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.Mkfifoat(int(d.Fd()), path.Base(p), 0o600); err != nil {
		return fmt.Errorf("mkfifo %s: %w", safetext.Escape(p), err)
	}
	s.own(p, m)
	return s.setMeta(p, m)
}

func (s *dirSink) file(p string, m *meta, size int64, r io.Reader) error {
	d, base, err := s.in(p)
	if err != nil {
		return err
	}
	f, err := d.OpenFile(base, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	n, err := io.CopyBuffer(f, struct{ io.Reader }{r}, make([]byte, 256<<10))
	if err == nil && n != size {
		err = fmt.Errorf("%s: %d bytes of %d", safetext.Escape(p), n, size)
	}
	if err == nil {
		err = f.Chmod(fileMode(m.mode))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	s.own(p, m)
	return d.Chtimes(base, m.mtime, m.mtime)
}

func (s *dirSink) link(p, target string) error {
	return s.root.Link(target, p)
}

func (s *dirSink) setMeta(p string, m *meta) error {
	if err := s.root.Chmod(p, fileMode(m.mode)); err != nil {
		return err
	}
	return s.root.Chtimes(p, m.mtime, m.mtime)
}

// finish gives the directories, deepest first, and the root their modes
// and times.
func (s *dirSink) finish(rootMeta *meta) error {
	for i := len(s.dirs) - 1; i >= 0; i-- {
		if err := s.setMeta(s.dirs[i], s.meta[i]); err != nil {
			return err
		}
	}
	return s.setMeta(".", rootMeta)
}

// fileMode turns tar mode bits into an fs.FileMode.
func fileMode(mode int64) fs.FileMode {
	m := fs.FileMode(mode & 0o777)
	if mode&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if mode&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}
