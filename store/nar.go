package store

import (
	"encoding/binary"
	"fmt"
	"io"
)

// The canonical serialization of a directory tree (see doc.go). Its hash
// is a directory entry's content hash. With owner records (uid, gid,
// mtime) it is also the archive a compressed directory is kept as; the
// hash never covers owner records.
const (
	narMagic      = "silo-tree-1\n"
	narMagicOwned = "silo-tree-1+owner\n"
)

// Node tags.
const (
	tagDir     = 'd'
	tagFile    = 'f'
	tagSymlink = 'l'
	tagChar    = 'c'
	tagBlock   = 'b'
	tagFifo    = 'p'
	tagChild   = 'e'
	tagEnd     = 'E'
)

// permMask keeps the permission, setuid, setgid and sticky bits.
const permMask = 0o7777

// canonMode is the mode recorded for (and given to) an entry's inode: its
// permission bits with every write bit cleared.
func canonMode(m uint32) uint32 { return m & permMask &^ 0o222 }

// owner is what the archive form adds to each inode and the hash ignores.
type owner struct {
	UID, GID uint32
	Mtime    int64 // nanoseconds since the epoch
}

// narEnc writes the serialization to w.
type narEnc struct {
	w     io.Writer
	owned bool
	buf   [32]byte
	err   error
}

func newNarEnc(w io.Writer, owned bool) *narEnc {
	e := &narEnc{w: w, owned: owned}
	if owned {
		e.raw([]byte(narMagicOwned))
	} else {
		e.raw([]byte(narMagic))
	}
	return e
}

func (e *narEnc) raw(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

// header writes a tag, a mode and, in owned form, the owner record. The
// owned form (compression's archive) records the mode as it is on disk,
// write bits included, so that an entry added with KeepModes comes back
// with its modes; the hashed form clears them.
func (e *narEnc) header(tag byte, mode uint32, o owner) {
	b := e.buf[:0]
	b = append(b, tag)
	if e.owned {
		b = binary.LittleEndian.AppendUint32(b, mode&permMask)
	} else {
		b = binary.LittleEndian.AppendUint32(b, canonMode(mode))
	}
	if e.owned {
		b = binary.LittleEndian.AppendUint32(b, o.UID)
		b = binary.LittleEndian.AppendUint32(b, o.GID)
		b = binary.LittleEndian.AppendUint64(b, uint64(o.Mtime))
	}
	e.raw(b)
}

func (e *narEnc) u64(v uint64) { e.raw(binary.LittleEndian.AppendUint64(e.buf[:0], v)) }

// str writes a length-prefixed string.
func (e *narEnc) str(s string) {
	e.raw(binary.LittleEndian.AppendUint32(e.buf[:0], uint32(len(s))))
	e.raw([]byte(s))
}

// file writes a regular file's header; its size bytes follow.
func (e *narEnc) file(mode uint32, o owner, size int64) {
	e.header(tagFile, mode, o)
	e.u64(uint64(size))
}

func (e *narEnc) symlink(target string, o owner) {
	e.header(tagSymlink, 0o777, o)
	e.str(target)
}

func (e *narEnc) special(tag byte, mode uint32, o owner, rdev uint64) {
	e.header(tag, mode, o)
	if tag != tagFifo {
		e.u64(rdev)
	}
}

func (e *narEnc) dirStart(mode uint32, o owner) { e.header(tagDir, mode, o) }

func (e *narEnc) child(name string) {
	e.raw([]byte{tagChild})
	e.str(name)
}

func (e *narEnc) dirEnd() { e.raw([]byte{tagEnd}) }

// narNode is one decoded inode header.
type narNode struct {
	Tag    byte
	Mode   uint32
	Owner  owner
	Size   int64  // tagFile
	Target string // tagSymlink
	Rdev   uint64 // tagChar, tagBlock
}

// narDec reads the serialization.
type narDec struct {
	r     io.Reader
	owned bool
	buf   [32]byte
}

// newNarDec checks the magic and returns a decoder.
func newNarDec(r io.Reader) (*narDec, error) {
	b := make([]byte, len(narMagic))
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("read tree archive: %w", err)
	}
	d := &narDec{r: r}
	if string(b) == narMagic {
		return d, nil
	}
	rest := make([]byte, len(narMagicOwned)-len(narMagic))
	if _, err := io.ReadFull(r, rest); err != nil || string(b)+string(rest) != narMagicOwned {
		return nil, fmt.Errorf("read tree archive: not a silo tree archive")
	}
	d.owned = true
	return d, nil
}

func (d *narDec) read(n int) ([]byte, error) {
	if _, err := io.ReadFull(d.r, d.buf[:n]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read tree archive: %w", err)
	}
	return d.buf[:n], nil
}

func (d *narDec) tag() (byte, error) {
	b, err := d.read(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (d *narDec) u32() (uint32, error) {
	b, err := d.read(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (d *narDec) u64() (uint64, error) {
	b, err := d.read(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// str reads a length-prefixed string of at most max bytes.
func (d *narDec) str(max uint32) (string, error) {
	n, err := d.u32()
	if err != nil {
		return "", err
	}
	if n > max {
		return "", fmt.Errorf("read tree archive: string of %d bytes is too long", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(d.r, b); err != nil {
		return "", fmt.Errorf("read tree archive: %w", err)
	}
	return string(b), nil
}

// node reads an inode header whose tag has been read.
func (d *narDec) node(tag byte) (*narNode, error) {
	n := &narNode{Tag: tag}
	switch tag {
	case tagDir, tagFile, tagSymlink, tagChar, tagBlock, tagFifo:
	default:
		return nil, fmt.Errorf("read tree archive: unknown node type %q", tag)
	}
	var err error
	if n.Mode, err = d.u32(); err != nil {
		return nil, err
	}
	if d.owned {
		b, err := d.read(16)
		if err != nil {
			return nil, err
		}
		n.Owner = owner{binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:]), int64(binary.LittleEndian.Uint64(b[8:]))}
	}
	switch tag {
	case tagFile:
		v, err := d.u64()
		if err != nil {
			return nil, err
		}
		if v > 1<<62 {
			return nil, fmt.Errorf("read tree archive: file size %d is absurd", v)
		}
		n.Size = int64(v)
	case tagSymlink:
		if n.Target, err = d.str(4096); err != nil {
			return nil, err
		}
	case tagChar, tagBlock:
		if n.Rdev, err = d.u64(); err != nil {
			return nil, err
		}
	}
	return n, nil
}
