package qemu

import (
	"errors"
	"fmt"
	"github.com/silo-dev/silo/internal/home"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

// Serials of the VM's disks, which the guest init finds them by.
const (
	rootSerial    = "silo-rootfs"
	scratchSerial = "silo-scratch"
)

// errNoMkfs means mkfs.ext4 is missing: the VM falls back to a tmpfs
// scratch, bounded by its RAM.
var errNoMkfs = errors.New("mkfs.ext4 not found")

// scratchTemplate returns an empty ext4 image of sizeMB (a sparse file),
// made once per size under home/runtime. VMs attach it with snapshot=on:
// their writes go to a throwaway overlay and the template stays empty.
func scratchTemplate(h home.Dir, sizeMB int) (string, error) {
	dir := h.Runtime()
	path := filepath.Join(dir, "scratch-"+strconv.Itoa(sizeMB)+"M.ext4")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	mkfs, err := exec.LookPath("mkfs.ext4")
	if err != nil {
		return "", errNoMkfs
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("make the scratch disk template: %w", err)
	}
	f, err := os.CreateTemp(dir, ".scratch-*.ext4")
	if err != nil {
		return "", fmt.Errorf("make the scratch disk template: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	err = f.Truncate(int64(sizeMB) << 20)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("make the scratch disk template: %w", err)
	}
	// No journal and lazy tables: the disk lives for one run.
	cmd := exec.Command(mkfs, "-q", "-F", "-m", "0", "-O", "^has_journal",
		"-E", "lazy_itable_init=1,lazy_journal_init=1,nodiscard", tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("make the scratch disk template: mkfs.ext4: %v: %s", err, out)
	}
	if err := os.Chmod(tmp, 0o444); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("make the scratch disk template: %w", err)
	}
	return path, nil
}

// scratchDisk returns the scratch template for spec, or "" when the VM
// uses a tmpfs (no size asked for, or no mkfs.ext4 here).
func (b *Backend) scratchDisk(sizeMB int) (string, error) {
	if sizeMB <= 0 {
		return "", nil
	}
	p, err := scratchTemplate(home.Dir(b.o.Home), sizeMB)
	if errors.Is(err, errNoMkfs) {
		return "", nil
	}
	return p, err
}
