package tests

import (
	"archive/tar"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ownersImage is the busybox image with files the image gives to users
// other than root: a home directory and what it holds, a group-owned
// file, a setgid program, a link and a pipe.
func ownersImage(t *testing.T) v1.Image {
	img := imageFromLayers(t, tarLayer(t, append(busyboxEntries(t),
		tarEntry{Name: "home/", Type: tar.TypeDir, Mode: 0o755},
		tarEntry{Name: "home/app/", Type: tar.TypeDir, Mode: 0o750, UID: 1000, GID: 1000},
		tarEntry{Name: "home/app/.profile", Mode: 0o600, UID: 1000, GID: 1000, Body: []byte("export APP=1\n")},
		tarEntry{Name: "home/app/link", Type: tar.TypeSymlink, Linkname: ".profile", UID: 1000, GID: 1000},
		tarEntry{Name: "home/app/pipe", Type: tar.TypeFifo, Mode: 0o620, UID: 1000, GID: 5},
		tarEntry{Name: "etc/secret", Mode: 0o640, UID: 0, GID: 42, Body: []byte("s3cret\n")},
		tarEntry{Name: "usr/", Type: tar.TypeDir, Mode: 0o755},
		tarEntry{Name: "usr/bin/", Type: tar.TypeDir, Mode: 0o755},
		tarEntry{Name: "usr/bin/helper", Mode: 0o2755, UID: 0, GID: 42, Body: []byte("#!/bin/sh\necho helper\n")},
		tarEntry{Name: "var/", Type: tar.TypeDir, Mode: 0o755},
		tarEntry{Name: "var/mail/", Type: tar.TypeDir, Mode: 0o2775, UID: 0, GID: 8},
	)))
	return img
}

// ownersScript prints owner, group and mode of each file as the sandbox
// shows them, and that the files still read as the image wrote them.
const ownersScript = `stat -c '%n %u:%g %a' /home /home/app /home/app/.profile /home/app/pipe /etc/secret /usr/bin/helper /var/mail /bin/busybox &&
stat -c '%n %u:%g' /home/app/link && cat /home/app/.profile /etc/secret && /usr/bin/helper`

const ownersWant = `/home 0:0 755
/home/app 1000:1000 750
/home/app/.profile 1000:1000 600
/home/app/pipe 1000:5 620
/etc/secret 0:42 640
/usr/bin/helper 0:42 2755
/var/mail 0:8 2775
/bin/busybox 0:0 755
/home/app/link 1000:1000
export APP=1
s3cret
helper
`

// TestImageOwners: a file's owner and group inside are the image's on
// every backend. On the namespace backend, where the rootfs directory is
// the user's on the host, that takes a user namespace that maps a range
// of ids (silo runs as root here, or the user has a subordinate range).
func TestImageOwners(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the namespace backend maps a range for root, or for a user with /etc/subuid: TestImageOwnersUnprivileged")
	}
	forEachBackend(t, func(t *testing.T, s *sandbox) { checkImageOwners(t, s) })
}

// TestQemuImageOwners is TestImageOwners on the qemu backend.
func TestQemuImageOwners(t *testing.T) {
	checkImageOwners(t, qemuSandbox(t))
}

func checkImageOwners(t *testing.T, s *sandbox) {
	ws := s.project(t)
	image := "oci-layout:" + ociLayout(t, ownersImage(t))
	r := s.silo(t, ws, nil, nil, "exec", "--image", image, "sh", "-c", ownersScript)
	if r.Code != 0 || r.Stdout != ownersWant {
		t.Fatalf("exit %d\nstdout:\n%s\nwant:\n%s\nstderr: %s", r.Code, r.Stdout, ownersWant, r.Stderr)
	}
	if s.backend != "namespace" {
		return
	}
	// The command still acts only as root: it can neither give a file of
	// the project another owner nor become another user and write one.
	writeFile(t, filepath.Join(ws, "mine"), "mine\n")
	r = s.silo(t, ws, nil, nil, "exec", "--image", image, "sh", "-c",
		`chown 1000 /workspace/mine; echo chown=$?; chown 0:0 /home/app/.profile; echo rootchown=$?; su -s /bin/sh -c 'echo became=$(id -u)' user 2>/dev/null; echo su=$?; chown 1000 /tmp 2>/dev/null; echo tmp=$?`)
	if r.Code != 0 || !strings.Contains(r.Stdout, "chown=1\n") || !strings.Contains(r.Stdout, "rootchown=0\n") || strings.Contains(r.Stdout, "su=0\n") || strings.Contains(r.Stdout, "became=") || !strings.Contains(r.Stdout, "tmp=1\n") {
		t.Errorf("ids inside: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	fi, err := os.Stat(filepath.Join(ws, "mine"))
	if err != nil || fi.Sys().(*syscall.Stat_t).Uid != uint32(os.Getuid()) {
		t.Errorf("the project's file after a chown inside: %v, %+v", err, fi)
	}
	// The image's owners live in the sandbox's own layer: the store's
	// tree is untouched (it verifies) and still the user's.
	if v := s.silo(t, ws, nil, nil, "store", "verify"); v.Code != 0 {
		t.Errorf("store verify: exit %d\n%s%s", v.Code, v.Stdout, v.Stderr)
	}
	dirs, _ := filepath.Glob(filepath.Join(s.home, "store", "*-rootfs", "home", "app", ".profile"))
	for _, p := range dirs {
		if fi, err := os.Lstat(p); err != nil || fi.Sys().(*syscall.Stat_t).Uid != uint32(os.Getuid()) {
			t.Errorf("%s in the store: %v %+v; want it the user's", p, err, fi)
		}
	}
	if len(dirs) == 0 {
		t.Error("no directory rootfs holds home/app/.profile")
	}
	checkOwnersBuild(t, s, image)
}

// checkOwnersBuild builds a step on the owners image: the step's layer
// holds what the command wrote and none of the image's owned files,
// which the sandbox keeps in a layer of its own.
func checkOwnersBuild(t *testing.T, s *sandbox, image string) {
	ws := t.TempDir()
	cfg := filepath.Join(s.home, "config.toml")
	writeFile(t, cfg, readFile(cfg)+fmt.Sprintf("\n[tool.own]\nimage = %q\n", image))
	writeTrusted(t, s.home, filepath.Join(ws, "silo.toml"), "tools = [\"own\"]\n")
	if r := s.silo(t, ws, nil, nil, "build", "own", "sh", "-c", "echo x > /made && cat /home/app/.profile >/dev/null"); r.Code != 0 {
		t.Fatalf("build: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	layers := stepEntries(t, s.home)
	if len(layers) != 1 {
		t.Fatalf("step layers: %v", layers)
	}
	out, err := exec.Command("tar", "-tf", layers[0]).CombinedOutput()
	if err != nil {
		t.Fatalf("tar -tf %s: %v\n%s", layers[0], err, out)
	}
	// etc/ is there as the parent of the /etc/hosts the agent writes
	// (and leaves out) for an image without one.
	names := strings.Fields(string(out))
	if !slices.Contains(names, "made") || slices.ContainsFunc(names, func(n string) bool { return n != "made" && n != "etc/" }) {
		t.Errorf("the step's layer holds %q; want made (and etc/) only", names)
	}
}

// TestImageOwnersUnprivileged runs the owners check as an ordinary user
// with a subordinate id range, as useradd gives one (here usermod, so the
// test does not depend on the host's useradd defaults), mapped through
// newuidmap and newgidmap; and, once the range is gone, checks that the
// run still works, with the image's files shown as root's, and that
// silo doctor says why and what to type.
func TestImageOwnersUnprivileged(t *testing.T) {
	for _, h := range []string{"newuidmap", "newgidmap", "usermod", "bwrap"} {
		if _, err := exec.LookPath(h); err != nil {
			t.Skipf("%s is not installed", h)
		}
	}
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("%v: this host gives no subordinate ids (create the file, empty, to run this test)", err)
		}
	}
	uid, gid, name := otherUser(t)
	sub := fmt.Sprintf("%d-%d", 3000000+uid*65536%1000000, 3000000+uid*65536%1000000+65535)
	if out, err := exec.Command("usermod", "--add-subuids", sub, "--add-subgids", sub, name).CombinedOutput(); err != nil {
		t.Fatalf("usermod --add-subuids: %v\n%s", err, out)
	}
	base := passableDir(t, "silo-owners-")
	bin := filepath.Join(base, "silo")
	copyFile(t, siloBin, bin, 0o755)
	layout := filepath.Join(base, "owners-oci")
	if out, err := exec.Command("cp", "-a", ociLayout(t, ownersImage(t)), layout).CombinedOutput(); err != nil {
		t.Fatalf("copy the layout: %v %s", err, out)
	}
	home, ws := filepath.Join(base, "silo-home"), filepath.Join(base, "project")
	writeFile(t, filepath.Join(ws, "mine"), "mine\n")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", uid, gid), layout, home, ws).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	fuseEnv := "SILO_FUSE_DEVICE=" + userFuseDevice(t, base)
	run := func(args ...string) result {
		env := []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin", "HOME=" + home, "SILO_HOME=" + home, fuseEnv}
		return runAs(t, uid, gid, ws, env, bin, args...)
	}
	image := "oci-layout:" + layout
	r := run("exec", "--backend", "namespace", "--image", image, "sh", "-c", ownersScript+"; chown 1000 /workspace/mine; echo chown=$?")
	if r.Code != 0 || r.Stdout != ownersWant+"chown=1\n" {
		t.Fatalf("as %s with subordinate ids %s: exit %d\nstdout:\n%s\nwant:\n%schown=1\nstderr: %s", name, sub, r.Code, r.Stdout, ownersWant, r.Stderr)
	}
	if fi, err := os.Stat(filepath.Join(ws, "mine")); err != nil || fi.Sys().(*syscall.Stat_t).Uid != uint32(uid) {
		t.Errorf("the project's file after a chown inside: %v %+v", err, fi)
	}
	if d := run("doctor", "--no-probe"); !strings.Contains(d.Stdout, "subordinate ids") {
		t.Errorf("silo doctor with a range does not describe it:\n%s", d.Stdout)
	}
	// Without a range (useradd may have given one too): the same run
	// works, every file root's, and the doctor says what to type.
	for _, f := range []struct{ file, flag string }{{"/etc/subuid", "--del-subuids"}, {"/etc/subgid", "--del-subgids"}} {
		for _, r := range subRanges(t, f.file, name) {
			if out, err := exec.Command("usermod", f.flag, r, name).CombinedOutput(); err != nil {
				t.Fatalf("usermod %s %s: %v\n%s", f.flag, r, err, out)
			}
		}
	}
	r = run("exec", "--backend", "namespace", "--image", image, "sh", "-c", "stat -c '%n %u:%g %a' /home/app /usr/bin/helper")
	if want := "/home/app 0:0 750\n/usr/bin/helper 0:0 2755\n"; r.Code != 0 || r.Stdout != want {
		t.Errorf("without a range: exit %d\nstdout:\n%s\nwant:\n%s\nstderr: %s", r.Code, r.Stdout, want, r.Stderr)
	}
	if d := run("doctor", "--no-probe"); !strings.Contains(d.Stdout, "usermod --add-subuids") {
		t.Errorf("silo doctor without a range does not say what to do:\n%s", d.Stdout)
	}
}

// subRanges lists name's ranges in file (/etc/subuid or /etc/subgid) as
// usermod takes them, "first-last".
func subRanges(t *testing.T, file, name string) []string {
	t.Helper()
	var rs []string
	for _, line := range strings.Split(readFile(file), "\n") {
		var first, n int
		if f := strings.Split(line, ":"); len(f) == 3 && f[0] == name {
			if _, err := fmt.Sscan(f[1], &first); err != nil {
				t.Fatalf("%s: %q: %v", file, line, err)
			}
			if _, err := fmt.Sscan(f[2], &n); err != nil {
				t.Fatalf("%s: %q: %v", file, line, err)
			}
			rs = append(rs, fmt.Sprintf("%d-%d", first, first+n-1))
		}
	}
	return rs
}
