package rootfs

import "fmt"

// Block group geometry for 4 KiB blocks and 32-byte group descriptors
// (no 64bit feature: up to 2^32 blocks, 16 TiB).
const (
	blocksPerGroup = blockSize * 8
	descSize       = 32
	descsPerBlock  = blockSize / descSize
	inodesPerBlock = blockSize / inodeSize
)

// Feature flags the images carry.
const (
	compatExtAttr      = 0x0008
	compatSparseSuper2 = 0x0200 // with no backup groups: no backup superblocks at all

	incompatFiletype = 0x0002
	incompatExtents  = 0x0040
	incompatFlexBg   = 0x0200 // group metadata may sit anywhere

	roCompatSparseSuper = 0x0001
	roCompatLargeFile   = 0x0002
	roCompatHugeFile    = 0x0008
	roCompatDirNlink    = 0x0020
	roCompatExtraIsize  = 0x0040
	roCompatReadonly    = 0x1000 // never mounted read-write
)

// geometry is the block group layout chosen once the tree is written.
type geometry struct {
	groups, inodesPerGroup uint32
	itable, bitmaps        uint32 // first block of the inode tables and of the bitmaps
	blocks                 uint32 // the image size in blocks
	usedEnd                uint32 // blocks from here to blocks are free
	inodes                 uint32 // inodes in use, 1 to inodes
}

// chooseGeometry picks the fewest groups that hold the blocks used so far
// (end), the inode table for n inodes, and two bitmaps a group.
func chooseGeometry(end, n uint32) geometry {
	g := max(1, (end+blocksPerGroup-1)/blocksPerGroup)
	for ; ; g++ {
		ipg := (n + g - 1) / g
		ipg = max(inodesPerBlock, (ipg+inodesPerBlock-1)/inodesPerBlock*inodesPerBlock)
		if ipg > blocksPerGroup {
			continue
		}
		total := uint64(end) + uint64(g)*uint64(ipg/inodesPerBlock) + 2*uint64(g)
		if total <= uint64(g)*blocksPerGroup {
			return geometry{groups: g, inodesPerGroup: ipg, inodes: n}
		}
	}
}

// finish writes what only the complete tree determines: directory blocks,
// the inode table, the bitmaps, the group descriptors and the superblock.
func (w *ext4Writer) finish() error {
	if err := w.writeDirs(); err != nil {
		return err
	}
	geo := chooseGeometry(w.next, uint32(len(w.itable)/inodeSize))
	if need := (geo.groups + descsPerBlock - 1) / descsPerBlock; need > w.gdtBlocks {
		return fmt.Errorf("write ext4 image: %d block groups need %d descriptor blocks, %d reserved", geo.groups, need, w.gdtBlocks)
	}
	var err error
	if geo.itable, err = w.alloc(geo.groups * geo.inodesPerGroup / inodesPerBlock); err != nil {
		return err
	}
	if geo.bitmaps, err = w.alloc(2 * geo.groups); err != nil {
		return err
	}
	geo.usedEnd = w.next
	geo.blocks = max(w.next, (geo.groups-1)*blocksPerGroup+1)
	if w.maxSize > 0 && uint64(geo.blocks)*blockSize > uint64(w.maxSize) {
		return w.sizeErr()
	}
	w.sum.Write(w.itable)
	if err := w.bw.write(geo.itable, w.itable); err != nil {
		return err
	}
	free, err := w.writeBitmaps(&geo)
	if err != nil {
		return err
	}
	if err := w.bw.write(0, w.superblock(&geo, free)); err != nil {
		return err
	}
	if err := w.bw.write(1, w.descriptors(&geo, free)); err != nil {
		return err
	}
	if err := w.bw.flush(); err != nil {
		return err
	}
	if err := w.f.Truncate(int64(geo.blocks) * blockSize); err != nil {
		return fmt.Errorf("write ext4 image: %w", err)
	}
	return nil
}

// groupCounts are the free and used counts of one block group.
type groupCounts struct {
	freeBlocks, freeInodes, dirs uint32
}

// blockUsed tells whether block b is in use: everything below usedEnd but
// the descriptor blocks reserved and not needed.
func (w *ext4Writer) blockUsed(geo *geometry, b uint32) bool {
	gdtUsed := (geo.groups + descsPerBlock - 1) / descsPerBlock
	if b > gdtUsed && b <= w.gdtBlocks {
		return false
	}
	return b < geo.usedEnd
}

// writeBitmaps writes each group's block and inode bitmap and returns the
// groups' counts.
func (w *ext4Writer) writeBitmaps(geo *geometry) ([]groupCounts, error) {
	counts := make([]groupCounts, geo.groups)
	for _, d := range w.dirs {
		counts[(d.ino-1)/geo.inodesPerGroup].dirs++
	}
	bm := make([]byte, 2*blockSize)
	for g := range geo.groups {
		clear(bm)
		bb, ib := bm[:blockSize], bm[blockSize:]
		c := &counts[g]
		for i := range uint32(blocksPerGroup) {
			b := g*blocksPerGroup + i
			switch {
			case b >= geo.blocks: // past the end: padding, marked in use
				bb[i/8] |= 1 << (i % 8)
			case w.blockUsed(geo, b):
				bb[i/8] |= 1 << (i % 8)
			default:
				c.freeBlocks++
			}
		}
		for i := range uint32(blockSize * 8) {
			if ino := g*geo.inodesPerGroup + i + 1; i >= geo.inodesPerGroup || ino <= geo.inodes {
				ib[i/8] |= 1 << (i % 8)
			} else {
				c.freeInodes++
			}
		}
		if err := w.bw.write(geo.bitmaps+g, bb); err != nil {
			return nil, err
		}
		if err := w.bw.write(geo.bitmaps+geo.groups+g, ib); err != nil {
			return nil, err
		}
	}
	return counts, nil
}

// descriptors is the group descriptor table.
func (w *ext4Writer) descriptors(geo *geometry, counts []groupCounts) []byte {
	gdt := make([]byte, int(geo.groups)*descSize)
	itBlocks := geo.inodesPerGroup / inodesPerBlock
	for g := range geo.groups {
		d := gdt[g*descSize:]
		le.PutUint32(d[0:], geo.bitmaps+g)
		le.PutUint32(d[4:], geo.bitmaps+geo.groups+g)
		le.PutUint32(d[8:], geo.itable+g*itBlocks)
		le.PutUint16(d[12:], uint16(counts[g].freeBlocks))
		le.PutUint16(d[14:], uint16(counts[g].freeInodes))
		le.PutUint16(d[16:], uint16(counts[g].dirs))
	}
	return gdt
}

// superblock is block 0: 1 KiB of zeros, then the superblock.
func (w *ext4Writer) superblock(geo *geometry, counts []groupCounts) []byte {
	b := make([]byte, blockSize)
	s := b[1024:2048]
	var freeBlocks, freeInodes uint32
	for _, c := range counts {
		freeBlocks += c.freeBlocks
		freeInodes += c.freeInodes
	}
	put32 := func(off int, v uint32) { le.PutUint32(s[off:], v) }
	put16 := func(off int, v uint16) { le.PutUint16(s[off:], v) }
	put32(0, geo.groups*geo.inodesPerGroup)
	put32(4, geo.blocks)
	put32(12, freeBlocks)
	put32(16, freeInodes)
	put32(24, 2) // log2(block size) - 10
	put32(28, 2) // clusters are blocks
	put32(32, blocksPerGroup)
	put32(36, blocksPerGroup)
	put32(40, geo.inodesPerGroup)
	put16(54, 0xFFFF) // no mount count check
	put16(56, 0xEF53)
	put16(58, 1) // cleanly unmounted
	put16(60, 1) // on errors, continue
	put32(76, 1) // dynamic revision
	put32(84, firstIno)
	put16(88, inodeSize)
	put32(92, compatExtAttr|compatSparseSuper2)
	put32(96, incompatFiletype|incompatExtents|incompatFlexBg)
	put32(100, roCompatSparseSuper|roCompatLargeFile|roCompatHugeFile|roCompatDirNlink|roCompatExtraIsize|roCompatReadonly)
	copy(s[104:120], w.uuid())
	copy(s[120:136], "silo-rootfs")
	put16(348, extraIsize) // s_min_extra_isize
	put16(350, extraIsize) // s_want_extra_isize
	s[372] = 31            // s_log_groups_per_flex: one flex group for all
	return b
}

// uuid is derived from the image's metadata (directories and inodes),
// so the same layers give the same UUID.
func (w *ext4Writer) uuid() []byte {
	u := w.sum.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x80 // version 8: custom
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u
}
