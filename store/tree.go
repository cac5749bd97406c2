package store

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// treeOp walks a directory tree in canonical order (names sorted
// bytewise) and, in the same pass, feeds its serialization to hash, to arch
// (the owned archive form) when set, copies it to copyTo when set, and
// clears write bits in place when fix is set. It sums apparent and on-disk
// sizes, counting each inode once.
type treeOp struct {
	hash   *narEnc
	arch   *narEnc
	copyTo string
	fix    bool
	keep   bool // keep write bits below the top directory (AddOptions.KeepModes)
	root   bool // running as root: restore ownership on copies

	size, disk int64
	topMode    uint32 // canonical mode of the top directory, applied after its rename into the store
	depth      int
	seen       map[[2]uint64]bool
	buf        []byte

	// When copying, small files are written by workers while the walk
	// goes on reading and hashing; directories are finished (made
	// read-only, mtime set) after the workers are done.
	jobs chan copyJob
	wg   sync.WaitGroup
	mu   sync.Mutex
	werr error
	dirs []dirFinish
}

// copyJob is one small file for a copy worker to write.
type copyJob struct {
	dst  string
	data []byte
	mode uint32
	o    owner
}

// dirFinish is a copied directory still to be made read-only.
type dirFinish struct {
	dst  string
	mode uint32
	o    owner
	top  bool
}

// smallFile is the size up to which a copied file is read into memory and
// written by a worker.
const smallFile = 1 << 20

func newTreeOp(hash io.Writer) *treeOp {
	return &treeOp{
		hash: newNarEnc(hash, false),
		seen: map[[2]uint64]bool{},
		buf:  make([]byte, 1<<20),
		root: os.Geteuid() == 0,
	}
}

// run walks src (and writes dst when copying).
func (t *treeOp) run(src string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", src)
	}
	if t.copyTo != "" {
		t.startWorkers()
	}
	err = t.node(src, t.copyTo, fi)
	if t.copyTo != "" {
		if werr := t.stopWorkers(); err == nil {
			err = werr
		}
	}
	if err != nil {
		return err
	}
	if t.hash.err != nil {
		return t.hash.err
	}
	if t.arch != nil {
		return t.arch.err
	}
	return nil
}

// encs calls f on each encoder in use.
func (t *treeOp) encs(f func(*narEnc)) {
	f(t.hash)
	if t.arch != nil {
		f(t.arch)
	}
}

// node handles one inode at src (dst is "" unless copying).
func (t *treeOp) node(src, dst string, fi os.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("stat %s: no inode information", src)
	}
	key := [2]uint64{uint64(st.Dev), st.Ino}
	if !t.seen[key] {
		t.seen[key] = true
		t.disk += st.Blocks * 512
	}
	o := owner{UID: st.Uid, GID: st.Gid, Mtime: st.Mtim.Nano()}
	mode := st.Mode & permMask
	var err error
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFDIR:
		err = t.dir(src, dst, mode, o)
	case syscall.S_IFREG:
		err = t.file(src, dst, mode, o, fi.Size())
	case syscall.S_IFLNK:
		err = t.symlink(src, dst, o)
	case syscall.S_IFCHR, syscall.S_IFBLK, syscall.S_IFIFO:
		err = t.special(src, dst, st, o)
	default:
		return fmt.Errorf("%s: sockets cannot be stored; remove it first", src)
	}
	if err != nil {
		return err
	}
	if t.fix && !t.keep && st.Mode&syscall.S_IFMT != syscall.S_IFLNK && mode != canonMode(mode) && st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return chmod(src, canonMode(mode))
	}
	return nil
}

func (t *treeOp) dir(src, dst string, mode uint32, o owner) error {
	t.encs(func(e *narEnc) { e.dirStart(mode, o) })
	// The top directory stays writable until it has been renamed into the
	// store: renaming a directory to a new parent needs write permission
	// on it (to update ".."), and silo may run unprivileged.
	top := t.depth == 0
	if top {
		t.topMode = canonMode(mode)
	}
	t.depth++
	defer func() { t.depth-- }()
	if dst != "" {
		if err := os.Mkdir(dst, 0o700); err != nil {
			return err
		}
	}
	restore, err := readable(src, mode, o.UID, 0o500)
	if err != nil {
		return err
	}
	defer restore()
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return fmt.Errorf("read directory %s: %w", src, err)
	}
	slices.Sort(names)
	for _, n := range names {
		p := filepath.Join(src, n)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		t.encs(func(e *narEnc) { e.child(n) })
		var d string
		if dst != "" {
			d = filepath.Join(dst, n)
		}
		if err := t.node(p, d, fi); err != nil {
			return err
		}
	}
	t.encs(func(e *narEnc) { e.dirEnd() })
	restore()
	if dst != "" {
		t.dirs = append(t.dirs, dirFinish{dst, mode, o, top})
		return nil
	}
	if t.fix && !t.keep && !top && mode != canonMode(mode) {
		return chmod(src, canonMode(mode))
	}
	return nil
}

func (t *treeOp) file(src, dst string, mode uint32, o owner, size int64) error {
	t.encs(func(e *narEnc) { e.file(mode, o, size) })
	t.size += size
	restore, err := readable(src, mode, o.UID, 0o400)
	if err != nil {
		return err
	}
	f, err := os.Open(src)
	restore()
	if err != nil {
		return err
	}
	defer f.Close()
	if dst != "" && size <= smallFile {
		data := make([]byte, size)
		if _, err := io.ReadFull(f, data); err != nil {
			return fmt.Errorf("read %s: %w (did it change while being stored?)", src, err)
		}
		if n, _ := f.Read(t.buf[:1]); n != 0 {
			return fmt.Errorf("%s changed size while it was being stored; try again when nothing writes to it", src)
		}
		encWriter{t}.Write(data)
		t.jobs <- copyJob{dst: dst, data: data, mode: mode, o: o}
		return nil
	}
	var sink io.Writer = encWriter{t}
	var sw *sparseWriter
	if dst != "" {
		out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		defer out.Close()
		sw = &sparseWriter{f: out}
		sink = io.MultiWriter(sink, sw)
	}
	n, err := io.CopyBuffer(sink, struct{ io.Reader }{f}, t.buf)
	if err != nil {
		return fmt.Errorf("read %s: %w", src, err)
	}
	if n != size {
		return fmt.Errorf("%s changed size while it was being stored; try again when nothing writes to it", src)
	}
	if sw != nil {
		if err := sw.finish(); err != nil {
			return err
		}
		return t.finish(dst, mode, o, false)
	}
	return nil
}

func (t *treeOp) symlink(src, dst string, o owner) error {
	target, err := os.Readlink(src)
	if err != nil {
		return err
	}
	t.encs(func(e *narEnc) { e.symlink(target, o) })
	if dst == "" {
		return nil
	}
	if err := os.Symlink(target, dst); err != nil {
		return err
	}
	return t.finish(dst, 0, o, true)
}

func (t *treeOp) special(src, dst string, st *syscall.Stat_t, o owner) error {
	tag := map[uint32]byte{syscall.S_IFCHR: tagChar, syscall.S_IFBLK: tagBlock, syscall.S_IFIFO: tagFifo}[st.Mode&syscall.S_IFMT]
	mode := st.Mode & permMask
	t.encs(func(e *narEnc) { e.special(tag, mode, o, st.Rdev) })
	if dst == "" {
		return nil
	}
	if err := unix.Mknod(dst, st.Mode&syscall.S_IFMT|0o600, int(st.Rdev)); err != nil {
		return fmt.Errorf("create %s: %w", dst, err)
	}
	return t.finish(dst, mode, o, false)
}

// finish gives a copied inode its canonical mode, owner (when root) and
// mtime.
func (t *treeOp) finish(dst string, mode uint32, o owner, link bool) error {
	if t.root {
		if err := os.Lchown(dst, int(o.UID), int(o.GID)); err != nil {
			return err
		}
	}
	if !link {
		if err := chmod(dst, t.diskMode(mode)); err != nil {
			return err
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(o.Mtime), unix.NsecToTimespec(o.Mtime)}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set mtime of %s: %w", dst, err)
	}
	return nil
}

// diskMode is the mode a copied inode below the top gets: canonical
// (write bits cleared), or as it was when keeping modes.
func (t *treeOp) diskMode(mode uint32) uint32 {
	if t.keep {
		return mode & permMask
	}
	return canonMode(mode)
}

// chmod sets raw permission bits (setuid and friends included).
// readable lends the owner the permission bits need (read, and search
// for a directory) on a file of theirs that lacks them, as images ship
// /etc/shadow with mode 0000: root reads it regardless, an unprivileged
// owner cannot. The returned func puts the mode back; it may be called
// more than once.
func readable(p string, mode, uid, need uint32) (func(), error) {
	euid := uint32(os.Geteuid())
	if mode&need == need || euid == 0 || uid != euid {
		return func() {}, nil
	}
	if err := chmod(p, mode|need); err != nil {
		return nil, err
	}
	done := false
	return func() {
		if !done {
			done = true
			_ = chmod(p, mode)
		}
	}, nil
}

func chmod(p string, mode uint32) error {
	if err := unix.Fchmodat(unix.AT_FDCWD, p, mode, 0); err != nil {
		return fmt.Errorf("chmod %s: %w", p, err)
	}
	return nil
}

// encWriter feeds file contents to every encoder of a treeOp.
type encWriter struct{ t *treeOp }

func (w encWriter) Write(p []byte) (int, error) {
	w.t.encs(func(e *narEnc) { e.raw(p) })
	if w.t.hash.err != nil {
		return 0, w.t.hash.err
	}
	if w.t.arch != nil && w.t.arch.err != nil {
		return 0, w.t.arch.err
	}
	return len(p), nil
}

// sparseBlock is the granularity at which zero runs become holes.
const sparseBlock = 4096

var zeroBlock [sparseBlock]byte

// sparseWriter writes to f at increasing offsets, leaving holes where whole
// aligned blocks are zero. finish sets the final size and fsyncs nothing.
type sparseWriter struct {
	f   *os.File
	off int64
}

func (w *sparseWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		// Take up to the next block boundary.
		k := sparseBlock - int(w.off%sparseBlock)
		if k > len(p) {
			k = len(p)
		}
		if k == sparseBlock && isZero(p[:k]) {
			w.off += int64(k)
			p = p[k:]
			continue
		}
		// Extend over following non-zero (or partial) blocks.
		for k+sparseBlock <= len(p) && !isZero(p[k:k+sparseBlock]) {
			k += sparseBlock
		}
		if k < len(p) && k+sparseBlock > len(p) {
			k = len(p)
		}
		if _, err := w.f.WriteAt(p[:k], w.off); err != nil {
			return 0, err
		}
		w.off += int64(k)
		p = p[k:]
	}
	return n, nil
}

func (w *sparseWriter) finish() error { return w.f.Truncate(w.off) }

func isZero(b []byte) bool {
	for len(b) >= sparseBlock {
		if string(b[:sparseBlock]) != string(zeroBlock[:]) {
			return false
		}
		b = b[sparseBlock:]
	}
	return string(b) == string(zeroBlock[:len(b)])
}

// startWorkers starts the copy workers.
func (t *treeOp) startWorkers() {
	t.jobs = make(chan copyJob, 64)
	for range max(2, runtime.NumCPU()) {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			for j := range t.jobs {
				if err := t.writeSmall(j); err != nil {
					t.mu.Lock()
					if t.werr == nil {
						t.werr = err
					}
					t.mu.Unlock()
				}
			}
		}()
	}
}

// stopWorkers waits for the workers, then finishes the copied directories,
// children before parents.
func (t *treeOp) stopWorkers() error {
	close(t.jobs)
	t.wg.Wait()
	if t.werr != nil {
		return t.werr
	}
	for _, d := range t.dirs {
		if err := t.finish(d.dst, d.mode, d.o, d.top); err != nil {
			return err
		}
	}
	return nil
}

// writeSmall writes one small file, holes for zero blocks, with its mode,
// owner (when root) and mtime.
func (t *treeOp) writeSmall(j copyJob) error {
	f, err := os.OpenFile(j.dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	sw := &sparseWriter{f: f}
	_, err = sw.Write(j.data)
	if err == nil {
		err = sw.finish()
	}
	if err == nil && t.root {
		err = f.Chown(int(j.o.UID), int(j.o.GID))
	}
	if err == nil {
		err = unix.Fchmod(int(f.Fd()), t.diskMode(j.mode))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		ts := []unix.Timespec{unix.NsecToTimespec(j.o.Mtime), unix.NsecToTimespec(j.o.Mtime)}
		err = unix.UtimesNanoAt(unix.AT_FDCWD, j.dst, ts, unix.AT_SYMLINK_NOFOLLOW)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", j.dst, err)
	}
	return nil
}
