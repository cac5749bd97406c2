package kernel

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/silo-dev/silo/store"
	"github.com/silo-dev/silo/vm"
)

// fakeSnapshotter writes a small file as the snapshot and counts makes.
type fakeSnapshotter struct {
	shape string
	makes int
	fail  error
}

func (f *fakeSnapshotter) SnapshotShape(context.Context, *vm.Spec) (string, error) {
	return f.shape, nil
}

func (f *fakeSnapshotter) MakeSnapshot(_ context.Context, _ *vm.Spec, path string) error {
	if f.fail != nil {
		return f.fail
	}
	f.makes++
	return os.WriteFile(path, []byte("snapshot of "+f.shape), 0o644)
}

// fakeRuntime adds a kernel and an initfs entry of the given contents and
// roots them as the current ones.
func fakeRuntime(t *testing.T, st *store.Store, tag string) *Runtime {
	t.Helper()
	k, err := st.AddReader(strings.NewReader("kernel "+tag), store.AddOptions{Name: "linux-6.1.0-" + tag, Kind: store.KindKernel})
	if err != nil {
		t.Fatal(err)
	}
	i, err := st.AddReader(strings.NewReader("initfs "+tag), store.AddOptions{Name: "initfs-" + tag + ".cpio", Kind: store.KindInitfs, References: []string{k.Name}})
	if err != nil {
		t.Fatal(err)
	}
	for root, e := range map[string]string{KernelRoot: k.Name, InitfsRoot: i.Name} {
		if err := st.AddRoot(root, e); err != nil {
			t.Fatal(err)
		}
	}
	return &Runtime{Kernel: k, Initfs: i}
}

// TestSnapshotEntries: a snapshot is realised once per kernel, initfs and
// shape, rooted, rebuilt under a new name once found broken, and its root
// pruned (then collected) once its kernel is no longer current.
func TestSnapshotEntries(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rt := fakeRuntime(t, st, "a")
	b := &fakeSnapshotter{shape: "mem=1024 cpus=1"}
	ctx := context.Background()
	s1, err := Snapshot(ctx, st, rt, b, &vm.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	if s1.Kind != store.KindSnapshot || b.makes != 1 || len(s1.References) != 2 {
		t.Fatalf("snapshot %s kind %s refs %v after %d makes", s1.Name, s1.Kind, s1.References, b.makes)
	}
	if again, err := Snapshot(ctx, st, rt, b, &vm.Spec{}); err != nil || again.Name != s1.Name || b.makes != 1 {
		t.Fatalf("same shape again: %v, %v after %d makes; want %s made once", again, err, b.makes, s1.Name)
	}
	other := &fakeSnapshotter{shape: "mem=2048 cpus=1"}
	s2, err := Snapshot(ctx, st, rt, other, &vm.Spec{})
	if err != nil || s2.Name == s1.Name {
		t.Fatalf("another shape: %v, %v", s2, err)
	}
	if none, err := Snapshot(ctx, st, rt, &fakeSnapshotter{}, &vm.Spec{}); none != nil || err != nil {
		t.Fatalf("no shape: %v, %v; want no snapshot", none, err)
	}
	if _, err := Snapshot(ctx, st, rt, &fakeSnapshotter{shape: "x", fail: errors.New("no boot")}, &vm.Spec{}); err == nil || !strings.Contains(err.Error(), "no boot") {
		t.Fatalf("a failed make: %v", err)
	}

	// Broken: the next run rebuilds it under another name.
	if err := SnapshotBroken(st, s1.Name); err != nil {
		t.Fatal(err)
	}
	s3, err := Snapshot(ctx, st, rt, b, &vm.Spec{})
	if err != nil || s3.Name == s1.Name || b.makes != 2 {
		t.Fatalf("after broken: %v, %v after %d makes; want a new entry", s3, err, b.makes)
	}
	// A new kernel: a dry GC lists every snapshot and removes none; GC
	// drops every snapshot root and takes the snapshots (s2 is of the older generation too).
	fakeRuntime(t, st, "b")
	st.Close()
	st, err = store.Open(st.Home()) // let go of the temporary root
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dry, err := GC(st, store.GCOptions{DryRun: true})
	if err != nil || len(dry.Dropped) != 2 || !slices.ContainsFunc(dry.Removed, func(it store.GCItem) bool { return it.Name == s3.Name }) {
		t.Fatalf("dry GC: %+v, %v; want both shapes' roots dropped and %s listed", dry, err, s3.Name)
	}
	if _, err := os.Stat(s3.Path); err != nil {
		t.Fatalf("a dry GC removed %s: %v", s3.Name, err)
	}
	if rep, err := GC(st, store.GCOptions{}); err != nil || len(rep.Dropped) != 2 {
		t.Fatalf("GC: %+v, %v; want both shapes' roots dropped", rep, err)
	}
	for _, e := range []*store.Entry{s1, s2, s3} {
		if _, err := os.Stat(e.Path); !os.IsNotExist(err) {
			t.Errorf("snapshot %s survived the GC: %v", e.Name, err)
		}
	}
}
