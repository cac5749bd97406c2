package rootfs

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/silo-dev/silo/internal/safetext"
)

const (
	xattrMagic     = 0xEA020000
	xattrBlockHdr  = 32 // header of an xattr block
	inodeXattrRoom = inodeSize - inodeXattrOff - 4
)

// xattrPrefixes are the name prefixes ext4 stores as an index, longest
// first where one is the start of another.
var xattrPrefixes = []struct {
	prefix string
	index  uint8
}{
	{"system.posix_acl_access", 2},
	{"system.posix_acl_default", 3},
	{"user.", 1},
	{"trusted.", 4},
	{"security.", 6},
	{"system.", 7},
}

// xattr is one extended attribute as ext4 stores it.
type xattr struct {
	index uint8
	name  string // without the prefix the index stands for
	value []byte
}

func (x *xattr) entrySize() int { return (16 + len(x.name) + 3) &^ 3 }
func (x *xattr) valueSize() int { return (len(x.value) + 3) &^ 3 }

// hash is ext4_xattr_hash_entry.
func (x *xattr) hash() uint32 {
	var h uint32
	for _, c := range []byte(x.name) {
		h = h<<5 ^ h>>27 ^ uint32(c)
	}
	v := x.value
	for len(v) > 0 {
		var w [4]byte
		n := copy(w[:], v)
		v = v[n:]
		h = h<<16 ^ h>>16 ^ le.Uint32(w[:])
	}
	return h
}

// ext4Xattrs turns a tar header's xattrs into ext4 entries, sorted as ext4
// keeps them in a block (by index, name length, name).
func ext4Xattrs(m map[string]string) ([]xattr, error) {
	xs := make([]xattr, 0, len(m))
	for k, v := range m {
		x := xattr{name: k, value: []byte(v)}
		for _, p := range xattrPrefixes {
			if rest, ok := strings.CutPrefix(k, p.prefix); ok {
				x.index, x.name = p.index, rest
				break
			}
		}
		if x.index == 2 || x.index == 3 {
			if x.name != "" {
				x.index, x.name = 7, strings.TrimPrefix(k, "system.")
			} else if b, err := ext4ACL(x.value); err != nil {
				return nil, fmt.Errorf("xattr %s: %w", safetext.Escape(k), err)
			} else {
				x.value = b
			}
		}
		if len(x.name) > 255 {
			return nil, fmt.Errorf("xattr name %q is longer than 255 bytes", k)
		}
		xs = append(xs, x)
	}
	slices.SortFunc(xs, func(a, b xattr) int {
		return cmp.Or(cmp.Compare(a.index, b.index), cmp.Compare(len(a.name), len(b.name)), strings.Compare(a.name, b.name))
	})
	return xs, nil
}

// xattrSpace is the bytes xs take: entries with the 4-byte end marker, and
// values.
func xattrSpace(xs []xattr) int {
	n := 4
	for i := range xs {
		n += xs[i].entrySize() + xs[i].valueSize()
	}
	return n
}

// putXattrs writes the entries of xs from b[first] and their values down
// from the end of b. Value offsets count from b[0]: the first entry in an
// inode, the block start in a block.
func putXattrs(b []byte, first int, xs []xattr) {
	e, v := first, len(b)
	for i := range xs {
		x := &xs[i]
		v -= x.valueSize()
		p := b[e:]
		p[0] = byte(len(x.name))
		p[1] = x.index
		if len(x.value) > 0 {
			le.PutUint16(p[2:], uint16(v))
			copy(b[v:], x.value)
		}
		le.PutUint32(p[8:], uint32(len(x.value)))
		le.PutUint32(p[12:], x.hash())
		copy(p[16:], x.name)
		e += x.entrySize()
	}
}

// setXattrs stores xs in the inode's spare room when they fit, and
// otherwise returns an xattr block for the caller to write.
func (in inode) setXattrs(xs []xattr) ([]byte, error) {
	if len(xs) == 0 {
		return nil, nil
	}
	if xattrSpace(xs) <= inodeXattrRoom {
		le.PutUint32(in[inodeXattrOff:], xattrMagic)
		putXattrs(in[inodeXattrOff+4:], 0, xs)
		return nil, nil
	}
	if xattrSpace(xs) > blockSize-xattrBlockHdr {
		return nil, fmt.Errorf("extended attributes take %d bytes, more than the %d an ext4 xattr block holds", xattrSpace(xs), blockSize-xattrBlockHdr)
	}
	b := make([]byte, blockSize)
	le.PutUint32(b[0:], xattrMagic)
	le.PutUint32(b[4:], 1) // refcount
	le.PutUint32(b[8:], 1) // blocks
	var h uint32
	for i := range xs {
		h = h<<16 ^ h>>16 ^ xs[i].hash()
	}
	le.PutUint32(b[12:], h)
	putXattrs(b, xattrBlockHdr, xs)
	return b, nil
}

// ACL tags of the POSIX ACL xattr format.
const (
	aclUserObj  = 0x01
	aclUser     = 0x02
	aclGroupObj = 0x04
	aclGroup    = 0x08
	aclMask     = 0x10
	aclOther    = 0x20
)

// ext4ACL converts a POSIX ACL from the xattr format tar carries (version
// 2, 8-byte entries) to the one ext4 keeps on disk (version 1, 4-byte
// entries where no id is needed).
func ext4ACL(v []byte) ([]byte, error) {
	if len(v) < 4 || (len(v)-4)%8 != 0 || le.Uint32(v) != 2 {
		return nil, fmt.Errorf("not a POSIX ACL (version 2)")
	}
	var out bytes.Buffer
	out.Write([]byte{1, 0, 0, 0})
	for p := v[4:]; len(p) > 0; p = p[8:] {
		tag := le.Uint16(p)
		out.Write(p[:4])
		switch tag {
		case aclUser, aclGroup:
			out.Write(p[4:8])
		case aclUserObj, aclGroupObj, aclMask, aclOther:
		default:
			return nil, fmt.Errorf("unknown ACL tag %#x", tag)
		}
	}
	return out.Bytes(), nil
}
