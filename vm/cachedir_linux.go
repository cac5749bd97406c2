package vm

import (
	"errors"

	"golang.org/x/sys/unix"
)

// dirFlags open a directory only to reach or bind it.
const dirFlags = unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC

// openDirNoFollow opens the directory name in dir, failing if name is a
// symlink (or anything but a directory), or leads out of dir.
func openDirNoFollow(dir int, name string) (int, error) {
	fd, err := unix.Openat2(dir, name, &unix.OpenHow{
		Flags:   dirFlags,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ENOSYS) {
		return unix.Openat(dir, name, dirFlags|unix.O_NOFOLLOW, 0)
	}
	return fd, err
}
