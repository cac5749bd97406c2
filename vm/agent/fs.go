//go:build linux

package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/silo-dev/silo/vm/proto"
)

// sandboxFS is the sandbox's filesystem once built: what cleanup must undo
// on the host's workspace.
type sandboxFS struct {
	filter  *filter  // the workspace filter, once mounted
	wsMount string   // where the filter is mounted: under the new root, then /workspace
	upper   *os.File // the overlay's upper layer, kept open for a build's capture
	hosts   bool     // the agent wrote /etc/hosts (the image has none): not the build's to capture
	// toHost are the file systems whose writes reach the host, in the
	// order they sync: the workspace filter, then the 9p shares under it.
	toHost []*os.File
}

// buildRoot assembles the sandbox's root and makes it the process root:
// an overlay of the read-only lower rootfs and a scratch upper, the
// workspace at /workspace with its excludes and protected paths, the pass
// files, /proc, /dev and /tmp.
func buildRoot(l Layout, s *proto.Spec) (*sandboxFS, error) {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return nil, fmt.Errorf("make mounts private: %w", err)
	}
	lower := l.Lower
	if l.SharedKernel && len(s.Owners) > 0 {
		own, err := ownersLayer(l.Lower, l.Scratch, s.Owners)
		if err != nil {
			return nil, err
		}
		if own != "" {
			lower = own + ":" + l.Lower
		}
	}
	root, err := overlayRoot(l, lower)
	if err != nil {
		return nil, err
	}
	hosts, err := etcHosts(root, s)
	if err != nil {
		return nil, err
	}
	fs := &sandboxFS{hosts: hosts}
	if s.Capture != nil {
		// Opened before the root is entered: the capture reads it through
		// /proc/self/fd once the old root is gone.
		if fs.upper, err = os.Open(filepath.Join(l.Scratch, "upper")); err != nil {
			return nil, fmt.Errorf("open the build's upper layer: %w", err)
		}
	}
	if err := fs.workspace(l, root, s); err != nil {
		fs.cleanup()
		return nil, err
	}
	if err := hostMounts(l.Mounts, root, s.Mounts); err != nil {
		fs.cleanup()
		return nil, err
	}
	if err := passFiles(l.Scratch, root, s.Files); err != nil {
		fs.cleanup()
		return nil, err
	}
	if err := systemMounts(root, l); err != nil {
		fs.cleanup()
		return nil, err
	}
	if !l.SharedKernel {
		if err := fs.openToHost(l); err != nil {
			fs.cleanup()
			return nil, err
		}
	}
	if s.Hostname != "" {
		_ = unix.Sethostname([]byte(s.Hostname))
	}
	if err := enterRoot(root); err != nil {
		fs.cleanup()
		return nil, err
	}
	fs.wsMount = workdir(s)
	return fs, nil
}

// openToHost opens the file systems whose writes reach the host, to sync
// them once the command is done (syncToHost): the workspace filter, the
// 9p workspace behind it and each shared host directory. The scratch
// disk, which is thrown away, is not among them.
func (fs *sandboxFS) openToHost(l Layout) error {
	dirs := []string{fs.wsMount, l.Workspace}
	if l.Mounts != "" {
		names, err := readDirNames(l.Mounts)
		if err != nil {
			return fmt.Errorf("list the shared host directories: %w", err)
		}
		for _, n := range names {
			dirs = append(dirs, filepath.Join(l.Mounts, n))
		}
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		f, err := os.OpenFile(d, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
		if err != nil {
			return fmt.Errorf("open %s to sync it: %w", d, err)
		}
		fs.toHost = append(fs.toHost, f)
	}
	return nil
}

// readDirNames lists dir; a missing dir is empty.
func readDirNames(dir string) ([]string, error) {
	es, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	names := make([]string, 0, len(es))
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names, err
}

// syncToHost writes what the sandbox changed on the host's file systems
// back to the host, in order: the filter's pages first, then the 9p
// shares they went to. Only those: a global sync would also write the
// scratch disk's pages, which nobody reads again.
func (fs *sandboxFS) syncToHost() {
	for _, f := range fs.toHost {
		_ = unix.Syncfs(int(f.Fd()))
	}
}

// etcHosts gives the sandbox an /etc/hosts, as Docker does, unless the
// image has one (a file or a link, which is the image's to keep): the
// loopback names, the sandbox's host name and, when the policy grants
// host access, host.silo.internal. The file is written into the overlay,
// so it lands in the scratch upper layer, never in the store's rootfs,
// and a build does not capture it. It reports whether it wrote one.
func etcHosts(root string, s *proto.Spec) (bool, error) {
	p := filepath.Join(root, "etc", "hosts")
	if _, err := os.Lstat(p); err == nil || !errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return false, fmt.Errorf("make /etc for /etc/hosts: %w", err)
	}
	if err := os.WriteFile(p, []byte(hostsFile(s)), 0o644); err != nil {
		return false, fmt.Errorf("write /etc/hosts: %w", err)
	}
	return true, nil
}

// hostsFile is the /etc/hosts etcHosts writes. host.silo.internal is
// the host's loopback as the proxy resolves it; the line lets a client
// that looks the name up before handing the URL to the proxy go on.
func hostsFile(s *proto.Spec) string {
	h := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	if s.Hostname != "" {
		h += "127.0.1.1\t" + s.Hostname + "\n"
	}
	if s.HostAccess {
		h += "127.0.0.1\thost.silo.internal\n"
	}
	return h
}

// overlayRoot mounts lower (one directory, or several joined with ":",
// top first) + scratch upper at scratch/root.
func overlayRoot(l Layout, lower string) (string, error) {
	upper, work, root := filepath.Join(l.Scratch, "upper"), filepath.Join(l.Scratch, "work"), filepath.Join(l.Scratch, "root")
	for _, d := range []string{upper, work, root} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", fmt.Errorf("prepare scratch: %w", err)
		}
	}
	opts := "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work
	err := unix.Mount("overlay", root, "overlay", 0, opts)
	if err != nil {
		// Inside a user namespace overlayfs keeps its metadata in user.*
		// xattrs.
		err = unix.Mount("overlay", root, "overlay", 0, opts+",userxattr")
	}
	if err != nil {
		return "", fmt.Errorf("mount the rootfs overlay: %w", err)
	}
	return root, nil
}

// workspace serves the host workspace at /workspace through the
// workspace filter, which applies the protected paths, the excludes and
// the read-only mode. On the namespace backend the agent's /dev/fuse,
// which bubblewrap bound in for it, is detached once the filter has it:
// the command gets none.
func (fs *sandboxFS) workspace(l Layout, root string, s *proto.Spec) error {
	dst, err := securePath(root, workdir(s))
	if err != nil {
		return fmt.Errorf("workdir %s: %w", workdir(s), err)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("make %s: %w", workdir(s), err)
	}
	f, err := mountFilter(l.Workspace, filepath.Join(l.Scratch, "exclude"), dst,
		filterOptions{protected: s.Protected, exclude: s.Exclude, excludeDirs: excludeSources(l, s), readOnly: s.ReadOnly})
	if err != nil {
		return err
	}
	fs.filter, fs.wsMount = f, dst
	if l.SharedKernel {
		_ = unix.Unmount("/dev/fuse", unix.MNT_DETACH)
	}
	return nil
}

// excludeSources is the directory backing each excluded path when it is
// the host's kept one the backend shared (ExcludeMounts); "" for the
// sandbox's own scratch.
func excludeSources(l Layout, s *proto.Spec) []string {
	srcs := make([]string, len(s.Exclude))
	for i := range s.Exclude {
		if i < len(s.ExcludeMounts) && s.ExcludeMounts[i] >= 0 && l.Mounts != "" {
			srcs[i] = filepath.Join(l.Mounts, strconv.Itoa(s.ExcludeMounts[i]))
		}
	}
	return srcs
}

// workdir is where the workspace appears inside.
func workdir(s *proto.Spec) string {
	if s.Workdir == "" {
		return "/workspace"
	}
	return s.Workdir
}

// passFiles writes each pass file into scratch and binds it read-only at
// its guest path.
func passFiles(scratch, root string, files []proto.File) error {
	dir := filepath.Join(scratch, "files")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("prepare pass files: %w", err)
	}
	for i, f := range files {
		src := filepath.Join(dir, strconv.Itoa(i))
		if err := os.WriteFile(src, f.Data, os.FileMode(f.Mode&0o555)|0o444); err != nil {
			return fmt.Errorf("pass file %s: %w", f.Guest, err)
		}
		dst, err := securePath(root, f.Guest)
		if err != nil {
			return fmt.Errorf("pass file %s: %w", f.Guest, err)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("pass file %s: %w", f.Guest, err)
		}
		if err := touch(dst); err != nil {
			return fmt.Errorf("pass file %s: %w", f.Guest, err)
		}
		if err := bindReadOnly(src, dst, true); err != nil {
			return fmt.Errorf("pass file %s: %w", f.Guest, err)
		}
	}
	return nil
}

// hostMounts binds the host directories the backend shared (package
// caches) read-write at their guest paths.
func hostMounts(dir, root string, guests []string) error {
	if dir == "" {
		return nil
	}
	for i, g := range guests {
		src := filepath.Join(dir, strconv.Itoa(i))
		dst, err := securePath(root, g)
		if err != nil {
			return fmt.Errorf("cache %s: %w", g, err)
		}
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return fmt.Errorf("cache %s: %w", g, err)
		}
		if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("cache %s: %w", g, err)
		}
	}
	return nil
}

// securePath joins a guest path under root, refusing any symlink on the
// way, so that a rootfs cannot redirect a mount outside itself.
func securePath(root, guest string) (string, error) {
	rel, err := cleanRel(guest)
	if err != nil {
		return "", err
	}
	cur := root
	for _, c := range splitPath(rel) {
		cur = filepath.Join(cur, c)
		st, err := os.Lstat(cur)
		if errors.Is(err, os.ErrNotExist) {
			return filepath.Join(root, rel), nil
		}
		if err != nil {
			return "", err
		}
		if st.Mode()&os.ModeSymlink != 0 {
			return "", fmt.Errorf("%s is a symlink in the image", cur[len(root):])
		}
	}
	return cur, nil
}

// touch creates an empty file at p unless something is there.
func touch(p string) error {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// bindReadOnly binds src at dst and makes the bind read-only, keeping the
// flags the kernel locks (nosuid, nodev, noexec) in a user namespace.
// recursive also binds what is mounted under src (read-write).
func bindReadOnly(src, dst string, recursive bool) error {
	flags := uintptr(unix.MS_BIND)
	if recursive {
		flags |= unix.MS_REC
	}
	if err := unix.Mount(src, dst, "", flags, ""); err != nil {
		return fmt.Errorf("bind %s: %w", dst, err)
	}
	return remountReadOnly(dst)
}

// remountReadOnly makes the bind mount at dst read-only, keeping the flags
// the kernel locks in a user namespace.
func remountReadOnly(dst string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dst, &st); err != nil {
		return fmt.Errorf("stat %s: %w", dst, err)
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY)
	for _, f := range [][2]int64{{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME}} {
		if st.Flags&f[0] != 0 {
			flags |= uintptr(f[1])
		}
	}
	if err := unix.Mount("", dst, "", flags, ""); err != nil {
		return fmt.Errorf("make %s read-only: %w", dst, err)
	}
	return nil
}

// enterRoot makes root the process root and detaches the old one, so that
// nothing of the agent's view (lower, scratch, the host) stays reachable.
func enterRoot(root string) error {
	if err := os.Chdir(root); err != nil {
		return fmt.Errorf("enter the sandbox root: %w", err)
	}
	if err := unix.PivotRoot(".", "."); err == nil {
		if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
			return fmt.Errorf("detach the old root: %w", err)
		}
	} else {
		// An initramfs root cannot be pivoted: move over it instead.
		if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
			return fmt.Errorf("switch to the sandbox root: %w", err)
		}
		if err := unix.Chroot("."); err != nil {
			return fmt.Errorf("switch to the sandbox root: %w", err)
		}
	}
	return os.Chdir("/")
}
