package tests

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildQemu runs one build on the qemu backend: the agent captures
// inside the VM (its ext4 rootfs, its 9p-shared excluded directory), a
// later VM boots the assembled ext4 rootfs with it, and the lock records
// the kernel and initfs the VMs booted.
func TestBuildQemu(t *testing.T) {
	s := qemuSandbox(t)
	host := startRegistry(t)
	pushImage(t, host, "bb", busyboxImage(t))
	ref := host + "/bb:latest"
	writeFile(t, filepath.Join(s.home, "config.toml"), "[tool.bb]\nimage = \""+ref+"\"\nshims = [\"sh\"]\n")
	ws := t.TempDir()
	writeTrusted(t, s.home, filepath.Join(ws, "silo.toml"), "tools = [\"bb\"]\n[mount]\nexclude = [\".venv\"]\n")
	writeFile(t, filepath.Join(ws, "requirements.txt"), "left-pad==1.0\n")
	p := &buildProject{s: s, ws: ws, ref: ref}
	p.must(t, "build", "bb", "sh", "-c", buildScript)
	r := p.must(t, "exec", "bb", "sh", "-c", "cat /opt/req; cat .venv/lib/marker")
	if r.Stdout != "left-pad==1.0\nvenv\n" {
		t.Errorf("a VM run after a VM build: %q\nstderr: %s", r.Stdout, r.Stderr)
	}
	lock := readFile(filepath.Join(ws, "silo.lock"))
	for _, want := range []string{"kernel = \"blake3:", "initfs = \"blake3:", "layer = \"sha256:"} {
		if !strings.Contains(lock, want) {
			t.Errorf("silo.lock lacks %s:\n%s", want, lock)
		}
	}
}
