package store

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenRollsBackDeadAdds fakes what a process killed between renaming
// an entry into place and writing its metadata leaves behind; Open must
// remove the unregistered entry, keep a registered one, and sweep the dead
// process's staging directory and temporary root.
func TestOpenRollsBackDeadAdds(t *testing.T) {
	s := open(t)
	kept := addN(t, s, "kept", "kept", AddOptions{})
	s.Close()

	dead := "4242-deadbeef0000"
	deadTmp := filepath.Join(s.tmp, dead)
	os.MkdirAll(filepath.Join(deadTmp, "stage-1", "sub"), 0o755)
	half := storeName(HashBytes([]byte("half")), "half")
	os.WriteFile(s.entryPath(half), []byte("half"), 0o444)
	for _, n := range []string{half, kept.Name} {
		os.WriteFile(filepath.Join(deadTmp, "intent-"+n), nil, 0o600)
	}
	os.Chmod(filepath.Join(deadTmp, "stage-1", "sub"), 0o555)
	deadRoot := filepath.Join(s.roots, tempRoots, dead)
	os.WriteFile(deadRoot, []byte(kept.Name+"\n"), 0o644)

	s2, err := Open(s.Home())
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := os.Lstat(s.entryPath(half)); !os.IsNotExist(err) {
		t.Errorf("unregistered entry of a dead add survived Open: %v", err)
	}
	if _, err := s2.Get(kept.Name); err != nil {
		t.Errorf("registered entry removed: %v", err)
	}
	if _, err := os.Lstat(deadTmp); !os.IsNotExist(err) {
		t.Errorf("dead staging directory survived: %v", err)
	}
	if _, err := os.Lstat(deadRoot); !os.IsNotExist(err) {
		t.Errorf("dead temporary root survived: %v", err)
	}
	if rep, err := s2.Verify(nil, false); err != nil || !rep.OK() {
		t.Errorf("verify: %+v %v", rep, err)
	}
	if strings.Contains(s2.id, dead) {
		t.Fatal("new handle reused a dead id")
	}
}
