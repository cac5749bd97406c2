package qemu

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/silo-dev/silo/vm"
)

// TestSnapshotCPUs restores a two-vCPU VM for commands that outlast the
// init's delay before it brings vCPUs online: each sees both vCPUs, and
// none hangs (a vCPU first brought online after a restore hung the guest
// in one run of two).
func TestSnapshotCPUs(t *testing.T) {
	r := bootable(t)
	rootfs := busyboxRootfs(t)
	b := New(Options{Home: r.home, Accel: AccelTCG, HangTimeout: 20 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	mk := func() (*vm.Spec, *bytes.Buffer) {
		var out bytes.Buffer
		return &vm.Spec{RootfsImage: rootfs, Kernel: r.kernel, Initfs: r.initfs, Workspace: t.TempDir(), CPUs: 2,
			Argv: []string{"sh", "-c", "sleep 2; test $(grep -c processor /proc/cpuinfo) = 2"}, Env: []string{"PATH=/bin"},
			Stdin: bytes.NewReader(nil), Stdout: &out, Stderr: &out, Timing: &vm.Timing{}}, &out
	}
	s, _ := mk()
	snap := filepath.Join(t.TempDir(), "snapshot")
	if err := b.MakeSnapshot(ctx, s, snap); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		s, out := mk()
		s.Snapshot = snap
		code, err := b.Run(ctx, s)
		// The exit status says it: the output of a command running once
		// the second vCPU is online can go missing, booted or restored
		// (a separate problem).
		if err != nil || code != 0 {
			t.Fatalf("restored run %d: exit %d, %v, output %q; want 0: 2 vCPUs", i, code, err, out)
		}
	}
}
