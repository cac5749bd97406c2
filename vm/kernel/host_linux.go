package kernel

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// HostKernel returns the import options for the running kernel:
// /boot/vmlinuz-$(uname -r) with /lib/modules/$(uname -r), if readable.
func HostKernel() (ImportOptions, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ImportOptions{}, fmt.Errorf("uname: %w", err)
	}
	rel := unix.ByteSliceToString(u.Release[:])
	o := ImportOptions{Image: filepath.Join("/boot", "vmlinuz-"+rel), Modules: filepath.Join("/lib/modules", rel)}
	for _, p := range []string{o.Image, o.Modules} {
		f, err := os.Open(p)
		if err != nil {
			return o, fmt.Errorf("the host kernel %s is not usable: %w", rel, err)
		}
		f.Close()
	}
	return o, nil
}
