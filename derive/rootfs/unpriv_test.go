package rootfs

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// TestUnprivileged runs both writers as an ordinary user (uid 65534) in a
// child process, then checks that the ext4 image still carries the
// layers' owners and setuid bits, which the host user could not set.
func TestUnprivileged(t *testing.T) {
	if out := os.Getenv("ROOTFS_TEST_UNPRIV_OUT"); out != "" {
		if err := WriteExt4(stackLayers(t), filepath.Join(out, "img.ext4"), 0, 0); err != nil {
			t.Fatal(err)
		}
		if err := WriteDir(stackLayers(t), filepath.Join(out, "dir"), 0); err != nil {
			t.Fatal(err)
		}
		return
	}
	if os.Getuid() != 0 {
		t.Skip("already unprivileged: the other tests cover this path")
	}
	dir, err := os.MkdirTemp("", "rootfs-unpriv-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "rootfs.test")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o777); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, out} {
		os.Chmod(p, 0o777)
	}
	cmd := exec.Command(bin, "-test.run=^TestUnprivileged$", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ROOTFS_TEST_UNPRIV_OUT="+out)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("writers as uid 65534: %v\n%s", err, b)
	}
	img := filepath.Join(out, "img.ext4")
	if in := debugfsStat(t, img, "/bin/su"); in.mode != 0o104755 || in.uid != 0 {
		t.Errorf("/bin/su built as uid 65534: mode %o uid %d, want 104755 uid 0", in.mode, in.uid)
	}
	if in := debugfsStat(t, img, "/data/orig"); in.uid != 1000 || in.gid != 1000 {
		t.Errorf("/data/orig built as uid 65534: %d:%d, want 1000:1000", in.uid, in.gid)
	}
	fi, err := os.Stat(filepath.Join(out, "dir/bin/su"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65534 || fi.Mode()&os.ModeSetuid == 0 {
		t.Errorf("dir/bin/su: owner %d mode %v, want owner 65534 (the invoking user) and setuid", st.Uid, fi.Mode())
	}
}
