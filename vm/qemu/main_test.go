package qemu

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/silo-dev/silo/store"
	"github.com/silo-dev/silo/vm/kernel"
)

// siloBin is a static silo built for the tests: the VMs' init and agent.
var siloBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		return m.Run() // no VM boots: no agent needed
	}
	dir, err := os.MkdirTemp("", "silo-qemu-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if bin := os.Getenv("SILO_TEST_SILO"); bin != "" {
		// A prebuilt static silo (while cmd/silo does not build).
		siloBin = bin
		return m.Run()
	}
	siloBin = filepath.Join(dir, "silo")
	build := exec.Command("go", "build", "-trimpath", "-o", siloBin, "./cmd/silo")
	build.Dir = repoRoot()
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build silo: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// testRuntime is the kernel and initfs the tests boot, made once.
type testRuntime struct {
	home           string
	kernel, initfs string
}

var (
	rtOnce sync.Once
	rt     *testRuntime
	rtErr  error
)

// bootable returns the test runtime, or skips when there is no kernel or
// no QEMU here.
func bootable(t testing.TB) *testRuntime {
	t.Helper()
	if testing.Short() {
		t.Skip("boots a VM under TCG: skipped with -short")
	}
	if err := New(Options{}).Available(); err != nil {
		t.Skip(err)
	}
	root := filepath.Join(repoRoot(), ".cache", "kernel")
	imgs, _ := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	mods, _ := filepath.Glob(filepath.Join(root, "lib", "modules", "*"))
	if len(imgs) == 0 || len(mods) == 0 {
		t.Skip("no kernel in .cache/kernel: run make kernel")
	}
	rtOnce.Do(func() {
		rt, rtErr = makeRuntime(imgs[0], mods[0])
	})
	if rtErr != nil {
		t.Fatal(rtErr)
	}
	return rt
}

func makeRuntime(img, mods string) (*testRuntime, error) {
	home, err := os.MkdirTemp("", "silo-qemu-home-")
	if err != nil {
		return nil, err
	}
	st, err := store.Open(home)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	k, err := kernel.Import(st, kernel.ImportOptions{Image: img, Modules: mods})
	if err != nil {
		return nil, err
	}
	i, err := kernel.Initfs(st, k, siloBin)
	if err != nil {
		return nil, err
	}
	return &testRuntime{home: home, kernel: filepath.Join(k.Path, "vmlinux"), initfs: i.Path}, nil
}

// busyboxRootfs makes an ext4 image holding a static busybox and its
// applet links, with mkfs.ext4 -d.
func busyboxRootfs(t testing.TB) string {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skip("needs busybox-static")
	}
	tree := t.TempDir()
	for _, d := range []string{"bin", "etc", "tmp", "proc", "dev", "sys", "workspace"} {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(tree, "bin", "busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, applet := range []string{"sh", "cat", "echo", "ls", "sleep", "grep", "nc", "df", "rm", "sha256sum", "true", "false", "id", "mount", "touch", "kill", "dd", "sync"} {
		if err := os.Symlink("busybox", filepath.Join(tree, "bin", applet)); err != nil {
			t.Fatal(err)
		}
	}
	img := filepath.Join(t.TempDir(), "rootfs.ext4")
	if out, err := exec.Command("mkfs.ext4", "-q", "-d", tree, img, "16M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	return img
}
