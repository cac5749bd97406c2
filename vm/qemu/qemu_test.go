package qemu

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"github.com/silo-dev/silo/internal/home"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/silo-dev/silo/vm"
	"github.com/silo-dev/silo/vm/vmtest"
)

// run boots one VM for argv over rootfs and ws and returns its exit code
// and output.
func run(t *testing.T, r *testRuntime, rootfs, ws string, stdin []byte, argv ...string) (int, string, string, *vm.Timing) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	spec := &vm.Spec{
		RootfsImage: rootfs, Kernel: r.kernel, Initfs: r.initfs, Workspace: ws,
		Argv: argv, Env: []string{"PATH=/bin", "HOME=/root"},
		Stdin: bytes.NewReader(stdin), Stdout: &stdout, Stderr: &stderr,
		Timing: &vm.Timing{},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	code, err := New(Options{Home: r.home, Accel: AccelTCG}).Run(ctx, spec)
	if err != nil {
		t.Fatalf("run %q: %v", argv, err)
	}
	return code, stdout.String(), stderr.String(), spec.Timing
}

func sha(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// TestRunContract boots one VM that exercises the backend's side of the
// contract: exit code, separate stdout and stderr, binary stdin, a file
// written to the workspace, and a destructive command that leaves the
// rootfs image untouched.
func TestRunContract(t *testing.T) {
	r := bootable(t)
	ws := t.TempDir()
	rootfs := busyboxRootfs(t)
	before := sha(t, rootfs)
	in := make([]byte, 1<<20)
	rand.Read(in)
	// Everything outside /workspace goes: the image must not notice.
	// The loopback interface is up: a local server answers.
	script := `sha256sum > stdin.sha
nc -l -p 5555 -e echo loopback-ok & sleep 0.3; nc 127.0.0.1 5555 </dev/null > loopback.txt 2>&1
echo out; echo err >&2
rm -rf /bin /etc /tmp /dev/null 2>/dev/null
exit 42`
	code, stdout, stderr, timing := run(t, r, rootfs, ws, in, "/bin/sh", "-c", script)
	if code != 42 || stdout != "out\n" || stderr != "err\n" {
		t.Fatalf("code %d stdout %q stderr %q", code, stdout, stderr)
	}
	got, err := os.ReadFile(filepath.Join(ws, "stdin.sha"))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%x", sha256.Sum256(in)); !strings.HasPrefix(string(got), want) {
		t.Fatalf("stdin sha256 inside %q, sent %s", got, want)
	}
	if got, _ := os.ReadFile(filepath.Join(ws, "loopback.txt")); string(got) != "loopback-ok\n" {
		t.Errorf("a server on the guest's 127.0.0.1: %q", got)
	}
	if after := sha(t, rootfs); after != before {
		t.Fatalf("the rootfs image changed: %s -> %s", before, after)
	}
	t.Logf("phases: %+v", timing.Phases)
}

// TestInitFailureIsReported: a rootfs that is not ext4 fails in the guest
// init, and the host reports the guest's own reason, not a timeout.
func TestInitFailureIsReported(t *testing.T) {
	r := bootable(t)
	bad := filepath.Join(t.TempDir(), "garbage.img")
	if err := os.WriteFile(bad, bytes.Repeat([]byte("not a filesystem "), 1<<16), 0o444); err != nil {
		t.Fatal(err)
	}
	spec := &vm.Spec{
		RootfsImage: bad, Kernel: r.kernel, Initfs: r.initfs, Workspace: t.TempDir(),
		Argv: []string{"/bin/true"}, Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard,
	}
	_, err := New(Options{Home: r.home, Accel: AccelTCG}).Run(context.Background(), spec)
	if err == nil || !strings.Contains(err.Error(), "mount the rootfs /dev/vda read-only") {
		t.Fatalf("err = %v, want the guest init's mount error", err)
	}
	assertNoQEMUChild(t)
}

// TestBootLoop boots 20 VMs in a row: under TCG, boots used to hang
// waiting for TSC calibration; every one must finish.
func TestBootLoop(t *testing.T) {
	r := bootable(t)
	rootfs, ws := busyboxRootfs(t), t.TempDir()
	var boot time.Duration
	const n = 20
	for i := range n {
		code, stdout, _, timing := run(t, r, rootfs, ws, nil, "/bin/sh", "-c", fmt.Sprintf("echo boot-%d", i))
		if code != 0 || stdout != fmt.Sprintf("boot-%d\n", i) {
			t.Fatalf("boot %d: code %d stdout %q", i, code, stdout)
		}
		for _, p := range timing.Phases {
			if p.Name == "boot" {
				boot += p.Duration
			}
		}
	}
	t.Logf("%d boots, mean boot phase %v", n, boot/n)
}

// TestVCPUsComeOnline: a 2-vCPU VM boots on one, and the guest init brings
// the second online while the command runs.
func TestVCPUsComeOnline(t *testing.T) {
	r := bootable(t)
	var stdout bytes.Buffer
	spec := &vm.Spec{
		RootfsImage: busyboxRootfs(t), Kernel: r.kernel, Initfs: r.initfs, Workspace: t.TempDir(),
		Argv: []string{"/bin/sh", "-c", "sleep 3; grep -c ^processor /proc/cpuinfo"}, Env: []string{"PATH=/bin"},
		Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: io.Discard, CPUs: 2,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	code, err := New(Options{Home: r.home, Accel: AccelTCG}).Run(ctx, spec)
	if err != nil || code != 0 || stdout.String() != "2\n" {
		t.Fatalf("exit %d, %v, processors %q; want 2", code, err, stdout.String())
	}
}

// TestScratchDisk: writes outside the workspace land on a scratch disk of
// RootfsSizeMB, not in RAM, and the template disk stays empty.
func TestScratchDisk(t *testing.T) {
	r := bootable(t)
	var stdout, stderr bytes.Buffer
	spec := &vm.Spec{
		RootfsImage: busyboxRootfs(t), Kernel: r.kernel, Initfs: r.initfs, Workspace: t.TempDir(),
		Argv: []string{"/bin/sh", "-c", `dd if=/dev/zero of=/fits bs=1M count=40 2>/dev/null && echo fits
dd if=/dev/zero of=/too-big bs=1M count=100 2>/dev/null || echo too-big-refused`},
		Env: []string{"PATH=/bin"}, Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
		RootfsSizeMB: 64,
	}
	tmpl, err := scratchTemplate(home.Dir(r.home), 64)
	if err != nil {
		t.Fatal(err)
	}
	before := sha(t, tmpl)
	b := New(Options{Home: r.home, Accel: AccelTCG})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	code, err := b.Run(ctx, spec)
	if err != nil || code != 0 || stdout.String() != "fits\ntoo-big-refused\n" {
		t.Fatalf("exit %d, %v, stdout %q, stderr %q", code, err, stdout.String(), stderr.String())
	}
	if code, err := b.Run(ctx, &vm.Spec{
		RootfsImage: spec.RootfsImage, Kernel: r.kernel, Initfs: r.initfs, Workspace: t.TempDir(),
		Argv: []string{"/bin/sh", "-c", "ls /fits 2>/dev/null; true"}, Env: []string{"PATH=/bin"},
		Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, RootfsSizeMB: 64,
	}); err != nil || code != 0 {
		t.Fatalf("second run: %d %v", code, err)
	}
	if strings.Contains(stdout.String(), "/fits") {
		t.Error("a file written outside the workspace survived into the next run")
	}
	if after := sha(t, tmpl); after != before {
		t.Error("the scratch template changed")
	}
}

// TestContract runs the backend contract suite in-process, under TCG.
func TestContract(t *testing.T) {
	r := bootable(t)
	rootfs := busyboxRootfs(t)
	b := New(Options{Home: r.home, Accel: AccelTCG})
	vmtest.Run(t, b, func(_ testing.TB, s *vm.Spec) {
		s.RootfsImage, s.Kernel, s.Initfs = rootfs, r.kernel, r.initfs
	})
}
