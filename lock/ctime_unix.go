//go:build linux || darwin

package lock

import (
	"os"
	"syscall"
	"time"
)

// changeTime returns the inode change time of path: the kernel sets it on
// every write, rename or attribute change, and nothing can set it back.
func changeTime(path string) (time.Time, bool) {
	fi, err := os.Lstat(path)
	if err != nil {
		return time.Time{}, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return time.Time{}, false
	}
	ts := statCtime(st)
	return time.Unix(ts.Unix()), true
}
