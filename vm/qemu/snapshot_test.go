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

// TestSnapshotRestore takes one snapshot with stand-in disks and a
// stand-in workspace and restores two runs from it over a real rootfs and
// workspaces of their own: each sees its own files and its own random
// bytes. A damaged snapshot falls back to a boot and says why.
func TestSnapshotRestore(t *testing.T) {
	r := bootable(t)
	rootfs := busyboxRootfs(t)
	b := New(Options{Home: r.home, Accel: AccelTCG})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	spec := func(ws string, argv ...string) (*vm.Spec, *bytes.Buffer, *bytes.Buffer) {
		var stdout, stderr bytes.Buffer
		return &vm.Spec{
			RootfsImage: rootfs, Kernel: r.kernel, Initfs: r.initfs, Workspace: ws,
			Argv: argv, Env: []string{"PATH=/bin", "HOME=/root"}, RootfsSizeMB: 64,
			Stdin: bytes.NewReader(nil), Stdout: &stdout, Stderr: &stderr, Timing: &vm.Timing{},
		}, &stdout, &stderr
	}
	shapeSpec, _, _ := spec(t.TempDir(), "true")
	snap := filepath.Join(t.TempDir(), "snapshot")
	t0 := time.Now()
	if err := b.MakeSnapshot(ctx, shapeSpec, snap); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(snap)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("snapshot: %d MB in %v", fi.Size()>>20, time.Since(t0))
	var seen []string
	for i := range 2 {
		ws := t.TempDir()
		mark := "run-" + string(rune('a'+i))
		if err := os.WriteFile(filepath.Join(ws, "mark"), []byte(mark), 0o644); err != nil {
			t.Fatal(err)
		}
		s, stdout, stderr := spec(ws, "sh", "-c", "cat mark; echo; dd if=/dev/urandom bs=16 count=1 2>/dev/null | sha256sum; date +%s")
		s.Snapshot = s.Snapshot + snap
		t1 := time.Now()
		code, err := b.Run(ctx, s)
		if err != nil || code != 0 {
			t.Fatalf("restored run: exit %d, %v\n%s", code, err, stderr)
		}
		t.Logf("restored run %d: %v %+v", i, time.Since(t1), s.Timing.Phases)
		lines := strings.Split(stdout.String(), "\n")
		if len(lines) < 3 || lines[0] != mark {
			t.Fatalf("restored run %d: stdout %q, want %s first; stderr %s", i, stdout, mark, stderr)
		}
		seen = append(seen, lines[1])
	}
	if seen[0] == seen[1] {
		t.Errorf("two restored runs read the same random bytes: %s", seen[0])
	}
}
