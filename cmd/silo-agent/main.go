// Command testagent is the guest agent as "silo __agent" runs it, for the
// namespace backend's own tests: a static binary without the rest of silo.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"

	"github.com/silo-dev/silo/vm/agent"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] != "__agent" {
		fmt.Fprintln(os.Stderr, "usage: testagent __agent --fd N --lower DIR --workspace DIR --scratch DIR")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("__agent", flag.ExitOnError)
	fd := fs.Int("fd", 3, "the inherited socket to the host")
	var l agent.Layout
	fs.StringVar(&l.Lower, "lower", "", "the read-only rootfs")
	fs.StringVar(&l.Workspace, "workspace", "", "the host workspace")
	fs.StringVar(&l.Scratch, "scratch", "", "scratch space")
	_ = fs.Parse(os.Args[2:])
	f := os.NewFile(uintptr(*fd), "host")
	conn, err := net.FileConn(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "agent:", err)
		os.Exit(1)
	}
	f.Close()
	if err := agent.Serve(conn, l); err != nil {
		fmt.Fprintln(os.Stderr, "agent:", err)
		os.Exit(1)
	}
}
