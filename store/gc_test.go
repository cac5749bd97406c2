package store

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// addN adds a small distinct file entry named name with content data.
func addN(t *testing.T, s *Store, name, data string, o AddOptions) *Entry {
	t.Helper()
	o.Name = name
	e, err := s.AddReader(strings.NewReader(data), o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// reopen closes s (dropping its temporary root) and opens its home again.
func reopen(t *testing.T, s *Store) *Store {
	t.Helper()
	s.Close()
	s2, err := Open(s.Home())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	return s2
}

func TestGCRoots(t *testing.T) {
	s := open(t)
	layer := addN(t, s, "layer", "L", AddOptions{Kind: KindLayer})
	rootfs := addN(t, s, "rootfs", "R", AddOptions{Kind: KindRootfs, References: []string{layer.Name}})
	garbage := addN(t, s, "garbage", "G", AddOptions{})
	project := addN(t, s, "project", "P", AddOptions{})
	held := addN(t, s, "held", "H", AddOptions{})
	if err := s.AddRoot("python", rootfs.Name); err != nil {
		t.Fatal(err)
	}
	lockFile := writeFile(t, t.TempDir(), "silo.lock", []byte("lock"), 0o644)
	if err := s.AddIndirectRoot(lockFile, []string{project.Name}); err != nil {
		t.Fatal(err)
	}
	// The adding handle holds everything until it closes.
	rep, err := s.GC(GCOptions{})
	if err != nil || len(rep.Removed) != 0 {
		t.Fatalf("GC while the adder is open removed %+v, %v", rep, err)
	}
	s = reopen(t, s)
	tr, err := s.TempRoot(held.Name)
	if err != nil {
		t.Fatal(err)
	}
	dry, err := s.GC(GCOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(dry.Removed) != 1 || dry.Removed[0].Name != garbage.Name || dry.Freed == 0 {
		t.Fatalf("dry run: %+v", dry)
	}
	if _, err := s.Get(garbage.Name); err != nil {
		t.Fatalf("dry run removed something: %v", err)
	}
	rep, err = s.GC(GCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Removed) != 1 || rep.Removed[0].Name != garbage.Name || rep.Live != 4 {
		t.Fatalf("GC: %+v", rep)
	}
	if _, err := os.Lstat(garbage.Path); !os.IsNotExist(err) {
		t.Errorf("garbage file still there: %v", err)
	}
	// Releasing the temporary root, removing the project's lock file and
	// the direct root free the rest.
	tr.Release()
	os.Remove(lockFile)
	if err := s.RemoveRoot("python"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveRoot("python"); !errors.Is(err, ErrNotFound) {
		t.Errorf("removing a removed root: %v", err)
	}
	rep, err = s.GC(GCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Removed) != 4 || len(rep.PrunedRoots) != 1 || rep.Live != 0 {
		t.Fatalf("GC after unrooting: %+v", rep)
	}
	if roots, _ := s.Roots(); len(roots) != 1 || roots[0].Kind != RootTemporary {
		t.Errorf("roots left: %+v", roots)
	}
}

func TestGCEviction(t *testing.T) {
	s := open(t)
	layer := addN(t, s, "layer", "L", AddOptions{Kind: KindLayer})
	oldFS := addN(t, s, "old-rootfs", strings.Repeat("o", 100_000), AddOptions{Kind: KindRootfs, Rebuildable: true, References: []string{layer.Name}})
	newFS := addN(t, s, "new-rootfs", strings.Repeat("n", 100_000), AddOptions{Kind: KindRootfs, Rebuildable: true})
	pinned := addN(t, s, "pinned-rootfs", strings.Repeat("p", 100_000), AddOptions{Kind: KindRootfs, Rebuildable: true})
	under := addN(t, s, "under", "U", AddOptions{Kind: KindRootfs, Rebuildable: true})
	top := addN(t, s, "top", "T", AddOptions{Kind: KindImage, References: []string{under.Name}})
	for i, e := range []*Entry{oldFS, newFS, pinned, top} {
		if err := s.AddRoot(e.Name[33:], e.Name); err != nil {
			t.Fatal(err)
		}
		_ = i
	}
	lock := writeFile(t, t.TempDir(), "silo.lock", nil, 0o644)
	if err := s.AddIndirectRoot(lock, []string{pinned.Name}); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s)
	month := time.Now().Add(-30 * 24 * time.Hour)
	for _, e := range []*Entry{oldFS, pinned, under} {
		os.Chtimes(s.metaPath(e.Name), month, month)
	}
	rep, err := s.GC(GCOptions{MaxAge: 7 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var gone []string
	for _, it := range rep.Removed {
		gone = append(gone, it.Name)
	}
	// The old rootfs goes (and its layer with it); the pinned one and the
	// one a kept image refers to stay, as does the recent one.
	if len(gone) != 2 || !strings.Contains(strings.Join(gone, " "), oldFS.Name) || !strings.Contains(strings.Join(gone, " "), layer.Name) {
		t.Fatalf("MaxAge removed %v", gone)
	}
	for _, e := range []*Entry{newFS, pinned, under, top} {
		if _, err := s.Get(e.Name); err != nil {
			t.Errorf("%s evicted: %v", e.Name, err)
		}
	}
	// MaxSize 1 byte: every evictable entry goes, least recently used
	// first, but never the pinned one nor one something kept refers to.
	rep, err = s.GC(GCOptions{MaxSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Removed) != 1 || rep.Removed[0].Name != newFS.Name || !rep.Removed[0].Evicted {
		t.Fatalf("MaxSize removed %+v", rep.Removed)
	}
}

func TestRootsRefuseBadInput(t *testing.T) {
	s := open(t)
	e := addN(t, s, "x", "x", AddOptions{})
	for _, name := range []string{"", "../escape", ".temp", "a/b"} {
		if err := s.AddRoot(name, e.Name); err == nil {
			t.Errorf("AddRoot(%q) succeeded", name)
		}
	}
	if err := s.AddRoot("ok", storeName(HashBytes(nil), "absent")); !errors.Is(err, ErrNotFound) {
		t.Errorf("AddRoot to an absent entry: %v", err)
	}
	if err := s.AddIndirectRoot(filepath.Join(t.TempDir(), "missing.lock"), []string{e.Name}); err == nil {
		t.Error("AddIndirectRoot of a missing file succeeded")
	}
	if err := s.AddRoot("ok", e.Name); err != nil {
		t.Fatal(err)
	}
	if l, err := os.Readlink(filepath.Join(s.Home(), "roots", "ok")); err != nil || l != "../store/"+e.Name {
		t.Errorf("root link %q %v", l, err)
	}
}

// TestTempRootWhileSweeping creates temporary roots while other handles
// sweep roots/.temp, as GC and Open do: a sweeper probing a root that is
// still being created must never make the creation fail.
func TestTempRootWhileSweeping(t *testing.T) {
	s := open(t)
	stop := make(chan struct{})
	done := make(chan struct{})
	for range 2 {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.tempRootList(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	var failed error
	for i := 0; i < 3000 && failed == nil; i++ {
		tr, err := s.TempRoot()
		if err != nil {
			failed = err
			break
		}
		tr.Release()
	}
	close(stop)
	<-done
	<-done
	if failed != nil {
		t.Fatalf("creating a temporary root while others sweep: %v", failed)
	}
}

func TestGCDropRoots(t *testing.T) {
	s := open(t)
	old := addN(t, s, "old", "O", AddOptions{})
	moved := addN(t, s, "moved", "M", AddOptions{})
	kept := addN(t, s, "kept", "K", AddOptions{})
	for root, e := range map[string]*Entry{"a": old, "b": moved, "c": kept} {
		if err := s.AddRoot(root, e.Name); err != nil {
			t.Fatal(err)
		}
	}
	s = reopen(t, s)
	// "b" was re-pointed after the caller chose to drop it: it stays.
	drop := map[string]string{"a": old.Name, "b": kept.Name}
	dry, err := s.GC(GCOptions{DryRun: true, DropRoots: drop})
	if err != nil {
		t.Fatal(err)
	}
	if len(dry.Removed) != 1 || dry.Removed[0].Name != old.Name || len(dry.Dropped) != 1 || dry.Dropped[0] != "a" {
		t.Fatalf("dry run dropping a: %+v", dry)
	}
	if roots, _ := s.Roots(); len(roots) != 4 {
		t.Fatalf("a dry run removed a root: %+v", roots)
	}
	if _, err := os.Lstat(old.Path); err != nil {
		t.Fatalf("a dry run removed an entry: %v", err)
	}
	rep, err := s.GC(GCOptions{DropRoots: drop})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Removed) != 1 || rep.Removed[0].Name != old.Name || len(rep.Dropped) != 1 || rep.Live != 2 {
		t.Fatalf("GC dropping a: %+v", rep)
	}
	if _, err := os.Lstat(filepath.Join(s.Home(), "roots", "a")); !os.IsNotExist(err) {
		t.Errorf("root a still there: %v", err)
	}
	if _, err := os.Lstat(moved.Path); err != nil {
		t.Errorf("the entry of the re-pointed root b went: %v", err)
	}
}

// TestIndirectRootParts: a lock roots each tool's closure as a part; a
// part replaced lets GC free what only its old version kept, a part kept
// keeps its entries, a part dropped frees them, and the entries of a
// record written before parts existed are kept as the part "".
func TestIndirectRootParts(t *testing.T) {
	s := open(t)
	legacy := addN(t, s, "legacy", "old silo", AddOptions{Kind: KindLayer})
	a1 := addN(t, s, "a1", "tool a, first build", AddOptions{Kind: KindLayer})
	a2 := addN(t, s, "a2", "tool a, rebuilt", AddOptions{Kind: KindLayer})
	b1 := addN(t, s, "b1", "tool b", AddOptions{Kind: KindLayer})
	lock := writeFile(t, t.TempDir(), "silo.lock", nil, 0o644)
	if err := s.AddIndirectRoot(lock, []string{legacy.Name}); err != nil {
		t.Fatal(err)
	}
	keepAll := func(string) bool { return true }
	if err := s.SetIndirectRootParts(lock, map[string][]string{"a": {a1.Name}, "b": {b1.Name}}, keepAll); err != nil {
		t.Fatal(err)
	}
	keepB := func(p string) bool { return p == "b" }
	if err := s.SetIndirectRootParts(lock, map[string][]string{"a": {a2.Name}}, keepB); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s) // this handle's own adds are rooted while it lives
	gone := gcNames(t, s)
	if len(gone) != 2 || !slices.Contains(gone, a1.Name) || !slices.Contains(gone, legacy.Name) {
		t.Fatalf("GC after a's rebuild removed %v; want a1 and the legacy entry", gone)
	}
	if err := s.SetIndirectRootParts(lock, map[string][]string{"a": {a2.Name}}, func(string) bool { return false }); err != nil {
		t.Fatal(err)
	}
	if gone := gcNames(t, s); len(gone) != 1 || gone[0] != b1.Name {
		t.Fatalf("GC after b left the lock removed %v; want b1", gone)
	}
	if _, err := s.Get(a2.Name); err != nil {
		t.Errorf("a's current build was freed: %v", err)
	}
	if err := s.SetIndirectRootParts(lock, map[string][]string{"a": {"missing-entry"}}, keepAll); err == nil {
		t.Error("a part naming an entry that does not exist was accepted")
	}
}

// gcNames runs a GC and returns the names it removed.
func gcNames(t *testing.T, s *Store) []string {
	t.Helper()
	rep, err := s.GC(GCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, it := range rep.Removed {
		out = append(out, it.Name)
	}
	return out
}
