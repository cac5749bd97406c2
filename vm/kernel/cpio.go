package kernel

import (
	"fmt"
	"io"
	"strings"
)

// CpioWriter writes a newc ("070701") cpio archive, the format the Linux
// kernel unpacks as an initramfs. Every entry belongs to root, with mtime 0,
// so that the archive is a pure function of its contents.
type CpioWriter struct {
	w    io.Writer
	n    int64
	ino  uint32
	err  error
	seen map[string]bool
}

// NewCpioWriter returns a writer appending to w.
func NewCpioWriter(w io.Writer) *CpioWriter {
	return &CpioWriter{w: w, ino: 300000, seen: map[string]bool{}}
}

// File types in a cpio mode.
const (
	cpioDir  = 0o040000
	cpioReg  = 0o100000
	cpioChr  = 0o020000
	cpioLink = 0o120000
)

// Dir adds a directory.
func (c *CpioWriter) Dir(name string, perm uint32) error {
	return c.entry(name, cpioDir|perm&0o7777, 0, 0, nil)
}

// File adds a regular file with contents data.
func (c *CpioWriter) File(name string, perm uint32, data []byte) error {
	return c.entry(name, cpioReg|perm&0o7777, 0, 0, data)
}

// CharDev adds a character device node.
func (c *CpioWriter) CharDev(name string, perm, major, minor uint32) error {
	return c.entry(name, cpioChr|perm&0o7777, major, minor, nil)
}

// Symlink adds a symbolic link name pointing at target.
func (c *CpioWriter) Symlink(name, target string) error {
	return c.entry(name, cpioLink|0o777, 0, 0, []byte(target))
}

// Close writes the trailer. It does not close the underlying writer.
func (c *CpioWriter) Close() error {
	if err := c.header("TRAILER!!!", 0, 0, 0, 0, 1); err != nil {
		return err
	}
	// Pad the archive to a 512-byte block, as cpio(1) does.
	return c.pad(512)
}

func (c *CpioWriter) entry(name string, mode, major, minor uint32, data []byte) error {
	name = strings.TrimPrefix(name, "/")
	if name == "" || strings.Contains(name, "\x00") || strings.HasPrefix(name, "../") || strings.Contains(name, "/../") {
		return fmt.Errorf("cpio: bad entry name %q", name)
	}
	if c.seen[name] {
		return fmt.Errorf("cpio: duplicate entry %q", name)
	}
	c.seen[name] = true
	nlink := uint32(1)
	if mode&0o170000 == cpioDir {
		nlink = 2
	}
	if err := c.header(name, mode, major, minor, uint32(len(data)), nlink); err != nil {
		return err
	}
	c.write(data)
	return c.pad(4)
}

// header writes one newc header and the NUL-terminated, padded name.
func (c *CpioWriter) header(name string, mode, major, minor, size, nlink uint32) error {
	c.ino++
	ino := c.ino
	if name == "TRAILER!!!" {
		ino = 0
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, nlink, 0, size, 0, 0, major, minor, len(name)+1, 0)
	c.write([]byte(hdr + name + "\x00"))
	return c.pad(4)
}

func (c *CpioWriter) write(p []byte) {
	if c.err != nil || len(p) == 0 {
		return
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
}

func (c *CpioWriter) pad(to int64) error {
	if r := c.n % to; r != 0 {
		c.write(make([]byte, to-r))
	}
	return c.err
}
