// Package agentbin finds the binary that serves as silo's sandbox agent.
//
// The agent is PID 1 of every sandbox: the namespace backend runs it under
// bubblewrap, the VM backends put it in the initfs as the guest's init.
// Any silo binary can be it, but `make build` (and `go install ./cmd/...`)
// also builds silo-agent, a static binary holding only the agent: a fifth
// of silo's size, so it starts sooner in a namespace and, in a VM, makes
// the initfs smaller and the init start sooner (about 150 ms of a 2.2 s
// run under TCG). Every backend takes the same one.
package agentbin

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
)

// Env names the agent binary to use instead of looking. The command line
// reads it (kong's env tag) and passes it to Find.
const Env = "SILO_AGENT"

// Find returns the agent binary: explicit when set ($SILO_AGENT, read by
// the command line), else silo-agent beside the running binary when it is
// there and static (a VM's initfs has no dynamic loader, and a namespace
// would need the host's), else the running binary itself.
func Find(explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find silo's own binary for the agent: %w", err)
	}
	lean := filepath.Join(filepath.Dir(self), "silo-agent")
	if st, err := os.Stat(lean); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 && isStatic(lean) {
		return lean, nil
	}
	return self, nil
}

// isStatic reports whether the ELF binary at p needs no dynamic loader.
func isStatic(p string) bool {
	f, err := elf.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}
