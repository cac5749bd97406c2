package sandbox

import (
	"context"
	"errors"
	"fmt"

	"github.com/silo-dev/silo/store"
	"github.com/silo-dev/silo/vm"
	"github.com/silo-dev/silo/vm/kernel"
)

// useSnapshot has a backend that restores VMs (vm.Snapshotter) restore
// spec from the memory snapshot of its shape instead of booting rt, making
// the snapshot on first use. A snapshot that cannot be made is said in one
// line and the VM boots; one that does not restore (the backend says so
// and boots) is recorded as broken, so that the next run rebuilds it. After
// kernel.MaxBrokenSnapshots broken ones, VMs boot.
func useSnapshot(ctx context.Context, st *store.Store, rt *kernel.Runtime, b vm.Backend, spec *vm.Spec) {
	sn, ok := b.(vm.Snapshotter)
	if !ok || kernel.SnapshotGeneration(st.Home()) >= kernel.MaxBrokenSnapshots {
		return
	}
	e, err := kernel.Snapshot(ctx, st, rt, sn, spec)
	if err != nil {
		if ctx.Err() == nil {
			fmt.Fprintf(spec.Stderr, "silo: no VM snapshot: %v; booting the VM instead\n", err)
		}
		if errors.Is(err, kernel.ErrMakeSnapshot) && ctx.Err() == nil {
			_ = kernel.SnapshotBroken(st, "")
		}
		return
	}
	if e == nil {
		return
	}
	spec.Snapshot = e.Path
	spec.SnapshotFailed = func(error) { _ = kernel.SnapshotBroken(st, e.Name) }
}
