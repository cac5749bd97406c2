package qemu

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/silo-dev/silo/vm"
)

// TestRunMounts boots one VM with two caches: each shows at its own guest
// path, in the spec's order, read-write (what the guest writes is on the
// host), nosuid and nodev, and the guest cannot climb out of one into the
// host directory beside it.
func TestRunMounts(t *testing.T) {
	r := bootable(t)
	caches := t.TempDir()
	pip, npm, secret := filepath.Join(caches, "pip"), filepath.Join(caches, "npm"), filepath.Join(caches, "secret")
	for _, d := range []string{pip, npm, secret} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(pip, "seeded"), []byte("from-the-host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(secret, "key"), []byte("host-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	script := `cat /root/.cache/pip/seeded
echo pip-wheel > /root/.cache/pip/wheel
busybox mkdir -p /cache/npm/_cacache && echo npm-entry > /cache/npm/_cacache/index
ls -a /root/.cache/pip/.. /cache/npm/..
cat /root/.cache/pip/../secret/key /cache/npm/../secret/key 2>/dev/null || echo no-escape
ls /silo/mounts 2>/dev/null || echo no-init-dirs
grep -E ' /(root/.cache/pip|cache/npm) ' /proc/mounts`
	var stdout, stderr bytes.Buffer
	spec := &vm.Spec{
		RootfsImage: busyboxRootfs(t), Kernel: r.kernel, Initfs: r.initfs, Workspace: t.TempDir(),
		Mounts: []vm.Mount{{Host: pip, Guest: "/root/.cache/pip"}, {Host: npm, Guest: "/cache/npm"}},
		Argv:   []string{"/bin/sh", "-c", script}, Env: []string{"PATH=/bin"},
		Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	code, err := New(Options{Home: r.home, Accel: AccelTCG}).Run(ctx, spec)
	out := stdout.String()
	if err != nil || code != 0 {
		t.Fatalf("exit %d, %v\nstdout: %s\nstderr: %s", code, err, out, stderr.String())
	}
	t.Logf("inside:\n%s", out)
	if !strings.HasPrefix(out, "from-the-host\n") {
		t.Error("the host's file is not in the cache inside")
	}
	for _, want := range []string{"no-escape\n", "no-init-dirs\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("%q missing inside", want)
		}
	}
	if strings.Contains(out, "host-secret") || strings.Contains(out, "secret\n") {
		t.Error("the guest sees the host directory beside its cache")
	}
	mounts := 0
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 3 && (f[1] == "/root/.cache/pip" || f[1] == "/cache/npm") {
			mounts++
			if f[2] != "9p" || !strings.Contains(","+f[3]+",", ",rw,") || !strings.Contains(f[3], "nosuid") || !strings.Contains(f[3], "nodev") {
				t.Errorf("cache mount %q: want 9p, rw, nosuid, nodev", l)
			}
		}
	}
	if mounts != 2 {
		t.Errorf("%d cache mounts inside, want 2", mounts)
	}
	for p, want := range map[string]string{filepath.Join(pip, "wheel"): "pip-wheel\n", filepath.Join(npm, "_cacache", "index"): "npm-entry\n"} {
		if got, err := os.ReadFile(p); err != nil || string(got) != want {
			t.Errorf("%s on the host: %q, %v; want %q", p, got, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(npm, "wheel")); err == nil {
		t.Error("the caches are swapped or merged: pip's file is in npm's")
	}
}
