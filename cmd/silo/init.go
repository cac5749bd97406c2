package main

import (
	"io"
	"os"

	"github.com/silo-dev/silo/vm/guestinit"
)

// maybeRunAsInit runs the VM guest init when silo is PID 1 of a VM's
// initfs (it finds the initfs marker at /), and reports whether it did.
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

// serveAgent is a placeholder until the agent is wired: it echoes.
func serveAgent(conn io.ReadWriteCloser, lower, workspace, scratch string) error {
	_, err := io.Copy(conn, conn)
	return err
}
