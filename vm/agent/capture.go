//go:build linux

package agent

import (
	"archive/tar"
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/silo-dev/silo/vm/proto"
)

// capture streams a build's changes to the host as one normalized OCI
// layer (proto.Capture): the upper layer of the root's overlay, read
// through the descriptor opened before the root was entered, then each
// excluded workspace path as the sandbox sees it now.
func (a *agent) capture(fs *sandboxFS, s *proto.Spec) error {
	c, err := a.mux.Open()
	if err != nil {
		return fmt.Errorf("open the capture stream: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte{byte(proto.KindCapture)}); err != nil {
		return fmt.Errorf("open the capture stream: %w", err)
	}
	bw := bufio.NewWriterSize(c, 1<<20)
	w := newLayerWriter(bw, s.Capture.Epoch)
	wd := strings.TrimPrefix(workdir(s), "/")
	skip := append([]string{"proc", "dev", "tmp", "sys", wd, strings.TrimPrefix(proto.SSHAgentSocket, "/")}, trimAll(s.Capture.Skip)...)
	if fs.hosts {
		skip = append(skip, "etc/hosts")
	}
	upper := fmt.Sprintf("/proc/self/fd/%d", fs.upper.Fd())
	if err := w.tree(upper, "", skip, true); err != nil {
		return fmt.Errorf("capture the build's changes: %w", err)
	}
	if err := w.excludes(wd, s.Exclude); err != nil {
		return fmt.Errorf("capture the excluded paths: %w", err)
	}
	if err := w.tw.Close(); err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("send the capture: %w", err)
	}
	return nil
}

// trimAll drops the leading "/" of each guest path.
func trimAll(ps []string) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, strings.TrimPrefix(path.Clean("/"+p), "/"))
	}
	return out
}

// layerWriter writes normalized tar entries.
type layerWriter struct {
	tw    *tar.Writer
	epoch time.Time
	links map[[2]uint64]string // (dev, inode) of a file with several links → its first name
	dirs  map[string]bool      // directories already written
}

func newLayerWriter(w io.Writer, epoch int64) *layerWriter {
	return &layerWriter{tw: tar.NewWriter(w), epoch: time.Unix(epoch, 0).UTC(), links: map[[2]uint64]string{}, dirs: map[string]bool{}}
}

// excludes writes each excluded path whole, under the workspace's path,
// opaque so that it replaces what a lower layer had there.
func (w *layerWriter) excludes(wd string, paths []string) error {
	sorted := slices.Clone(paths)
	slices.Sort(sorted)
	for _, p := range sorted {
		rel, err := cleanRel(p)
		if err != nil {
			return err
		}
		name := path.Join(wd, rel)
		st, err := os.Lstat("/" + name)
		if err != nil || !st.IsDir() {
			continue // the step left nothing there (or not a directory)
		}
		if err := w.parents(name); err != nil {
			return err
		}
		if err := w.entry("/"+name, name, st, false); err != nil {
			return err
		}
		if err := w.whiteout(name + "/.wh..wh..opq"); err != nil {
			return err
		}
		if err := w.tree("/"+name, name, nil, false); err != nil {
			return err
		}
	}
	return nil
}

// parents writes the directories above name that are not written yet, as
// plain root-owned directories.
func (w *layerWriter) parents(name string) error {
	parts := strings.Split(name, "/")
	for i := 1; i < len(parts); i++ {
		d := strings.Join(parts[:i], "/")
		if w.dirs[d] {
			continue
		}
		w.dirs[d] = true
		if err := w.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: w.epoch}); err != nil {
			return err
		}
	}
	return nil
}

// tree writes the children of the directory dir (read from host path
// base) under the tar name prefix, sorted, skipping the root-relative
// paths in skip. upper says dir is an overlay upper layer: a 0/0
// character device is a whiteout and an opaque directory is marked.
func (w *layerWriter) tree(base, prefix string, skip []string, upper bool) error {
	f, err := os.Open(base)
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return err
	}
	slices.Sort(names)
	for _, n := range names {
		name := path.Join(prefix, n)
		if slices.Contains(skip, name) {
			continue
		}
		p := base + "/" + n
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if err := w.entry(p, name, st, upper); err != nil {
			return err
		}
		if st.IsDir() {
			if upper && opaque(p) {
				if err := w.whiteout(name + "/.wh..wh..opq"); err != nil {
					return err
				}
			}
			if err := w.tree(p, name, skip, upper); err != nil {
				return err
			}
		}
	}
	return nil
}

// opaque reports whether the upper directory p hides the lower one.
func opaque(p string) bool {
	buf := make([]byte, 4)
	for _, a := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		if n, err := unix.Lgetxattr(p, a, buf); err == nil && n == 1 && buf[0] == 'y' {
			return true
		}
	}
	return false
}

// whiteout writes an empty ".wh." entry.
func (w *layerWriter) whiteout(name string) error {
	return w.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, ModTime: w.epoch})
}

// entry writes the header (and content) of the file p as name.
func (w *layerWriter) entry(p, name string, fi os.FileInfo, upper bool) error {
	st, _ := fi.Sys().(*unix.Stat_t)
	if st == nil {
		var s unix.Stat_t
		if err := unix.Lstat(p, &s); err != nil {
			return err
		}
		st = &s
	}
	h := &tar.Header{Name: name, Uid: int(st.Uid), Gid: int(st.Gid), Mode: int64(fi.Mode().Perm()), ModTime: fi.ModTime().Truncate(time.Second)}
	if h.ModTime.After(w.epoch) {
		h.ModTime = w.epoch
	}
	h.ModTime = h.ModTime.UTC()
	m := fi.Mode()
	if m&os.ModeSetuid != 0 {
		h.Mode |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		h.Mode |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		h.Mode |= 0o1000
	}
	switch {
	case m.IsDir():
		h.Typeflag, h.Name = tar.TypeDir, name+"/"
		w.dirs[name] = true
		return w.tw.WriteHeader(h)
	case m&os.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		h.Typeflag, h.Linkname = tar.TypeSymlink, target
		return w.tw.WriteHeader(h)
	case m&os.ModeCharDevice != 0 && upper && st.Rdev == 0:
		return w.whiteout(path.Join(path.Dir(name), ".wh."+path.Base(name)))
	case m&os.ModeNamedPipe != 0:
		h.Typeflag = tar.TypeFifo
		return w.tw.WriteHeader(h)
	case m.IsRegular():
		return w.file(p, h, st)
	}
	return nil // devices and sockets are not kept
}

// file writes a regular file, or a hard link to one already written.
func (w *layerWriter) file(p string, h *tar.Header, st *unix.Stat_t) error {
	if st.Nlink > 1 {
		key := [2]uint64{uint64(st.Dev), st.Ino}
		if first, ok := w.links[key]; ok {
			h.Typeflag, h.Linkname = tar.TypeLink, first
			return w.tw.WriteHeader(h)
		}
		w.links[key] = h.Name
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	h.Typeflag, h.Size = tar.TypeReg, st.Size
	if err := w.tw.WriteHeader(h); err != nil {
		return err
	}
	if _, err := io.CopyN(w.tw, f, st.Size); err != nil {
		return fmt.Errorf("%s: %w", h.Name, err)
	}
	return nil
}
