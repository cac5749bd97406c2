package sandbox

import (
	"context"
	"fmt"

	"github.com/silo-dev/silo/internal/home"
	"github.com/silo-dev/silo/lock"
	"github.com/silo-dev/silo/vm"
)

// Run runs the sandbox and returns the command's exit status: its own
// code, or 128+N when signal N ended it. err is non-nil only when the
// sandbox itself failed.
//
// Run always guards the workspace: it records the workspace (so that a
// silo.toml the sandbox leaves beneath it needs the user's trust before
// silo obeys it), and has the workspace guard pin the protected paths'
// parents while the sandbox boots; what the guard made is removed once
// the backend has torn the sandbox down. No caller can skip it.
func (s *Sandbox) Run(ctx context.Context) (int, error) {
	if err := lock.NoteWorkspace(s.home, s.Spec.Workspace); err != nil {
		return -1, err
	}
	var release func()
	defer func() {
		if release != nil {
			release()
		}
	}()
	runDir := home.Dir(s.home).Run()
	s.Spec.Prepare = func(sp *vm.Spec) error {
		guarded, rel, err := vm.GuardWorkspace(runDir, sp.Workspace, sp.Protected, sp.Exclude)
		if err != nil {
			return err
		}
		release, sp.Protected = rel, guarded
		return nil
	}
	code, err := s.backend.Run(ctx, s.Spec)
	if err != nil {
		return code, fmt.Errorf("%s sandbox: %w", s.backend.Name(), err)
	}
	return code, nil
}
