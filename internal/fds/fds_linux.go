package fds

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// CloseOnExec marks every open descriptor from first up close-on-exec, so
// that no program this process starts inherits one it was not handed
// explicitly (os/exec's ExtraFiles still pass). Go opens its own files
// close-on-exec; this is for what the parent process left open.
func CloseOnExec(first int) error {
	err := unix.CloseRange(uint(first), ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	// Kernels before 5.11: walk /proc/self/fd.
	ents, rerr := os.ReadDir("/proc/self/fd")
	if rerr != nil {
		return err
	}
	for _, e := range ents {
		fd, perr := strconv.Atoi(e.Name())
		if perr == nil && fd >= first {
			unix.CloseOnExec(fd)
		}
	}
	return nil
}
