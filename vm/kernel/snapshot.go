package kernel

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/silo-dev/silo/derive"
	"github.com/silo-dev/silo/internal/fsutil"
	"github.com/silo-dev/silo/internal/home"
	"github.com/silo-dev/silo/store"
	"github.com/silo-dev/silo/vm"
)

const (
	// SnapshotRootPrefix starts the direct roots of VM snapshots: one a
	// machine shape, SnapshotRootPrefix + a hash of the shape.
	SnapshotRootPrefix = "runtime-snapshot-"
	// snapshotFormat versions the snapshot derivation: bump it whenever
	// what a snapshot holds or where the guest stops changes.
	snapshotFormat = "silo-snapshot/v3"
	// MaxBrokenSnapshots is how many snapshots may be found broken (made
	// but not restored, or not made) before VMs of this home only boot.
	// Removing runtime/snapshot-generation tries snapshots again.
	MaxBrokenSnapshots = 4
)

// ErrMakeSnapshot is wrapped by the errors of a snapshot that could not be
// made (the boot to the snapshot point, or the migration, failed).
var ErrMakeSnapshot = errors.New("make the VM snapshot")

// SnapshotDerivation is the derivation of the memory snapshot of a VM
// booting the kernel and initfs of these content hashes, in the shape
// shape (vm.Snapshotter.SnapshotShape: the backend's version, accelerator,
// memory, vCPUs, devices), after generation snapshots were found broken.
func SnapshotDerivation(kernelContent, initfs store.Hash, shape string, generation int) *derive.Derivation {
	return &derive.Derivation{
		Version: derive.Version, Type: "snapshot", Platform: snapshotFormat,
		Inputs: []string{kernelContent.String(), initfs.String(), store.HashBytes([]byte(shape)).String(), "generation:" + strconv.Itoa(generation)},
	}
}

// Snapshot returns the memory snapshot entry that VMs of spec's shape
// restore from instead of booting rt, realising it with b on first use
// (one boot to the guest's snapshot point, about 100 MB), and roots it for
// the shape; nil when b restores no VM of spec's shape. spec's Kernel and
// Initfs are rt's.
func Snapshot(ctx context.Context, st *store.Store, rt *Runtime, b vm.Snapshotter, spec *vm.Spec) (*store.Entry, error) {
	shape, err := b.SnapshotShape(ctx, spec)
	if err != nil || shape == "" {
		return nil, err
	}
	gen := SnapshotGeneration(st.Home())
	d := SnapshotDerivation(rt.Kernel.ContentHash, rt.Initfs.ContentHash, shape, gen)
	e, err := derive.Realise(st, d, func(tmp string) (*derive.Output, error) {
		out := filepath.Join(tmp, "snapshot")
		if err := b.MakeSnapshot(ctx, spec, out); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMakeSnapshot, err)
		}
		_, release, _ := strings.Cut(rt.Kernel.Name, "-linux-")
		name := "snapshot-" + release
		return &derive.Output{Path: out, Name: name, Kind: store.KindSnapshot,
			References:  []string{rt.Kernel.Name, rt.Initfs.Name},
			Annotations: map[string]string{"generation": strconv.Itoa(gen)}}, nil
	})
	if err != nil {
		return nil, err
	}
	if err := st.AddRoot(snapshotRoot(shape), e.Name); err != nil {
		return nil, err
	}
	return e, nil
}

// snapshotRoot is the name of the direct root of shape's snapshot.
func snapshotRoot(shape string) string {
	return SnapshotRootPrefix + store.PathHash(store.HashBytes([]byte(shape)))[:16]
}

// SnapshotGeneration is how many snapshots were found broken in home (see
// SnapshotBroken).
func SnapshotGeneration(h string) int {
	b, err := os.ReadFile(home.Dir(h).SnapshotGeneration())
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return max(n, 0)
}

// SnapshotBroken records that the snapshot entry name did not restore:
// the generation every snapshot derivation holds moves on, so that it is
// rebuilt on the next run and never used again, and its root goes, so
// that the next GC collects it.
func SnapshotBroken(st *store.Store, name string) error {
	h := home.Dir(st.Home())
	n := SnapshotGeneration(st.Home()) + 1
	if err := fsutil.WriteFile(h.SnapshotGeneration(), []byte(strconv.Itoa(n)+"\n"), fsutil.WriteOptions{MkdirPerm: 0o700}); err != nil {
		return fmt.Errorf("record the broken VM snapshot: %w", err)
	}
	roots, err := st.Roots()
	if err != nil {
		return err
	}
	for _, r := range roots {
		if r.Kind == store.RootDirect && strings.HasPrefix(r.Name, SnapshotRootPrefix) && slices.Contains(r.Entries, name) {
			if err := st.RemoveRoot(r.Name); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
	}
	return nil
}

// StaleSnapshots returns the direct roots of snapshots no VM restores
// from any more, each with the entry it names: of a kernel or initfs that
// is no longer the current one, of an older generation, or dangling.
func StaleSnapshots(st *store.Store) (map[string]string, error) {
	roots, err := st.Roots()
	if err != nil {
		return nil, err
	}
	current := map[string]bool{}
	for _, r := range roots {
		if r.Kind == store.RootDirect && (r.Name == KernelRoot || r.Name == InitfsRoot) {
			for _, e := range r.Entries {
				current[e] = true
			}
		}
	}
	gen := strconv.Itoa(SnapshotGeneration(st.Home()))
	stale := map[string]string{}
	for _, r := range roots {
		if r.Kind != store.RootDirect || !strings.HasPrefix(r.Name, SnapshotRootPrefix) || len(r.Entries) != 1 {
			continue
		}
		if r.Dangling || !snapshotCurrent(st, r.Entries[0], current, gen) {
			stale[r.Name] = r.Entries[0]
		}
	}
	return stale, nil
}

// GC is the store's GC (store.Store.GC) that also drops the roots of the
// stale snapshots (StaleSnapshots), so that it collects them; a dry run
// lists them and removes nothing. Every collection silo runs goes
// through it.
func GC(st *store.Store, o store.GCOptions) (*store.GCReport, error) {
	stale, err := StaleSnapshots(st)
	if err != nil {
		return nil, err
	}
	o.DropRoots = stale
	return st.GC(o)
}

// snapshotCurrent reports whether the snapshot entry name restores the
// current kernel and initfs in the current generation.
func snapshotCurrent(st *store.Store, name string, current map[string]bool, gen string) bool {
	e, err := st.Get(name)
	if err != nil || e.Annotations["generation"] != gen {
		return false
	}
	n := 0
	for _, ref := range e.References {
		if current[ref] {
			n++
		}
	}
	return n == 2
}
