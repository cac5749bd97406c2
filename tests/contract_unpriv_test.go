package tests

// silo must work for a normal user, with unprivileged user namespaces (bwrap
// is not setuid on Debian). When the tests run as root, this runs the
// binary as the unprivileged uid 65534 (nobody).

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// unprivUID is the uid the unprivileged test runs as.
const unprivUID = 65534

func TestContractUnprivilegedUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the tests already run unprivileged: every other contract test covers this path")
	}
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bubblewrap is not installed")
	}
	// Everything the user needs, owned by the user: silo, the image, the
	// homes and the project.
	base := passableDir(t, "silo-unpriv-")
	bin, layout := ownSiloAndImage(t, base)
	home, userHome, ws := filepath.Join(base, "silo-home"), filepath.Join(base, "home"), filepath.Join(base, "project")
	writeFile(t, filepath.Join(home, "config.toml"), fmt.Sprintf("[tool.bb]\nimage = %q\n", "oci-layout:"+layout))
	writeFile(t, filepath.Join(userHome, ".ssh/id_rsa"), "host secret\n")
	writeFile(t, filepath.Join(ws, "silo.toml"), "tools = [\"bb\"]\n")
	if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", unprivUID, unprivUID), layout, home, userHome, ws).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}

	fuseDev := userFuseDevice(t, base)
	fuseEnv := "SILO_FUSE_DEVICE=" + fuseDev
	run := func(script string) result {
		env := []string{"PATH=/usr/bin:/bin", "HOME=" + userHome, "SILO_HOME=" + home, fuseEnv}
		return runAs(t, unprivUID, unprivUID, ws, env, bin, "exec", "--backend", "namespace", "bb", "sh", "-c", script)
	}

	r := run("id -u; echo made > made.txt; cat /root/.ssh/id_rsa 2>&1; exit 42")
	if r.Code != 42 {
		t.Fatalf("as uid %d: exit %d, want 42; stderr: %s", unprivUID, r.Code, r.Stderr)
	}
	if !strings.HasPrefix(r.Stdout, "0\n") || strings.Contains(r.Stdout, "host secret") {
		t.Errorf("inside, as uid %d: %q", unprivUID, r.Stdout)
	}
	st, err := os.Stat(filepath.Join(ws, "made.txt"))
	if err != nil {
		t.Fatalf("the file made inside is not on the host: %v", err)
	}
	if uid := st.Sys().(*syscall.Stat_t).Uid; uid != unprivUID {
		t.Errorf("the file made inside is owned by uid %d, want the invoking user %d", uid, unprivUID)
	}
	if r := run("echo evil > silo.toml"); r.Code == 0 {
		t.Errorf("an unprivileged sandbox could write silo.toml")
	}
	if got := readFile(filepath.Join(ws, "silo.toml")); got != "tools = [\"bb\"]\n" {
		t.Errorf("silo.toml changed: %q", got)
	}
	if fuseDev != "/dev/fuse" {
		// A FUSE device the user cannot open: the run stops and says
		// what to do.
		fuseEnv = "SILO_FUSE_DEVICE=/dev/fuse"
		if r := run("echo ran"); r.Code == 0 || strings.Contains(r.Stdout, "ran") || !strings.Contains(r.Stderr, "SILO_FUSE_DEVICE") {
			t.Errorf("without a usable FUSE device: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
		}
	}
}

// userFuseDevice returns a FUSE device any user may open, which the
// workspace filter needs: /dev/fuse where it is 0666, as most
// distributions ship it, else a node of our own under base, as an
// administrator would make one.
func userFuseDevice(t *testing.T, base string) string {
	t.Helper()
	fuseDev := "/dev/fuse"
	var fst syscall.Stat_t
	if err := syscall.Stat(fuseDev, &fst); err != nil {
		t.Skipf("no /dev/fuse: %v", err)
	}
	if fst.Mode&0o006 == 0o006 {
		return fuseDev
	}
	fuseDev = filepath.Join(base, "fuse")
	if err := syscall.Mknod(fuseDev, syscall.S_IFCHR|0o666, int(fst.Rdev)); err != nil {
		t.Fatalf("make a FUSE device node: %v", err)
	}
	if err := os.Chmod(fuseDev, 0o666); err != nil {
		t.Fatal(err)
	}
	return fuseDev
}

// copyFile copies src to dst with mode.
func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		t.Fatal(err)
	}
}
