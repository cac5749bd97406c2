package rootfs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/silo-dev/silo/internal/safetext"
)

// tar2ext4 copies what tar headers say into the image as they are. Two
// things need translating first, or the image is not what the layers
// meant: POSIX ACLs, which tar carries in the kernel's xattr format and
// ext4 keeps in its own, and timestamps ext4 cannot hold.

// The ACL xattrs, and the tags of the POSIX ACL xattr format.
const (
	aclAccessXattr  = "system.posix_acl_access"
	aclDefaultXattr = "system.posix_acl_default"

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
	le := binary.LittleEndian
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

// ext4Xattrs returns the xattrs as the image must hold them: ACLs in
// ext4's format. An ACL that does not parse is an error: dropping it would
// widen the file's permissions.
func ext4Xattrs(p string, xattrs map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(xattrs))
	for k, v := range xattrs {
		if k == aclAccessXattr || k == aclDefaultXattr {
			b, err := ext4ACL([]byte(v))
			if err != nil {
				return nil, fmt.Errorf("%s: xattr %s: %w", safetext.Escape(p), safetext.Escape(k), err)
			}
			v = string(b)
		}
		out[k] = v
	}
	return out, nil
}

// The range of times an image keeps as they are: ext4 holds seconds from
// 1901 to 2446, but e2fsck takes 2310-2378 for badly encoded pre-1970
// times and calls the image damaged.
var (
	minExt4Time = time.Unix(math.MinInt32, 0)
	maxExt4Time = time.Unix(int64(3)<<32-1<<31-1, 999999999)
)

// tarTime returns the time to give tar2ext4 so that the image holds t
// (clamped into the range ext4 images keep). ext4 stores seconds as a
// signed 32-bit field plus two epoch bits that add multiples of 2^32;
// tar2ext4 stores the low 34 bits of the seconds as they are, so a time
// from 2038 on would read back as one before 1970. Handing it the field
// and the epoch bits ext4 expects, packed as those 34 bits, makes it
// write the right ones.
func tarTime(t time.Time) time.Time {
	switch {
	case t.IsZero():
		return t
	case t.Before(minExt4Time):
		t = minExt4Time
	case t.After(maxExt4Time):
		t = maxExt4Time
	}
	sec := t.Unix()
	low := int64(int32(sec))
	epoch := (sec - low) >> 32 & 3
	return time.Unix(int64(uint32(low))|epoch<<32, int64(t.Nanosecond()))
}
