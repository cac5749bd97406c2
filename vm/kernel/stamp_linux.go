package kernel

import (
	"os"
	"syscall"
)

// sysStamp returns a file's change time, inode and device.
func sysStamp(fi os.FileInfo) (ctime int64, ino, dev uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ctim.Nano(), st.Ino, uint64(st.Dev)
	}
	return 0, 0, 0
}
