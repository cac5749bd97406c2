//go:build !linux

package vm

import (
	"os"

	"golang.org/x/sys/unix"
)

// openBeneath opens root/rel for reading only if it resolves inside root.
func openBeneath(root, rel string) (*os.File, error) { return openBeneathByPath(root, rel) }

// dirFlags open a directory only to reach or bind it.
const dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC

// openDirNoFollow opens the directory name in dir, failing if name is a
// symlink or anything but a directory.
func openDirNoFollow(dir int, name string) (int, error) {
	return unix.Openat(dir, name, dirFlags|unix.O_NOFOLLOW, 0)
}
