package sandbox

import (
	"context"
	"fmt"

	"github.com/silo-dev/silo/lock"
)

// Run runs the sandbox and returns the command's exit status: its own
// code, or 128+N when signal N ended it. err is non-nil only when the
// sandbox itself failed.
//
// Run always records the workspace, so that a silo.toml the sandbox
// leaves beneath it needs the user's trust before silo obeys it. No
// caller can skip it. The agent's workspace filter guards the protected
// names while the command runs; nothing is made in the workspace.
func (s *Sandbox) Run(ctx context.Context) (int, error) {
	if err := lock.NoteWorkspace(s.home, s.Spec.Workspace); err != nil {
		return -1, err
	}
	code, err := s.backend.Run(ctx, s.Spec)
	if err != nil {
		return code, fmt.Errorf("%s sandbox: %w", s.backend.Name(), err)
	}
	return code, nil
}
