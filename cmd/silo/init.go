package main

import (
	"os"

	"github.com/silo-dev/silo/vm/agent"
	"github.com/silo-dev/silo/vm/guestinit"
)

// maybeRunAsInit runs the VM guest init when silo is PID 1 of a VM's
// initfs (it finds the initfs marker at /), and reports whether it did.
// It does not return in that case: the init powers the VM off, once the
// agent has served the VM's command over the layout the init mounted.
func maybeRunAsInit() bool {
	if os.Getpid() != 1 {
		return false
	}
	if _, err := os.Stat(guestinit.Marker); err != nil {
		return false
	}
	guestinit.Main(agent.Serve)
	return true
}
