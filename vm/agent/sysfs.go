//go:build linux

package agent

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// devNodes are the device nodes a sandbox gets, bound from the agent's
// /dev: no disks, no kernel memory, no host terminals.
var devNodes = []string{"null", "zero", "full", "random", "urandom", "tty"}

// systemMounts mounts /proc and a minimal /dev, and makes /tmp, under
// root. With l.SharedKernel (the namespace backend), the agent's own
// /proc and /dev, which bubblewrap made for this sandbox (its PID
// namespace, a minimal /dev), are bound in whole: one mount each instead
// of a dozen. With l.System, those PrepareSystem made there are moved in.
func systemMounts(root string, l Layout) error {
	proc, dev := filepath.Join(root, "proc"), filepath.Join(root, "dev")
	for _, d := range []string{proc, dev} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("make %s: %w", d[len(root):], err)
		}
	}
	switch {
	case l.SharedKernel:
		for _, d := range []string{"/proc", "/dev"} {
			if err := unix.Mount(d, filepath.Join(root, d), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
				return fmt.Errorf("bind %s: %w", d, err)
			}
		}
	case l.System != "":
		for _, d := range []string{"proc", "dev"} {
			if err := unix.Mount(filepath.Join(l.System, d), filepath.Join(root, d), "", unix.MS_MOVE, ""); err != nil {
				return fmt.Errorf("move /%s into the sandbox: %w", d, err)
			}
		}
	default:
		if err := mountProcDev(proc, dev); err != nil {
			return err
		}
	}
	tmp := filepath.Join(root, "tmp")
	if err := os.MkdirAll(tmp, 0o1777); err != nil {
		return fmt.Errorf("make /tmp: %w", err)
	}
	return os.Chmod(tmp, 0o1777|os.ModeSticky)
}

// PrepareSystem mounts a /proc and a minimal /dev at dir/proc and dir/dev,
// as a sandbox's root gets them, for the agent to move into the root it
// builds (Layout.System): a VM's init makes them before its snapshot
// point, where they are the same in every run.
func PrepareSystem(dir string) error {
	proc, dev := filepath.Join(dir, "proc"), filepath.Join(dir, "dev")
	for _, d := range []string{proc, dev} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("make %s: %w", d, err)
		}
	}
	return mountProcDev(proc, dev)
}

// mountProcDev mounts a fresh /proc at proc and builds a minimal /dev at
// dev.
func mountProcDev(proc, dev string) error {
	if err := unix.Mount("proc", proc, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	return devMounts(dev)
}

// devMounts builds /dev: a tmpfs with the usual nodes bound in, a private
// devpts and /dev/shm.
func devMounts(dev string) error {
	if err := unix.Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=0755,size=1m"); err != nil {
		return fmt.Errorf("mount /dev: %w", err)
	}
	for _, n := range devNodes {
		dst := filepath.Join(dev, n)
		if err := touch(dst); err != nil {
			return fmt.Errorf("make /dev/%s: %w", n, err)
		}
		if err := unix.Mount("/dev/"+n, dst, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind /dev/%s: %w", n, err)
		}
	}
	pts := filepath.Join(dev, "pts")
	if err := os.Mkdir(pts, 0o755); err != nil {
		return fmt.Errorf("make /dev/pts: %w", err)
	}
	if err := unix.Mount("devpts", pts, "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		return fmt.Errorf("mount /dev/pts: %w", err)
	}
	shm := filepath.Join(dev, "shm")
	if err := os.Mkdir(shm, 0o1777); err != nil {
		return fmt.Errorf("make /dev/shm: %w", err)
	}
	if err := unix.Mount("tmpfs", shm, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
		return fmt.Errorf("mount /dev/shm: %w", err)
	}
	links := map[string]string{"ptmx": "pts/ptmx", "fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dev, name)); err != nil {
			return fmt.Errorf("make /dev/%s: %w", name, err)
		}
	}
	return nil
}
