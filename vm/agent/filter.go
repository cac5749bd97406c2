//go:build linux

package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// cacheTimeout is how long the kernel may trust a name or an attribute
// the filter reported. Every change the sandbox makes goes through the
// filter, which keeps the kernel's cache right; only a change the user
// makes on the host meanwhile shows this late inside.
const cacheTimeout = time.Second

// filterOptions are what mountFilter needs besides the paths.
type filterOptions struct {
	protected, exclude []string
	// excludeDirs back the excluded paths, index for index, when set: the
	// host's kept directories; else each gets a new one under scratch.
	excludeDirs []string
	readOnly    bool
	// noPassthrough keeps reads and writes going through the filter even
	// where the kernel would pass them to the backing file: what every
	// sandbox gets where the agent lacks CAP_SYS_ADMIN in the initial user
	// namespace (the namespace backend) or the kernel is older than 6.9.
	noPassthrough bool
}

// filter is a mounted workspace filter.
type filter struct {
	srv *fuse.Server
	w   *wsFS
}

// mountFilter serves the workspace directory at dst through the workspace
// filter (wsFS), each excluded path from its own new directory under
// scratch. It opens /dev/fuse: the agent must be able to.
func mountFilter(workspace, scratch, dst string, o filterOptions) (*filter, error) {
	w := &wsFS{chown: os.Geteuid() == 0}
	defer func() {
		if w != nil {
			w.close()
		}
	}()
	wsBase, err := openBase(workspace)
	if err != nil {
		return nil, fmt.Errorf("open the workspace: %w", err)
	}
	w.bases = append(w.bases, wsBase)
	var st unix.Stat_t
	gitDir := unix.Fstatat(wsBase.fd, ".git", &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR
	if w.pol, err = newPolicy(o.protected, o.exclude, gitDir, o.readOnly); err != nil {
		return nil, fmt.Errorf("protected paths: %w", err)
	}
	for i, e := range w.pol.excludes {
		dir := filepath.Join(scratch, strconv.Itoa(i))
		if i < len(o.excludeDirs) && o.excludeDirs[i] != "" {
			dir = o.excludeDirs[i]
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("mount.exclude %q: %w", e, err)
		}
		b, err := openBase(dir)
		if err != nil {
			return nil, fmt.Errorf("mount.exclude %q: %w", e, err)
		}
		w.bases = append(w.bases, b)
	}
	if err := unix.Fstat(wsBase.fd, &st); err != nil {
		return nil, fmt.Errorf("stat the workspace: %w", err)
	}
	w.root = &wsNode{w: w}
	rootAttr := w.stable(&w.bases[0], &st)
	t := cacheTimeout
	opts := &gofs.Options{
		EntryTimeout: &t, AttrTimeout: &t, NegativeTimeout: &t,
		RootStableAttr: &rootAttr,
		MountOptions: fuse.MountOptions{
			DirectMount: true, DirectMountStrict: true, AllowOther: true,
			FsName: "silo-workspace", Name: "silo",
			// The kernel checks each caller's permissions, as on a
			// local file system; the filter adds its policy.
			Options:  []string{"default_permissions"},
			MaxWrite: 1 << 20,
			// A symlink changes only through the filter (which tells
			// the kernel) or on the host: the kernel may keep its
			// target as it keeps names.
			EnableSymlinkCaching: true,
		},
	}
	if o.noPassthrough {
		opts.MountOptions.DisabledCapabilities = fuse.CAP_PASSTHROUGH
	}
	srv, err := gofs.Mount(dst, w.root, opts)
	if err != nil {
		return nil, fuseError(err)
	}
	f := &filter{srv: srv, w: w}
	w = nil
	return f, nil
}

// fuseError explains a failed FUSE mount.
func fuseError(err error) error {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("serve the workspace: /dev/fuse is missing (%w): silo guards the workspace through FUSE; on a VM, import a kernel with the fuse module (silo runtime import-kernel)", err)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("serve the workspace: cannot open /dev/fuse (%w): silo guards the workspace through FUSE; let users open it (chmod 0666 /dev/fuse, as most distributions ship it) or name a device node you may open in SILO_FUSE_DEVICE", err)
	}
	return fmt.Errorf("serve the workspace through FUSE: %w", err)
}

// openBase opens a backing directory.
func openBase(dir string) (base, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return base{fd: -1}, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return base{fd: -1}, err
	}
	return base{fd: fd, dev: st.Dev}, nil
}

// close closes the backing directories.
func (w *wsFS) close() {
	for _, b := range w.bases {
		if b.fd >= 0 {
			unix.Close(b.fd)
		}
	}
	w.bases = nil
}

// unmount detaches the filter at mnt (where it is now). Its server stops
// once the kernel lets go of the mount; the agent does not wait for it.
func (f *filter) unmount(mnt string) {
	_ = unix.Unmount(mnt, unix.MNT_DETACH)
}
