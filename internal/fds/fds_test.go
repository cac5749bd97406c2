package fds

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestCloseOnExec leaves an inheritable descriptor open, as a parent
// process may, and checks that after CloseOnExec a child no longer gets
// it while an ExtraFiles descriptor still arrives.
func TestCloseOnExec(t *testing.T) {
	// syscall.Open, unlike os.Open, leaves the descriptor inheritable.
	dir, err := syscall.Open(t.TempDir(), syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(dir)
	if err := CloseOnExec(3); err != nil {
		t.Fatal(err)
	}
	passed, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer passed.Close()
	cmd := exec.Command("/bin/sh", "-c", "ls /proc/$$/fd")
	cmd.ExtraFiles = []*os.File{passed} // descriptor 3 in the child
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	fds := strings.Fields(string(out))
	if dir != 3 && slices.Contains(fds, strconv.Itoa(dir)) {
		t.Errorf("the child inherited descriptor %d: %v", dir, fds)
	}
	if !slices.Contains(fds, "3") {
		t.Errorf("the ExtraFiles descriptor did not arrive as 3: %v", fds)
	}
}
