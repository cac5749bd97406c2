package main

import (
	"io"
	"os"

	"github.com/silo-dev/silo/vm/agent"
	"github.com/silo-dev/silo/vm/guestinit"
)

// maybeRunAsInit runs the VM guest init when silo is PID 1 of a VM's
// initfs (it finds the initfs marker at /), and reports whether it did.
// It does not return in that case: the init powers the VM off.
func maybeRunAsInit() bool {
	if os.Getpid() != 1 {
		return false
	}
	if _, err := os.Stat(guestinit.Marker); err != nil {
		return false
	}
	guestinit.Main(serveAgent)
	return true
}

// serveAgent hands the VM's agent port to the guest agent.
func serveAgent(conn io.ReadWriteCloser, lower, workspace, scratch string) error {
	return agent.Serve(conn, agent.Layout{Lower: lower, Workspace: workspace, Scratch: scratch})
}
