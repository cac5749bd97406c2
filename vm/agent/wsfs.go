//go:build linux

package agent

import (
	"context"
	"path"
	"strconv"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// wsFS is the workspace filter: a FUSE file system that serves the
// workspace to the command and applies the policy to every change. Every
// operation reaches the backing directories through descriptors, beneath
// their root, never following a symlink on the way (openat2 with
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, then *at calls that do not follow
// the last name), so that nothing the sandbox plants in the workspace can
// lead the filter, which runs with the agent's privilege, elsewhere.
type wsFS struct {
	pol *policy
	// bases are the backing directories: the workspace, then the
	// scratch directory of each excluded path, in the policy's order.
	bases []base
	root  *wsNode
	// chown says the filter runs as root: what it creates is handed to
	// the calling user, as a local file system would.
	chown bool
}

// base is one backing directory.
type base struct {
	fd  int // O_PATH descriptor of the directory
	dev uint64
}

// wsNode is a file or directory of the filter. It keeps no descriptor:
// its path in the filter's tree says where it is.
type wsNode struct {
	gofs.Inode
	w *wsFS
}

// openFlags are the FUSE flags of every file the filter opens: the
// kernel keeps the file's cached pages across opens (it drops them when
// the file's size or time changes, CAP_AUTO_INVAL_DATA) and does not send
// a flush on each close (the filter has nothing to flush).
const openFlags = fuse.FOPEN_KEEP_CACHE | fuse.FOPEN_NOFLUSH

// stripModes are the mode bits no file the sandbox makes may carry.
const stripModes = unix.S_ISUID | unix.S_ISGID

// resolveHow resolves beneath a base without following any symlink.
var resolveHow = unix.OpenHow{
	Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
	Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
}

// rel returns the node's path in the filter, "" for the root; ok is false
// for a node that is no longer in any directory.
func (n *wsNode) rel() (string, bool) {
	root := n.w.root.EmbeddedInode()
	var parts []string
	for p := n.EmbeddedInode(); p != root; {
		name, parent := p.Parent()
		if parent == nil {
			return "", false
		}
		parts = append(parts, name)
		p = parent
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return path.Join(parts...), true
}

// child is the path of name in n.
func (n *wsNode) child(name string) (string, syscall.Errno) {
	rel, ok := n.rel()
	if !ok {
		return "", syscall.ENOENT
	}
	return path.Join(rel, name), 0
}

// at opens the directory holding rel in its backing directory and returns
// it with rel's last name there; the name is "" when rel is a backing
// directory's root (the workspace, or an excluded path). The caller
// closes dir.
func (w *wsFS) at(rel string) (b *base, dir int, name string, errno syscall.Errno) {
	i, rest := w.pol.exclude(rel)
	b, sub := &w.bases[0], rel
	if i >= 0 {
		b, sub = &w.bases[i+1], rest
	}
	parent := "."
	if sub != "" {
		d, f := path.Split(sub)
		if d != "" {
			parent = d
		}
		name = f
	}
	fd, err := unix.Openat2(b.fd, parent, &resolveHow)
	if err != nil {
		return nil, -1, "", gofs.ToErrno(err)
	}
	return b, fd, name, 0
}

// stat lstats rel.
func (w *wsFS) stat(rel string, st *unix.Stat_t) (*base, syscall.Errno) {
	b, dir, name, errno := w.at(rel)
	if errno != 0 {
		return nil, errno
	}
	defer unix.Close(dir)
	return b, gofs.ToErrno(unix.Fstatat(dir, name, st, unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH))
}

// stable is the filter's identity of a backing file: its inode number
// with its device mixed in, as the loopback of go-fuse does, so that the
// workspace and the scratch of the excludes never collide.
func (w *wsFS) stable(b *base, st *unix.Stat_t) gofs.StableAttr {
	swap := func(d uint64) uint64 { return d<<32 | d>>32 }
	return gofs.StableAttr{Mode: st.Mode & unix.S_IFMT, Ino: swap(st.Dev) ^ swap(w.bases[0].dev) ^ st.Ino, Gen: 1}
}

// newChild makes the node of rel, just looked up or made, from its stat.
func (n *wsNode) newChild(ctx context.Context, b *base, st *unix.Stat_t, out *fuse.EntryOut) *gofs.Inode {
	out.Attr.FromStat(toSyscall(st))
	return n.NewInode(ctx, &wsNode{w: n.w}, n.w.stable(b, st))
}

// toSyscall converts a unix.Stat_t to the syscall one go-fuse takes.
func toSyscall(st *unix.Stat_t) *syscall.Stat_t {
	return &syscall.Stat_t{
		Dev: st.Dev, Ino: st.Ino, Nlink: st.Nlink, Mode: st.Mode, Uid: st.Uid, Gid: st.Gid,
		Rdev: st.Rdev, Size: st.Size, Blksize: st.Blksize, Blocks: st.Blocks,
		Atim: syscall.Timespec(st.Atim), Mtim: syscall.Timespec(st.Mtim), Ctim: syscall.Timespec(st.Ctim),
	}
}

// owned hands the new name in dir to the calling user.
func (w *wsFS) owned(ctx context.Context, dir int, name string) {
	if !w.chown {
		return
	}
	if c, ok := fuse.FromContext(ctx); ok {
		_ = unix.Fchownat(dir, name, int(c.Uid), int(c.Gid), unix.AT_SYMLINK_NOFOLLOW)
	}
}

// procPath names an open descriptor through /proc, to reach exactly the
// inode it holds with calls that take a path.
func procPath(fd int, name string) string {
	p := "/proc/self/fd/" + strconv.Itoa(fd)
	if name != "" {
		p += "/" + name
	}
	return p
}

var (
	_ gofs.NodeLookuper      = (*wsNode)(nil)
	_ gofs.NodeGetattrer     = (*wsNode)(nil)
	_ gofs.NodeSetattrer     = (*wsNode)(nil)
	_ gofs.NodeOpener        = (*wsNode)(nil)
	_ gofs.NodeCreater       = (*wsNode)(nil)
	_ gofs.NodeMkdirer       = (*wsNode)(nil)
	_ gofs.NodeMknoder       = (*wsNode)(nil)
	_ gofs.NodeUnlinker      = (*wsNode)(nil)
	_ gofs.NodeRmdirer       = (*wsNode)(nil)
	_ gofs.NodeRenamer       = (*wsNode)(nil)
	_ gofs.NodeSymlinker     = (*wsNode)(nil)
	_ gofs.NodeLinker        = (*wsNode)(nil)
	_ gofs.NodeReadlinker    = (*wsNode)(nil)
	_ gofs.NodeReaddirer     = (*wsNode)(nil)
	_ gofs.NodeStatfser      = (*wsNode)(nil)
	_ gofs.NodeGetxattrer    = (*wsNode)(nil)
	_ gofs.NodeSetxattrer    = (*wsNode)(nil)
	_ gofs.NodeRemovexattrer = (*wsNode)(nil)
	_ gofs.NodeListxattrer   = (*wsNode)(nil)
)

// Lookup finds name in n.
func (n *wsNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	rel, errno := n.child(name)
	if errno != 0 {
		return nil, errno
	}
	var st unix.Stat_t
	b, errno := n.w.stat(rel, &st)
	if errno != 0 {
		return nil, errno
	}
	return n.newChild(ctx, b, &st, out), 0
}

// Getattr stats n.
func (n *wsNode) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if fg, ok := f.(gofs.FileGetattrer); ok {
		return fg.Getattr(ctx, out)
	}
	rel, ok := n.rel()
	if !ok {
		return syscall.ENOENT
	}
	var st unix.Stat_t
	if _, errno := n.w.stat(rel, &st); errno != 0 {
		return errno
	}
	out.FromStat(toSyscall(&st))
	return 0
}

// Setattr changes n's mode, owner, size or times, if the policy lets the
// sandbox change it. No mode it sets keeps setuid or setgid.
func (n *wsNode) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	rel, ok := n.rel()
	if ok {
		if errno := n.w.pol.change(rel); errno != 0 {
			return errno
		}
	} else if f == nil {
		return syscall.ENOENT
	}
	in.Mode &^= stripModes
	if fs, ok := f.(gofs.FileSetattrer); ok {
		return fs.Setattr(ctx, in, out)
	}
	_, dir, name, errno := n.w.at(rel)
	if errno != 0 {
		return errno
	}
	defer unix.Close(dir)
	if errno := setattrAt(dir, name, in); errno != 0 {
		return errno
	}
	var st unix.Stat_t
	if err := unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH); err != nil {
		return gofs.ToErrno(err)
	}
	out.FromStat(toSyscall(&st))
	return 0
}

// setattrAt applies in to name in dir without following a symlink: the
// mode and size through a descriptor of the file itself.
func setattrAt(dir int, name string, in *fuse.SetAttrIn) syscall.Errno {
	if uid, uok := in.GetUID(); uok {
		if err := unix.Fchownat(dir, name, int(uid), -1, unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH); err != nil {
			return gofs.ToErrno(err)
		}
	}
	if gid, gok := in.GetGID(); gok {
		if err := unix.Fchownat(dir, name, -1, int(gid), unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH); err != nil {
			return gofs.ToErrno(err)
		}
	}
	mode, mok := in.GetMode()
	size, sok := in.GetSize()
	if mok || sok {
		fd, err := unix.Openat(dir, orDot(name), unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return gofs.ToErrno(err)
		}
		defer unix.Close(fd)
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return gofs.ToErrno(err)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return syscall.EOPNOTSUPP
		}
		if mok {
			if err := unix.Chmod(procPath(fd, ""), mode&^stripModes); err != nil {
				return gofs.ToErrno(err)
			}
		}
		if sok {
			if err := unix.Truncate(procPath(fd, ""), int64(size)); err != nil {
				return gofs.ToErrno(err)
			}
		}
	}
	mtime, mok := in.GetMTime()
	atime, aok := in.GetATime()
	if mok || aok {
		ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
		if aok {
			ts[0] = unix.NsecToTimespec(atime.UnixNano())
		}
		if mok {
			ts[1] = unix.NsecToTimespec(mtime.UnixNano())
		}
		if err := unix.UtimesNanoAt(dir, orDot(name), ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return gofs.ToErrno(err)
		}
	}
	return 0
}

// orDot is name, or "." for the directory itself.
func orDot(name string) string {
	if name == "" {
		return "."
	}
	return name
}

// Open opens n; for writing only if the policy lets the sandbox change it.
func (n *wsNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	rel, ok := n.rel()
	if !ok {
		return nil, 0, syscall.ENOENT
	}
	if flags&unix.O_ACCMODE != unix.O_RDONLY || flags&unix.O_TRUNC != 0 {
		if errno := n.w.pol.change(rel); errno != 0 {
			return nil, 0, errno
		}
	}
	_, dir, name, errno := n.w.at(rel)
	if errno != 0 {
		return nil, 0, errno
	}
	defer unix.Close(dir)
	flags &^= unix.O_APPEND | fuse.FMODE_EXEC | unix.O_CREAT
	fd, err := unix.Openat(dir, orDot(name), int(flags)|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, 0, gofs.ToErrno(err)
	}
	return gofs.NewLoopbackFile(fd), openFlags, 0
}

// Create creates and opens name in n.
func (n *wsNode) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	rel, errno := n.writableChild(name)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	b, dir, name, errno := n.w.at(rel)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	defer unix.Close(dir)
	flags &^= unix.O_APPEND | fuse.FMODE_EXEC
	fd, err := unix.Openat(dir, name, int(flags)|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode&^stripModes)
	if err != nil {
		return nil, nil, 0, gofs.ToErrno(err)
	}
	n.w.owned(ctx, dir, name)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, nil, 0, gofs.ToErrno(err)
	}
	return n.newChild(ctx, b, &st, out), gofs.NewLoopbackFile(fd), openFlags, 0
}

// writableChild is the path of name in n, if the policy lets the sandbox
// make it.
func (n *wsNode) writableChild(name string) (string, syscall.Errno) {
	rel, errno := n.child(name)
	if errno != 0 {
		return "", errno
	}
	return rel, n.w.pol.change(rel)
}

// made finishes a Mkdir, Mknod, Symlink or Link: owner, stat, node.
func (n *wsNode) made(ctx context.Context, b *base, dir int, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	n.w.owned(ctx, dir, name)
	var st unix.Stat_t
	if err := unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, gofs.ToErrno(err)
	}
	return n.newChild(ctx, b, &st, out), 0
}

// Mkdir makes the directory name in n.
func (n *wsNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	rel, errno := n.writableChild(name)
	if errno != 0 {
		return nil, errno
	}
	b, dir, name, errno := n.w.at(rel)
	if errno != 0 {
		return nil, errno
	}
	defer unix.Close(dir)
	if err := unix.Mkdirat(dir, name, mode&^stripModes); err != nil {
		return nil, gofs.ToErrno(err)
	}
	return n.made(ctx, b, dir, name, out)
}

// Mknod makes a regular file, FIFO or socket name in n; no device.
func (n *wsNode) Mknod(ctx context.Context, name string, mode, rdev uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFIFO, unix.S_IFSOCK:
	default:
		return nil, syscall.EPERM
	}
	rel, errno := n.writableChild(name)
	if errno != 0 {
		return nil, errno
	}
	b, dir, name, errno := n.w.at(rel)
	if errno != 0 {
		return nil, errno
	}
	defer unix.Close(dir)
	if err := unix.Mknodat(dir, name, mode&^stripModes, 0); err != nil {
		return nil, gofs.ToErrno(err)
	}
	return n.made(ctx, b, dir, name, out)
}

// Symlink makes the symlink name in n.
func (n *wsNode) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	rel, errno := n.writableChild(name)
	if errno != 0 {
		return nil, errno
	}
	b, dir, name, errno := n.w.at(rel)
	if errno != 0 {
		return nil, errno
	}
	defer unix.Close(dir)
	if err := unix.Symlinkat(target, dir, name); err != nil {
		return nil, gofs.ToErrno(err)
	}
	return n.made(ctx, b, dir, name, out)
}

// Link makes name in n a hard link to target, if the policy lets the
// sandbox change both: a link to a protected file would make it writable.
func (n *wsNode) Link(ctx context.Context, target gofs.InodeEmbedder, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	t, ok := target.(*wsNode)
	if !ok {
		return nil, syscall.EXDEV
	}
	trel, ok := t.rel()
	if !ok {
		return nil, syscall.ENOENT
	}
	if errno := n.w.pol.change(trel); errno != 0 {
		return nil, errno
	}
	rel, errno := n.writableChild(name)
	if errno != 0 {
		return nil, errno
	}
	tb, tdir, tname, errno := n.w.at(trel)
	if errno != 0 {
		return nil, errno
	}
	defer unix.Close(tdir)
	b, dir, name, errno := n.w.at(rel)
	if errno != 0 {
		return nil, errno
	}
	defer unix.Close(dir)
	if tb != b || tname == "" {
		return nil, syscall.EXDEV
	}
	if err := unix.Linkat(tdir, tname, dir, name, 0); err != nil {
		return nil, gofs.ToErrno(err)
	}
	return n.made(ctx, b, dir, name, out)
}

// Unlink removes the file name from n.
func (n *wsNode) Unlink(ctx context.Context, name string) syscall.Errno {
	return n.remove(name, 0)
}

// Rmdir removes the directory name from n.
func (n *wsNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	return n.remove(name, unix.AT_REMOVEDIR)
}

// remove unlinks name in n, if the policy lets the sandbox change it and
// it holds no excluded path.
func (n *wsNode) remove(name string, flags int) syscall.Errno {
	rel, errno := n.child(name)
	if errno != 0 {
		return errno
	}
	if n.w.pol.pinned(rel) {
		return syscall.EBUSY
	}
	if errno := n.w.pol.change(rel); errno != 0 {
		return errno
	}
	_, dir, name, errno := n.w.at(rel)
	if errno != 0 {
		return errno
	}
	defer unix.Close(dir)
	return gofs.ToErrno(unix.Unlinkat(dir, name, flags))
}

// Rename moves name in n to newName in newParent, if the policy lets the
// sandbox change both paths (both ways for an exchange), neither holds an
// excluded path, and a directory does not land where a protected path of
// several names would start.
func (n *wsNode) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	np, ok := newParent.(*wsNode)
	if !ok {
		return syscall.EXDEV
	}
	if flags&^(unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE) != 0 {
		return syscall.EINVAL
	}
	src, errno := n.child(name)
	if errno != 0 {
		return errno
	}
	dst, errno := np.child(newName)
	if errno != 0 {
		return errno
	}
	if errno := n.w.renamable(src, dst, flags&unix.RENAME_EXCHANGE != 0); errno != 0 {
		return errno
	}
	sb, sdir, sname, errno := n.w.at(src)
	if errno != 0 {
		return errno
	}
	defer unix.Close(sdir)
	db, ddir, dname, errno := n.w.at(dst)
	if errno != 0 {
		return errno
	}
	defer unix.Close(ddir)
	if sb != db {
		return syscall.EXDEV
	}
	return gofs.ToErrno(unix.Renameat2(sdir, sname, ddir, dname, uint(flags)))
}

// renamable applies the policy to a rename of src to dst.
func (w *wsFS) renamable(src, dst string, exchange bool) syscall.Errno {
	if w.pol.pinned(src) || w.pol.pinned(dst) {
		return syscall.EBUSY
	}
	moves := [][2]string{{src, dst}}
	if exchange {
		moves = append(moves, [2]string{dst, src})
	}
	for _, m := range moves {
		if errno := w.pol.change(m[0]); errno != 0 {
			return errno
		}
		var st unix.Stat_t
		if _, errno := w.stat(m[0], &st); errno != 0 {
			return errno
		}
		check := w.pol.change
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			check = w.pol.moveDir
		}
		if errno := check(m[1]); errno != 0 {
			return errno
		}
	}
	return 0
}

// Readlink reads the symlink n.
func (n *wsNode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	rel, ok := n.rel()
	if !ok {
		return nil, syscall.ENOENT
	}
	_, dir, name, errno := n.w.at(rel)
	if errno != 0 {
		return nil, errno
	}
	defer unix.Close(dir)
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		k, err := unix.Readlinkat(dir, name, buf)
		if err != nil {
			return nil, gofs.ToErrno(err)
		}
		if k < size {
			return buf[:k], 0
		}
	}
}

// Readdir lists n, with the excluded paths directly in it whether the
// workspace has them or not.
func (n *wsNode) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	rel, ok := n.rel()
	if !ok {
		return nil, syscall.ENOENT
	}
	_, dir, name, errno := n.w.at(rel)
	if errno != 0 {
		return nil, errno
	}
	defer unix.Close(dir)
	fd, err := unix.Openat(dir, orDot(name), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, gofs.ToErrno(err)
	}
	ds, errno := gofs.NewLoopbackDirStreamFd(fd)
	if errno != 0 {
		unix.Close(fd)
		return nil, errno
	}
	extra := n.w.pol.excludedIn(rel)
	if len(extra) == 0 {
		return ds, 0
	}
	return withEntries(ds, extra), 0
}

// withEntries lists ds and then each of names (directories) ds lacks.
func withEntries(ds gofs.DirStream, names []string) gofs.DirStream {
	defer ds.Close()
	var list []fuse.DirEntry
	seen := map[string]bool{}
	for ds.HasNext() {
		e, errno := ds.Next()
		if errno != 0 {
			break
		}
		seen[e.Name] = true
		list = append(list, e)
	}
	for _, name := range names {
		if !seen[name] {
			list = append(list, fuse.DirEntry{Name: name, Mode: unix.S_IFDIR})
		}
	}
	return gofs.NewListDirStream(list)
}

// Statfs reports the workspace's file system.
func (n *wsNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	var st syscall.Statfs_t
	if err := syscall.Fstatfs(n.w.bases[0].fd, &st); err != nil {
		return gofs.ToErrno(err)
	}
	out.FromStatfsT(&st)
	return 0
}

// xattrPath names n for the xattr calls through its directory's
// descriptor, which it returns to close after the call. follow is false
// for a name in that directory, reached by the l*xattr calls, which do
// not follow it; true for the directory itself, a backing root, reached
// through its /proc link.
func (n *wsNode) xattrPath() (p string, dir int, follow bool, errno syscall.Errno) {
	rel, ok := n.rel()
	if !ok {
		return "", -1, false, syscall.ENOENT
	}
	_, dir, name, errno := n.w.at(rel)
	if errno != 0 {
		return "", -1, false, errno
	}
	return procPath(dir, name), dir, name == "", 0
}

// Getxattr reads one extended attribute of n.
func (n *wsNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return n.onXattrPath(func(p string, follow bool) (int, error) {
		if follow {
			return unix.Getxattr(p, attr, dest)
		}
		return unix.Lgetxattr(p, attr, dest)
	})
}

// Listxattr lists n's extended attributes.
func (n *wsNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return n.onXattrPath(func(p string, follow bool) (int, error) {
		if follow {
			return unix.Listxattr(p, dest)
		}
		return unix.Llistxattr(p, dest)
	})
}

// Setxattr sets an extended attribute of n, if the policy lets the
// sandbox change n and the attribute is not a privilege.
func (n *wsNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	if errno := n.xattrChange(attr); errno != 0 {
		return errno
	}
	_, errno := n.onXattrPath(func(p string, follow bool) (int, error) {
		if follow {
			return 0, unix.Setxattr(p, attr, data, int(flags))
		}
		return 0, unix.Lsetxattr(p, attr, data, int(flags))
	})
	return errno
}

// Removexattr removes an extended attribute of n, as Setxattr allows.
func (n *wsNode) Removexattr(ctx context.Context, attr string) syscall.Errno {
	if errno := n.xattrChange(attr); errno != 0 {
		return errno
	}
	_, errno := n.onXattrPath(func(p string, follow bool) (int, error) {
		if follow {
			return 0, unix.Removexattr(p, attr)
		}
		return 0, unix.Lremovexattr(p, attr)
	})
	return errno
}

// onXattrPath calls op with the path that names n's file (see
// xattrPath) and whether op may follow it, and returns its count.
func (n *wsNode) onXattrPath(op func(p string, follow bool) (int, error)) (uint32, syscall.Errno) {
	p, dir, follow, errno := n.xattrPath()
	if errno != 0 {
		return 0, errno
	}
	defer unix.Close(dir)
	k, err := op(p, follow)
	return uint32(k), gofs.ToErrno(err)
}

// xattrChange applies the policy to a change of n's attribute attr.
func (n *wsNode) xattrChange(attr string) syscall.Errno {
	if !settableXattr(attr) {
		return syscall.EPERM
	}
	rel, ok := n.rel()
	if !ok {
		return syscall.ENOENT
	}
	return n.w.pol.change(rel)
}
