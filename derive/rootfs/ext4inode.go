package rootfs

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

var le = binary.LittleEndian

// On-disk inode layout (256-byte inodes, 24 bytes of extra fields; the
// rest holds extended attributes).
const (
	inodeSize      = 256
	extraIsize     = 24               // the fields through i_crtime_extra; no i_version_hi or i_projid
	inodeXattrOff  = 128 + extraIsize // where in-inode xattrs start
	firstIno       = 11               // first inode not reserved by ext4
	rootIno        = 2
	extentsFlag    = 0x80000 // EXT4_EXTENTS_FL
	extentMagic    = 0xF30A
	maxExtentLen   = 32768 // blocks in one initialized extent
	extentsPerLeaf = (blockSize - 12) / 12
	linkMax        = 65000 // EXT4_LINK_MAX
)

// Inode file types (i_mode's top bits) and directory entry types.
const (
	sIFIFO = 0o010000
	sIFCHR = 0o020000
	sIFDIR = 0o040000
	sIFBLK = 0o060000
	sIFREG = 0o100000
	sIFLNK = 0o120000

	ftReg  = 1
	ftDir  = 2
	ftChr  = 3
	ftBlk  = 4
	ftFifo = 5
	ftLnk  = 7
)

// inode is one 256-byte slot of the inode table.
type inode []byte

// setMeta writes the mode, owner and times of m into the inode, with the
// file type typ.
func (in inode) setMeta(typ uint16, m *meta) {
	le.PutUint16(in[0:], typ|uint16(m.mode&0o7777))
	le.PutUint16(in[2:], uint16(m.uid))
	le.PutUint16(in[120:], uint16(m.uid>>16))
	le.PutUint16(in[24:], uint16(m.gid))
	le.PutUint16(in[122:], uint16(m.gid>>16))
	le.PutUint16(in[128:], extraIsize)
	sec, extra := ext4Time(m.mtime)
	for _, off := range []int{8, 12, 16} { // atime, ctime, mtime
		le.PutUint32(in[off:], sec)
	}
	for _, off := range []int{132, 136, 140, 148} { // ctime, mtime, atime, crtime extra
		le.PutUint32(in[off:], extra)
	}
	le.PutUint32(in[144:], sec) // crtime
}

// ext4Time encodes t as ext4 does: the low 32 bits of the seconds, and an
// extra word with two more bits of seconds (the epoch) and nanoseconds.
// The zero time (a directory no entry describes) is the Unix epoch; times
// before 1901 or after 2310-04-04 are clamped (ext4 holds up to 2446, but
// e2fsck takes 2310-2378 for badly encoded pre-1970 times).
func ext4Time(t time.Time) (uint32, uint32) {
	if t.IsZero() {
		return 0, 0
	}
	sec := t.Unix()
	if sec < math.MinInt32 {
		return math.MinInt32 & math.MaxUint32, 0
	}
	if maxSec := int64(3)<<32 - 1<<31 - 1; sec > maxSec {
		sec, t = maxSec, time.Unix(maxSec, 999999999)
	}
	epoch := uint32((sec-int64(int32(sec)))>>32) & 3
	return uint32(sec), epoch | uint32(t.Nanosecond())<<2
}

func (in inode) setLinks(n uint16)      { le.PutUint16(in[26:], n) }
func (in inode) links() uint16          { return le.Uint16(in[26:]) }
func (in inode) setXattrBlock(b uint32) { le.PutUint32(in[104:], b) }

// setSize sets i_size (both halves).
func (in inode) setSize(n int64) {
	le.PutUint32(in[4:], uint32(n))
	le.PutUint32(in[108:], uint32(n>>32))
}

// addBlocks counts n more 4 KiB blocks in i_blocks (512-byte units, 48 bits
// with huge_file).
func (in inode) addBlocks(n uint64) {
	cur := uint64(le.Uint32(in[28:])) | uint64(le.Uint16(in[116:]))<<32
	cur += n * (blockSize / 512)
	le.PutUint32(in[28:], uint32(cur))
	le.PutUint16(in[116:], uint16(cur>>32))
}

// extent is a run of blocks of a file: its first logical block, length and
// first physical block.
type extent struct {
	logical, start uint32
	length         uint16
}

// extentsOf splits n blocks written contiguously from start into extents.
func extentsOf(start, n uint32) []extent {
	var es []extent
	for done := uint32(0); done < n; {
		l := min(n-done, maxExtentLen)
		es = append(es, extent{logical: done, start: start + done, length: uint16(l)})
		done += l
	}
	return es
}

// leafBlocks is how many extent leaf blocks a file of n contiguous blocks
// needs: none when its extents fit in the inode.
func leafBlocks(n uint32) uint32 {
	e := (n + maxExtentLen - 1) / maxExtentLen
	if e <= 4 {
		return 0
	}
	return (e + extentsPerLeaf - 1) / extentsPerLeaf
}

// putExtentHeader writes an extent tree node header.
func putExtentHeader(b []byte, entries, maxEntries, depth int) {
	le.PutUint16(b[0:], extentMagic)
	le.PutUint16(b[2:], uint16(entries))
	le.PutUint16(b[4:], uint16(maxEntries))
	le.PutUint16(b[6:], uint16(depth))
	le.PutUint32(b[8:], 0)
}

// putExtents writes a leaf node holding es into b, which has room for max.
func putExtents(b []byte, es []extent, maxEntries int) {
	putExtentHeader(b, len(es), maxEntries, 0)
	for i, e := range es {
		p := b[12+12*i:]
		le.PutUint32(p[0:], e.logical)
		le.PutUint16(p[4:], e.length)
		le.PutUint16(p[6:], 0) // start_hi: block numbers fit in 32 bits
		le.PutUint32(p[8:], e.start)
	}
}

// setExtents maps the inode's n blocks, written contiguously from start,
// and returns the extent leaf blocks to write at leaf and after (the
// caller has reserved leafBlocks(n) blocks there). i_blocks counts data
// and leaves.
func (in inode) setExtents(start, n, leaf uint32) ([]byte, error) {
	le.PutUint32(in[32:], le.Uint32(in[32:])|extentsFlag)
	root := in[40:100]
	es := extentsOf(start, n)
	nleaf := leafBlocks(n)
	in.addBlocks(uint64(n) + uint64(nleaf))
	if nleaf == 0 {
		putExtents(root, es, 4)
		return nil, nil
	}
	if nleaf > 4 {
		return nil, fmt.Errorf("%d blocks need a deeper extent tree than silo writes (at most %d extents)", n, 4*extentsPerLeaf)
	}
	leaves := make([]byte, int(nleaf)*blockSize)
	putExtentHeader(root, int(nleaf), 4, 1)
	for i := range int(nleaf) {
		part := es[i*extentsPerLeaf : min(len(es), (i+1)*extentsPerLeaf)]
		putExtents(leaves[i*blockSize:], part, extentsPerLeaf)
		idx := root[12+12*i:]
		le.PutUint32(idx[0:], part[0].logical)
		le.PutUint32(idx[4:], leaf+uint32(i))
		le.PutUint16(idx[8:], 0)
		le.PutUint16(idx[10:], 0)
	}
	return leaves, nil
}

// setDevice stores a device number as the kernel does: the old 16-bit
// encoding when it fits, else the new one in the second word.
func (in inode) setDevice(major, minor uint32) {
	if major < 256 && minor < 256 {
		le.PutUint32(in[40:], major<<8|minor)
		return
	}
	le.PutUint32(in[44:], minor&0xff|major<<8|(minor&^0xff)<<12)
}
