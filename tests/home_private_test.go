package tests

// $SILO_HOME is the user's private state: other local users can neither
// read it nor run the images' setuid files kept in its store, and silo
// refuses a home another user owns.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// passableDir makes a directory other users may pass through, as through
// /home (t.TempDir's parent is closed to them), removed after the test.
func passableDir(t *testing.T, prefix string) string {
	t.Helper()
	base, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	return base
}

// ownSiloAndImage copies silo and the busybox image's layout into base, for
// another user to own and run.
func ownSiloAndImage(t *testing.T, base string) (bin, layout string) {
	t.Helper()
	bin = filepath.Join(base, "silo")
	copyFile(t, siloBin, bin, 0o755)
	layout = filepath.Join(base, "busybox-oci")
	if out, err := exec.Command("cp", "-a", ociLayout(t, busyboxImage(t)), layout).CombinedOutput(); err != nil {
		t.Fatalf("copy the layout: %v %s", err, out)
	}
	return bin, layout
}

// otherUser creates a local user for the test and removes it after; it
// skips the test when it cannot (not root, no useradd).
func otherUser(t *testing.T) (uid, gid int, name string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a second local user (useradd)")
	}
	if _, err := exec.LookPath("useradd"); err != nil {
		t.Skip("useradd is not installed")
	}
	var rnd [4]byte
	rand.Read(rnd[:])
	name = "silot" + hex.EncodeToString(rnd[:])
	if out, err := exec.Command("useradd", "--no-create-home", "--shell", "/bin/sh", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v\n%s", name, err, out)
		}
	})
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid, name
}

// asUser runs argv as uid:gid and returns its combined output and
// whether it succeeded. A shell of the user's execs argv: setpriv itself
// would look the command up while still privileged.
func asUser(t *testing.T, uid, gid int, argv ...string) (string, bool) {
	t.Helper()
	args := append([]string{fmt.Sprintf("--reuid=%d", uid), fmt.Sprintf("--regid=%d", gid), "--clear-groups", "--", "/bin/sh", "-c", `exec "$0" "$@"`}, argv...)
	out, err := exec.Command("setpriv", args...).CombinedOutput()
	return string(out), err == nil
}

// suidImageLayout is the busybox image plus a setuid-root copy of
// busybox named id, as an OCI layout.
func suidImageLayout(t *testing.T) string {
	t.Helper()
	bb, err := os.ReadFile(busyboxPath)
	if err != nil {
		t.Skipf("busybox-static is not installed: %v", err)
	}
	entries := append(busyboxEntries(t), tarEntry{Name: "suid", Type: '5', Mode: 0o755},
		tarEntry{Name: "suid/id", Mode: 0o4755, Body: bb})
	return ociLayout(t, imageFromLayers(t, tarLayer(t, entries)))
}

func TestSiloHomePrivateFromOtherUsers(t *testing.T) {
	uid, gid, name := otherUser(t)
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bubblewrap is not installed")
	}
	base := passableDir(t, "silo-home-test-")
	layout := suidImageLayout(t)
	ws := filepath.Join(base, "project")
	writeFile(t, filepath.Join(ws, "silo.toml"), "tools = [\"bb\"]\n")
	config := fmt.Sprintf("[tool.bb]\nimage = %q\n", "oci-layout:"+layout)
	run := func(home string) result {
		t.Helper()
		return siloIn(t, home, ws, "exec", "--backend", "namespace", "bb", "sh", "-c", "ls -l /suid/id")
	}

	t.Run("a new home is private", func(t *testing.T) {
		home := filepath.Join(base, "fresh", "silo-home")
		if r := siloIn(t, home, base, "config", "show"); r.Code != 0 {
			t.Fatalf("config show: exit %d: %s", r.Code, r.Stderr)
		}
		writeFile(t, filepath.Join(home, "config.toml"), config)
		if r := run(home); r.Code != 0 || len(r.Stdout) < 4 || r.Stdout[3] != 's' {
			t.Fatalf("run: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
		}
		checkPrivate(t, home, uid, gid, name)
	})

	t.Run("an open home is made private, once", func(t *testing.T) {
		home := filepath.Join(base, "open-home")
		writeFile(t, filepath.Join(home, "config.toml"), config)
		if err := os.Chmod(home, 0o755); err != nil {
			t.Fatal(err)
		}
		r := run(home)
		if r.Code != 0 || strings.Count(r.Stderr, "private") != 1 || !strings.Contains(r.Stderr, home) {
			t.Fatalf("first run on a 0755 home: exit %d, stderr %q; want one note that it was made private", r.Code, r.Stderr)
		}
		if r := run(home); r.Code != 0 || r.Stderr != "" {
			t.Errorf("second run: exit %d, stderr %q; want nothing said again", r.Code, r.Stderr)
		}
		checkPrivate(t, home, uid, gid, name)
	})

	t.Run("another user's home is refused", func(t *testing.T) {
		home := filepath.Join(base, "their-home")
		writeFile(t, filepath.Join(home, "config.toml"), config+"[tool.planted]\nimage = \"busybox\"\n")
		if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", uid, gid), home).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v %s", err, out)
		}
		for _, args := range [][]string{{"exec", "--backend", "namespace", "bb", "true"}, {"config", "show"}} {
			r := siloIn(t, home, ws, args...)
			if r.Code == 0 || !strings.Contains(r.Stderr, name) || !strings.Contains(r.Stderr, "SILO_HOME") {
				t.Errorf("silo %s with a home owned by %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), name, r.Code, r.Stdout, r.Stderr)
			}
			if strings.Contains(r.Stdout, "planted") {
				t.Errorf("silo %s read the other user's configuration: %s", args[0], r.Stdout)
			}
		}
	})
}

// siloIn runs silo with SILO_HOME=home in dir, leaving home's mode as it
// is (unlike silo).
func siloIn(t *testing.T, home, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(siloBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SILO_HOME="+home, "SILO_BACKEND=namespace")
	return runCmd(t, cmd)
}

// checkPrivate checks, as the other user, that home is closed: its mode,
// its configuration unreadable, the store's setuid file not runnable.
func checkPrivate(t *testing.T, home string, uid, gid int, name string) {
	t.Helper()
	if st, err := os.Stat(home); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("%s: mode %v (%v), want 0700", home, st.Mode().Perm(), err)
	}
	var suid []string
	filepath.WalkDir(filepath.Join(home, "store"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && d.Name() == "id" {
			if st, err := os.Stat(p); err == nil && st.Mode()&os.ModeSetuid != 0 {
				suid = append(suid, p)
			}
		}
		return nil
	})
	if len(suid) == 0 {
		t.Fatalf("no setuid id in %s/store: the image did not unpack as the test expects", home)
	}
	if out, ok := asUser(t, uid, gid, "cat", filepath.Join(home, "config.toml")); ok {
		t.Errorf("%s read the silo user's config.toml: %s", name, out)
	}
	for _, p := range suid {
		out, ok := asUser(t, uid, gid, p, "-u")
		if ok || bytes.Contains([]byte(out), []byte("0\n")) {
			t.Errorf("%s ran the store's setuid %s: %q", name, p, out)
		}
	}
}
