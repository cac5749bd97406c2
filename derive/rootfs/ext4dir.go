package rootfs

import "fmt"

// ext4Dir is a directory being filled: its linear directory blocks are
// built in memory and written when the tree is complete.
type ext4Dir struct {
	ino     uint32
	data    []byte // whole blocks, then the current block so far
	last    int    // offset in data of the last entry
	subdirs int
}

// newExt4Dir starts a directory with its "." and ".." entries.
func newExt4Dir(ino, parent uint32) *ext4Dir {
	d := &ext4Dir{ino: ino}
	d.add(".", ino, ftDir)
	d.add("..", parent, ftDir)
	return d
}

// add appends the entry name -> ino of type ft. An entry never crosses a
// block: the last entry of a full block stretches to its end.
func (d *ext4Dir) add(name string, ino uint32, ft byte) {
	need := (8 + len(name) + 3) &^ 3
	if used := len(d.data) % blockSize; used != 0 && used+need > blockSize {
		d.closeBlock()
	}
	d.last = len(d.data)
	var e [8]byte
	le.PutUint32(e[0:], ino)
	le.PutUint16(e[4:], uint16(need))
	e[6] = byte(len(name))
	e[7] = ft
	d.data = append(d.data, e[:]...)
	d.data = append(d.data, name...)
	d.data = append(d.data, zeroBlock[:need-8-len(name)]...)
	if ft == ftDir && name != "." && name != ".." {
		d.subdirs++
	}
}

// closeBlock stretches the last entry to the end of its block.
func (d *ext4Dir) closeBlock() {
	used := len(d.data) % blockSize
	if used == 0 {
		return
	}
	pad := blockSize - used
	rl := d.data[d.last+4:]
	le.PutUint16(rl, le.Uint16(rl)+uint16(pad))
	d.data = append(d.data, zeroBlock[:pad]...)
}

// links is the directory's link count: its entry in the parent, ".", and
// each subdirectory's "..". Past EXT4_LINK_MAX it is 1, as dir_nlink has it.
func (d *ext4Dir) links() uint16 {
	if n := 2 + d.subdirs; n < linkMax {
		return uint16(n)
	}
	return 1
}

// writeDirs writes every directory's blocks after the file data and fills
// in their inodes: size, extents, link count.
func (w *ext4Writer) writeDirs() error {
	for _, d := range w.dirs {
		d.closeBlock()
		n := uint32(len(d.data) / blockSize)
		start, err := w.alloc(n + leafBlocks(n))
		if err != nil {
			return err
		}
		in := w.inode(d.ino)
		in.setSize(int64(len(d.data)))
		in.setLinks(d.links())
		leaves, err := in.setExtents(start, n, start+n)
		if err != nil {
			return fmt.Errorf("directory inode %d: %w", d.ino, err)
		}
		w.sum.Write(d.data)
		if err := w.bw.write(start, d.data); err != nil {
			return err
		}
		if err := w.bw.write(start+n, leaves); err != nil {
			return err
		}
		d.data = nil
	}
	return nil
}
