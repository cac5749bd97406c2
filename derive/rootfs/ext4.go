package rootfs

import (
	"archive/tar"
	"crypto/sha256"
	"fmt"
	"github.com/silo-dev/silo/internal/safetext"
	"hash"
	"io"
	"os"
	"path"
)

// WriteExt4 merges layers into an ext4 filesystem image at dst, which must
// not exist. maxSize, when positive, is the most bytes the image may take;
// the merge fails if the content needs more. maxContent, when positive, is
// the most bytes the merged files, or one layer's files, may hold
// (ErrTooLarge, before anything is written). The file is sparse: all-zero
// blocks are holes. On error dst is removed.
//
// The writer is silo's own (ext4*.go beside this file): it takes
// ownership, modes and xattrs from the tar headers, so building an image
// needs neither host root nor e2fsprogs (mkfs.ext4 -d copies ownership
// from disk, which an ordinary user cannot set, and does not exist on
// macOS hosts, which also boot these images). It writes no random UUID,
// hash seed or clock time: the same layers give the same bytes. The image
// is compact (almost no free blocks), which suits its use as the read-only
// lower layer of the sandbox's overlay. Device nodes are kept.
func WriteExt4(layers []Layer, dst string, maxSize, maxContent int64, opts ...Option) (err error) {
	o := optionsOf(opts)
	t, err := scan(layers, maxContent, o)
	if err != nil {
		return err
	}
	t.progress = o.progress
	f, err := os.OpenFile(dst, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("create ext4 image: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close ext4 image: %w", cerr)
		}
		if err != nil {
			os.Remove(dst)
		}
	}()
	w, err := newExt4Writer(f, t, maxSize)
	if err != nil {
		return err
	}
	if err := emit(t, layers, w); err != nil {
		return err
	}
	if err := w.finish(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync ext4 image: %w", err)
	}
	return nil
}

// ext4Writer is the sink that lays the merged tree out as ext4. File data
// goes out as it streams in, each file in one contiguous run of blocks
// after the superblock and group descriptors; directories, the inode
// table and the bitmaps follow once the tree is complete (see finish).
type ext4Writer struct {
	f         *os.File
	bw        *blockWriter
	next      uint32 // next free block
	limit     uint64 // most blocks the image may take
	maxSize   int64
	gdtBlocks uint32 // blocks reserved for the group descriptor table

	itable   []byte // inodes from 1 on, inodeSize bytes each
	dirs     []*ext4Dir
	dirOf    map[string]*ext4Dir
	lastFile string // the regular file written last, which links may name
	lastIno  uint32
	buf      []byte    // file data read buffer
	sum      hash.Hash // metadata digest the UUID comes from
}

// sizeErr is the error for content that does not fit maxSize.
func (w *ext4Writer) sizeErr() error {
	return fmt.Errorf("the root filesystem needs more than its %d MB size limit (raise rootfsSizeMB)", w.maxSize>>20)
}

// newExt4Writer sets up the root directory and lost+found, and reserves
// the group descriptor table for the largest image t can give.
func newExt4Writer(f *os.File, t *tree, maxSize int64) (*ext4Writer, error) {
	w := &ext4Writer{
		f: f, bw: newBlockWriter(f), maxSize: maxSize, limit: 1<<32 - 1,
		itable: make([]byte, (firstIno-1)*inodeSize), dirOf: map[string]*ext4Dir{},
		buf: make([]byte, writeBuf), sum: sha256.New(),
	}
	est := estimateBlocks(t)
	if maxSize > 0 {
		w.limit = min(w.limit, uint64(maxSize)/blockSize)
		if est.data > w.limit {
			return nil, w.sizeErr()
		}
		est.total = min(est.total, w.limit)
	}
	groups := (est.total + blocksPerGroup - 1) / blocksPerGroup
	w.gdtBlocks = uint32((groups + descsPerBlock - 1) / descsPerBlock)
	w.next = 1 + w.gdtBlocks
	root := newExt4Dir(rootIno, rootIno)
	w.dirs, w.dirOf["."] = append(w.dirs, root), root
	if _, err := w.initInode(w.inode(rootIno), sIFDIR, &t.root.meta); err != nil {
		return nil, fmt.Errorf("root directory: %w", err)
	}
	if t.root.children["lost+found"] == nil {
		// e2fsck wants it; it gets the root's time, so the image stays
		// reproducible.
		lf := meta{mode: 0o700, mtime: t.root.meta.mtime}
		if err := w.dir("lost+found", &lf); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// blockEstimate bounds the blocks an image of a tree takes.
type blockEstimate struct{ data, total uint64 }

// estimateBlocks bounds the image size of t from above (generously: it
// only sizes the group descriptor table, one block per 16 GiB), and
// counts the file data blocks, which no image can do with fewer.
func estimateBlocks(t *tree) blockEstimate {
	var e blockEstimate
	seen := map[*content]bool{}
	var walk func(n *node)
	walk = func(n *node) {
		for name, c := range n.children {
			e.total += 4 + uint64(len(name))/64
			switch c.kind {
			case kindDir:
				walk(c)
			case kindFile:
				if !seen[c.data] {
					seen[c.data] = true
					b := (uint64(c.data.size) + blockSize - 1) / blockSize
					e.data += b
					e.total += b + b/maxExtentLen + 1
				}
			}
		}
	}
	walk(t.root)
	e.total = 2*e.total + 2*blocksPerGroup
	return e
}

// inode returns the table slot of inode ino.
func (w *ext4Writer) inode(ino uint32) inode {
	off := int(ino-1) * inodeSize
	return inode(w.itable[off : off+inodeSize])
}

// alloc reserves n blocks after the ones in use.
func (w *ext4Writer) alloc(n uint32) (uint32, error) {
	start := w.next
	if uint64(start)+uint64(n) > w.limit {
		if w.maxSize > 0 {
			return 0, w.sizeErr()
		}
		return 0, fmt.Errorf("the image would pass ext4's 16 TiB limit for 4 KiB blocks without the 64bit feature")
	}
	w.next += n
	return start, nil
}

// initInode gives in its type, metadata and extended attributes (an
// xattr block, when they need one, is written now).
func (w *ext4Writer) initInode(in inode, typ uint16, m *meta) (inode, error) {
	in.setMeta(typ, m)
	xs, err := ext4Xattrs(m.xattrs)
	if err != nil {
		return nil, err
	}
	blk, err := in.setXattrs(xs)
	if err != nil || blk == nil {
		return in, err
	}
	b, err := w.alloc(1)
	if err != nil {
		return nil, err
	}
	in.setXattrBlock(b)
	in.addBlocks(1)
	return in, w.bw.write(b, blk)
}

// create makes a new inode for p of type typ, with an entry in p's
// directory.
func (w *ext4Writer) create(p string, typ uint16, ft byte, m *meta) (uint32, inode, error) {
	parent, name := w.dirOf[path.Dir(p)], path.Base(p)
	if parent == nil {
		return 0, nil, fmt.Errorf("%s: parent directory not written first", safetext.Escape(p))
	}
	if len(name) > 255 {
		return 0, nil, fmt.Errorf("%s: name longer than ext4's 255 bytes", safetext.Escape(p))
	}
	ino := uint32(len(w.itable)/inodeSize) + 1
	if ino == 0 {
		return 0, nil, fmt.Errorf("%s: more than 2^32 inodes", safetext.Escape(p))
	}
	w.itable = append(w.itable, zeroBlock[:inodeSize]...)
	in, err := w.initInode(w.inode(ino), typ, m)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", safetext.Escape(p), err)
	}
	in.setLinks(1)
	parent.add(name, ino, ft)
	return ino, in, nil
}

func (w *ext4Writer) dir(p string, m *meta) error {
	ino, _, err := w.create(p, sIFDIR, ftDir, m)
	if err != nil {
		return err
	}
	d := newExt4Dir(ino, w.dirOf[path.Dir(p)].ino)
	w.dirs = append(w.dirs, d)
	w.dirOf[p] = d
	return nil
}

// maxSymlink is the longest symlink target Linux accepts (PATH_MAX less
// the NUL).
const maxSymlink = blockSize - 1

func (w *ext4Writer) symlink(p, target string, m *meta) error {
	if len(target) > maxSymlink {
		return fmt.Errorf("%s: symlink target longer than %d bytes", safetext.Escape(p), maxSymlink)
	}
	_, in, err := w.create(p, sIFLNK, ftLnk, m)
	if err != nil {
		return err
	}
	in.setSize(int64(len(target)))
	if len(target) < 60 { // a fast symlink: the target sits in i_block
		copy(in[40:100], target)
		return nil
	}
	b, err := w.alloc(1)
	if err != nil {
		return err
	}
	if _, err := in.setExtents(b, 1, 0); err != nil {
		return err
	}
	return w.bw.write(b, []byte(target))
}

func (w *ext4Writer) fifo(p string, m *meta) error {
	_, _, err := w.create(p, sIFIFO, ftFifo, m)
	return err
}

// devnode keeps an image's device node: the VM's own kernel owns the
// devices it names, as with any root inside the guest.
func (w *ext4Writer) devnode(p string, d *device, m *meta) error {
	return w.device(p, m, d.typ == tar.TypeChar, uint32(d.major), uint32(d.minor))
}

// device writes a character (or block) device node.
func (w *ext4Writer) device(p string, m *meta, char bool, major, minor uint32) error {
	typ, ft := uint16(sIFBLK), byte(ftBlk)
	if char {
		typ, ft = sIFCHR, ftChr
	}
	_, in, err := w.create(p, typ, ft, m)
	if err != nil {
		return err
	}
	in.setDevice(major, minor)
	return nil
}

func (w *ext4Writer) file(p string, m *meta, size int64, r io.Reader) error {
	ino, in, err := w.create(p, sIFREG, ftReg, m)
	if err != nil {
		return err
	}
	nb := (uint64(size) + blockSize - 1) / blockSize
	if nb >= w.limit {
		return w.sizeErrOr(fmt.Errorf("%s: %d bytes is too large for the image", safetext.Escape(p), size))
	}
	n := uint32(nb)
	start, err := w.alloc(n + leafBlocks(n))
	if err != nil {
		return err
	}
	leaves, err := in.setExtents(start, n, start+n)
	if err != nil {
		return fmt.Errorf("%s: %w", safetext.Escape(p), err)
	}
	in.setSize(size)
	if err := w.copyData(p, start, size, r); err != nil {
		return err
	}
	w.lastFile, w.lastIno = p, ino
	return w.bw.write(start+n, leaves)
}

// sizeErrOr is the size limit error when there is a limit, else err.
func (w *ext4Writer) sizeErrOr(err error) error {
	if w.maxSize > 0 {
		return w.sizeErr()
	}
	return err
}

// copyData streams size bytes of r into the blocks from start.
func (w *ext4Writer) copyData(p string, start uint32, size int64, r io.Reader) error {
	blk := start
	for done := int64(0); done < size; {
		b := w.buf[:min(int64(len(w.buf)), size-done)]
		n, err := io.ReadFull(r, b)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return fmt.Errorf("%s: %d bytes of %d", safetext.Escape(p), done+int64(n), size)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", safetext.Escape(p), err)
		}
		if err := w.bw.write(blk, b); err != nil {
			return err
		}
		blk += uint32(len(b) / blockSize) // only the last piece is short
		done += int64(n)
	}
	return nil
}

func (w *ext4Writer) link(p, target string) error {
	if target != w.lastFile {
		return fmt.Errorf("%s: hardlink to %s, which is not the file just written", safetext.Escape(p), safetext.Escape(target))
	}
	parent := w.dirOf[path.Dir(p)]
	if parent == nil {
		return fmt.Errorf("%s: parent directory not written first", safetext.Escape(p))
	}
	in := w.inode(w.lastIno)
	if in.links() >= linkMax {
		return fmt.Errorf("%s: more than %d hardlinks to %s", safetext.Escape(p), linkMax, safetext.Escape(target))
	}
	in.setLinks(in.links() + 1)
	parent.add(path.Base(p), w.lastIno, ftReg)
	return nil
}
