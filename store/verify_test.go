package store

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVerifyFindsAndRepairs(t *testing.T) {
	s := open(t)
	good := addN(t, s, "good", "fine", AddOptions{})
	flipped := addN(t, s, "flipped", "some content here", AddOptions{})
	badMeta := addN(t, s, "bad-meta", "meta will be truncated", AddOptions{})
	lost := addN(t, s, "lost", "its file goes away", AddOptions{})
	treeSrc := t.TempDir()
	writeFile(t, treeSrc, "a/b", []byte("tree file"), 0o644)
	tree, err := s.AddDir(treeSrc, AddOptions{Name: "tree"})
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := s.Verify(nil, false); err != nil || !rep.OK() || rep.Checked != 5 {
		t.Fatalf("clean store: %+v %v", rep, err)
	}
	// Flip one byte of a file and of a file inside a tree.
	flip := func(p string) {
		os.Chmod(p, 0o644)
		b, _ := os.ReadFile(p)
		b[3] ^= 1
		os.WriteFile(p, b, 0o444)
	}
	flip(flipped.Path)
	os.Chmod(filepath.Join(tree.Path, "a"), 0o755)
	flip(filepath.Join(tree.Path, "a/b"))
	// Truncate a metadata file, lose an entry's file, leave a stray file.
	mp := s.metaPath(badMeta.Name)
	b, _ := os.ReadFile(mp)
	os.WriteFile(mp, b[:len(b)/2], 0o644)
	os.Remove(lost.Path)
	stray := storeName(HashBytes([]byte("stray")), "stray")
	os.WriteFile(s.entryPath(stray), []byte("stray"), 0o444)

	rep, err := s.Verify(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]ProblemKind{
		flipped.Name: ProblemCorrupt, tree.Name: ProblemCorrupt, badMeta.Name: ProblemBadMetadata,
		lost.Name: ProblemOrphanMetadata, stray: ProblemOrphanFile,
	}
	got := map[string]ProblemKind{}
	for _, p := range rep.Problems {
		got[p.Name] = p.Kind
		if p.Detail == "" {
			t.Errorf("%s: no detail", p.Name)
		}
	}
	for n, k := range want {
		if got[n] != k {
			t.Errorf("%s: got %q, want %q", n, got[n], k)
		}
	}
	if len(got) != len(want) || rep.OK() {
		t.Errorf("problems %+v", rep.Problems)
	}
	// Verify of one good entry by name is clean.
	if r, err := s.Verify([]string{good.Name}, false); err != nil || !r.OK() || r.Checked != 1 {
		t.Errorf("verify good: %+v %v", r, err)
	}
	rep, err = s.Verify(nil, true)
	if err != nil || !rep.OK() {
		t.Fatalf("repair: %+v %v", rep, err)
	}
	if rep, err := s.Verify(nil, false); err != nil || !rep.OK() || rep.Checked != 1 {
		t.Fatalf("after repair: %+v %v", rep, err)
	}
	if _, err := s.Get(flipped.Name); err == nil {
		t.Error("the corrupt entry is still registered")
	}
	// What was removed can be added again.
	if _, err := s.AddReader(strings.NewReader("some content here"), AddOptions{Name: "flipped"}); err != nil {
		t.Fatal(err)
	}
}

// TestRepairLooksAgain hands repair a problem that a first, unlocked look
// reported while a compress swapped the entry's form: the entry is sound
// by the time repair holds the lock, so it must be kept.
func TestRepairLooksAgain(t *testing.T) {
	s := open(t)
	e, err := s.AddReader(strings.NewReader("healthy"), AddOptions{Name: "ok.txt", Kind: KindFile})
	if err != nil {
		t.Fatal(err)
	}
	rep := &VerifyReport{Problems: []Problem{{Name: e.Name, Kind: ProblemOrphanMetadata, Detail: "its file is gone"}}}
	if err := s.repair(rep); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(e.Name); err != nil {
		t.Fatalf("repair removed a sound entry: %v", err)
	}
	if len(rep.Problems) != 0 {
		t.Errorf("a problem that went away is still reported: %+v", rep.Problems)
	}
}
