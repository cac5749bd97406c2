package main

import (
	"context"

	"github.com/silo-dev/silo/sandbox"
	"github.com/silo-dev/silo/vm"
)

// runRecorded runs the prepared sandbox.
func runRecorded(_ *Globals, sb *sandbox.Sandbox, _ *sandbox.Plan, _ vm.Backend) (int, error) {
	return sb.Run(context.Background())
}
