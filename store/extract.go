package store

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// unpacker reads a tree archive, re-encodes it in hash form to enc (so the
// caller can check the content hash) and, when dst is set, recreates the
// tree there with modes, owners (when root) and mtimes.
type unpacker struct {
	d    *narDec
	enc  *narEnc
	fin  *treeOp // for finish
	size int64
	top  bool // the next directory is the top one
}

// unpackTree reads the archive r into dst ("" to only hash it) and returns
// the content hash and apparent size. The top directory is left writable
// (see treeOp.dir).
func unpackTree(r io.Reader, dst string) (Hash, int64, error) {
	h, size, _, err := unpackTreeMode(r, dst)
	return h, size, err
}

// unpackTreeMode is unpackTree that also returns the top directory's
// canonical mode.
func unpackTreeMode(r io.Reader, dst string) (Hash, int64, uint32, error) {
	d, err := newNarDec(r)
	if err != nil {
		return Hash{}, 0, 0, err
	}
	h := newHasher()
	u := &unpacker{d: d, enc: newNarEnc(h, false), fin: &treeOp{root: os.Geteuid() == 0, keep: true}, top: true}
	tag, err := d.tag()
	if err != nil {
		return Hash{}, 0, 0, err
	}
	if tag != tagDir {
		return Hash{}, 0, 0, fmt.Errorf("read tree archive: the top is not a directory")
	}
	if err := u.node(tag, dst); err != nil {
		return Hash{}, 0, 0, err
	}
	if u.enc.err != nil {
		return Hash{}, 0, 0, u.enc.err
	}
	return sumOf(h), u.size, u.fin.topMode, nil
}

// checkChildName refuses names that could escape the tree.
func checkChildName(n, prev string) error {
	if n == "" || n == "." || n == ".." || strings.ContainsAny(n, "/\x00") {
		return fmt.Errorf("read tree archive: invalid name %q", n)
	}
	if prev != "" && n <= prev {
		return fmt.Errorf("read tree archive: names out of order (%q after %q)", n, prev)
	}
	return nil
}

func (u *unpacker) node(tag byte, dst string) error {
	n, err := u.d.node(tag)
	if err != nil {
		return err
	}
	switch n.Tag {
	case tagDir:
		return u.dir(n, dst)
	case tagFile:
		return u.file(n, dst)
	case tagSymlink:
		u.enc.symlink(n.Target, owner{})
		if dst == "" {
			return nil
		}
		if err := os.Symlink(n.Target, dst); err != nil {
			return err
		}
		return u.fin.finish(dst, 0, n.Owner, true)
	default:
		u.enc.special(n.Tag, n.Mode, owner{}, n.Rdev)
		if dst == "" {
			return nil
		}
		typ := map[byte]uint32{tagChar: unix.S_IFCHR, tagBlock: unix.S_IFBLK, tagFifo: unix.S_IFIFO}[n.Tag]
		if err := unix.Mknod(dst, typ|0o600, int(n.Rdev)); err != nil {
			return fmt.Errorf("create %s: %w", dst, err)
		}
		return u.fin.finish(dst, n.Mode, n.Owner, false)
	}
}

func (u *unpacker) dir(n *narNode, dst string) error {
	u.enc.dirStart(n.Mode, owner{})
	top := u.top
	u.top = false
	if top {
		u.fin.topMode = canonMode(n.Mode)
	}
	if dst != "" {
		if err := os.Mkdir(dst, 0o700); err != nil {
			return err
		}
	}
	prev := ""
	for {
		t, err := u.d.tag()
		if err != nil {
			return err
		}
		if t == tagEnd {
			break
		}
		if t != tagChild {
			return fmt.Errorf("read tree archive: unexpected %q in a directory", t)
		}
		name, err := u.d.str(4096)
		if err != nil {
			return err
		}
		if err := checkChildName(name, prev); err != nil {
			return err
		}
		prev = name
		u.enc.child(name)
		ct, err := u.d.tag()
		if err != nil {
			return err
		}
		var d string
		if dst != "" {
			d = filepath.Join(dst, name)
		}
		if err := u.node(ct, d); err != nil {
			return err
		}
	}
	u.enc.dirEnd()
	if dst == "" {
		return nil
	}
	return u.fin.finish(dst, n.Mode, n.Owner, top)
}

func (u *unpacker) file(n *narNode, dst string) error {
	u.enc.file(n.Mode, owner{}, n.Size)
	u.size += n.Size
	var w io.Writer = encOnly{u.enc}
	var sw *sparseWriter
	if dst != "" {
		f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		sw = &sparseWriter{f: f}
		w = io.MultiWriter(w, sw)
	}
	if _, err := io.CopyN(w, u.d.r, n.Size); err != nil {
		return fmt.Errorf("read tree archive: %w", err)
	}
	if sw == nil {
		return nil
	}
	if err := sw.finish(); err != nil {
		return err
	}
	return u.fin.finish(dst, n.Mode, n.Owner, false)
}

// encOnly writes raw bytes to one encoder.
type encOnly struct{ e *narEnc }

func (w encOnly) Write(p []byte) (int, error) {
	w.e.raw(p)
	if w.e.err != nil {
		return 0, w.e.err
	}
	return len(p), nil
}
