package rootfs

import (
	"encoding/binary"
	"fmt"
	"os"
)

// padInodeBitmaps sets the padding bits at the end of each block group's
// inode bitmap, which tar2ext4 leaves clear. The kernel ignores them, but
// e2fsck reports "Padding at end of inode bitmap is not set", and an image
// that fsck calls damaged is not one to hand to a VM. The images have no
// metadata checksums (tar2ext4 does not enable metadata_csum), so nothing
// else needs updating.
func padInodeBitmaps(f *os.File) error {
	sb := make([]byte, 1024)
	if _, err := f.ReadAt(sb, 1024); err != nil {
		return fmt.Errorf("read superblock: %w", err)
	}
	le := binary.LittleEndian
	if le.Uint16(sb[56:]) != 0xEF53 {
		return fmt.Errorf("no ext4 superblock")
	}
	blocks := uint64(le.Uint32(sb[4:]))
	blockSize := uint64(1024) << le.Uint32(sb[24:])
	perGroup := uint64(le.Uint32(sb[32:]))
	inodesPerGroup := uint64(le.Uint32(sb[40:]))
	descSize := uint64(32)
	if incompat := le.Uint32(sb[96:]); incompat&0x80 != 0 { // 64bit
		descSize = uint64(le.Uint16(sb[254:]))
	}
	if perGroup == 0 || inodesPerGroup == 0 || inodesPerGroup > blockSize*8 {
		return fmt.Errorf("implausible superblock")
	}
	groups := (blocks + perGroup - 1) / perGroup
	gdtStart := blockSize
	if blockSize == 1024 {
		gdtStart = 2048
	}
	bitmap := make([]byte, blockSize)
	gd := make([]byte, descSize)
	for g := uint64(0); g < groups; g++ {
		if _, err := f.ReadAt(gd, int64(gdtStart+g*descSize)); err != nil {
			return fmt.Errorf("read group descriptor %d: %w", g, err)
		}
		off := int64(uint64(le.Uint32(gd[4:])) * blockSize)
		if _, err := f.ReadAt(bitmap, off); err != nil {
			return fmt.Errorf("read inode bitmap %d: %w", g, err)
		}
		for j := inodesPerGroup; j < blockSize*8; j++ {
			bitmap[j/8] |= 1 << (j % 8)
		}
		if _, err := f.WriteAt(bitmap, off); err != nil {
			return fmt.Errorf("write inode bitmap %d: %w", g, err)
		}
	}
	return nil
}
