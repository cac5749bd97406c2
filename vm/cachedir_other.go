//go:build !linux

package vm

import "golang.org/x/sys/unix"

// dirFlags open a directory only to reach or bind it.
const dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC

// openDirNoFollow opens the directory name in dir, failing if name is a
// symlink or anything but a directory.
func openDirNoFollow(dir int, name string) (int, error) {
	return unix.Openat(dir, name, dirFlags|unix.O_NOFOLLOW, 0)
}
