package rootfs

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestWriteExt4KernelMount has the host's ext4 driver read an image with
// every kind of entry: it loop-mounts it read-only (as root; skipped
// elsewhere) and reads back through ordinary system calls.
func TestWriteExt4KernelMount(t *testing.T) {
	if testing.Short() || os.Geteuid() != 0 {
		t.Skip("needs root to loop-mount")
	}
	var layers []Layer
	for _, c := range ext4Cases() {
		if c.name != "lost+found in the layers" {
			layers = append(layers, c.layers(t)...)
		}
	}
	head := bytes.Repeat([]byte("HEAD"), blockSize/4)
	tail := bytes.Repeat([]byte("TAIL"), blockSize/4)
	const bigSize = 5*maxExtentLen*blockSize + 1234 // five extents: an extent leaf
	layers = append(layers, bigFileLayer(t, "big5", bigSize, head, tail))
	img := writeImage(t, layers)
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-o", "loop,ro", img, mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot loop-mount here: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount: %v: %s", err, out)
		}
	})
	at := func(p string) string { return filepath.Join(mnt, p) }
	checkMountedFiles(t, at)
	checkMountedMeta(t, at)
	checkMountedXattrs(t, at)
	f, err := os.Open(at("big5"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, blockSize)
	for off, want := range map[int64][]byte{0: head, bigSize - blockSize: tail, bigSize / 2: make([]byte, blockSize)} {
		if _, err := f.ReadAt(buf, off); err != nil || !bytes.Equal(buf, want) {
			t.Errorf("big5 at %d: %.16q, %v", off, buf, err)
		}
	}
}

func checkMountedFiles(t *testing.T, at func(string) string) {
	for p, want := range map[string]string{
		deepPath() + "leaf":                  "deep",
		"big/file-with-a-longish-name-04999": "4999",
		"b/other-dir":                        "shared",
		unicodeName:                          "u",
		name255 + "/" + name255utf8:          "long",
	} {
		if b, err := os.ReadFile(at(p)); err != nil || string(b) != want {
			t.Errorf("%.40s: %q, %v", p, b, err)
		}
	}
	if ents, err := os.ReadDir(at("big")); err != nil || len(ents) != 5000 {
		t.Errorf("big/ has %d entries (%v), want 5000", len(ents), err)
	}
	for p, want := range map[string]string{"short": "target", "fast59": target59, "slow60": target60, "slow4095": target4095} {
		if got, err := os.Readlink(at(p)); err != nil || got != want {
			t.Errorf("%s -> %.20q, %v", p, got, err)
		}
	}
}

func checkMountedMeta(t *testing.T, at func(string) string) {
	stat := func(p string) *syscall.Stat_t {
		var st syscall.Stat_t
		if err := syscall.Lstat(at(p), &st); err != nil {
			t.Fatal(err)
		}
		return &st
	}
	for p, want := range map[string]uint32{"su": 0o104755, "sg": 0o102711, "tmp": 0o41777, "pipe": 0o10620} {
		if st := stat(p); st.Mode != want {
			t.Errorf("%s: mode %o, want %o", p, st.Mode, want)
		}
	}
	if st := stat("su"); st.Uid != 100000 || st.Gid != 2000000000 {
		t.Errorf("su: owner %d:%d", st.Uid, st.Gid)
	}
	if a, b := stat("a/orig"), stat("b/other-dir"); a.Ino != b.Ino || a.Nlink != 3 {
		t.Errorf("hardlinks: inodes %d %d, %d links", a.Ino, b.Ino, a.Nlink)
	}
	if st := stat("ns"); st.Mtim.Sec != nsTime.Unix() || st.Mtim.Nsec != int64(nsTime.Nanosecond()) {
		t.Errorf("ns: mtime %v, want %v", st.Mtim, nsTime)
	}
	if st := stat("old"); st.Mtim.Sec != oldTime.Unix() {
		t.Errorf("old: mtime %d, want %d", st.Mtim.Sec, oldTime.Unix())
	}
	if st := stat("late"); st.Mtim.Sec != lateTime.Unix() {
		t.Errorf("late: mtime %d, want %d", st.Mtim.Sec, lateTime.Unix())
	}
}

func checkMountedXattrs(t *testing.T, at func(string) string) {
	get := func(p, name string) string {
		buf := make([]byte, 8192)
		n, err := unix.Lgetxattr(at(p), name, buf)
		if err != nil {
			t.Errorf("%s: getxattr %s: %v", p, name, err)
			return ""
		}
		return string(buf[:n])
	}
	for _, c := range []struct{ path, name, want string }{
		{"bin/ping", "security.capability", capV2},
		{"many", "security.capability", capV2},
		{"many", "user.big", strings.Repeat("b", 2000)},
		{"many", "user.bb", "22"},
		{"bin", "trusted.dir", "d"},
		{"acl", "system.posix_acl_access", aclV2},
		{"empty-value", "user.empty", ""},
	} {
		if got := get(c.path, c.name); got != c.want {
			t.Errorf("%s: %s = %.32q, want %.32q", c.path, c.name, got, c.want)
		}
	}
}
