//go:build linux

package guestinit

import "testing"

// TestLayout checks what a VM's init hands the agent: its own kernel (the
// agent syncs and builds /proc and /dev) and the shared directories'
// place, always set so that a cache the VM lacks fails instead of being
// dropped.
func TestLayout(t *testing.T) {
	l := layout()
	if l.SharedKernel {
		t.Error("a VM's layout says the kernel is shared")
	}
	if l.Mounts != MountsDir || l.Lower != LowerDir || l.Workspace != WorkspaceDir || l.Scratch != ScratchDir {
		t.Errorf("layout %+v", l)
	}
}
