// Command silo-agent is the guest agent alone, as "silo __agent" runs it:
// a small static binary that starts in a fraction of silo's time, because
// it links none of silo's image, store and CLI packages. When it sits
// beside the silo binary (make build puts it there), the namespace backend
// runs it as the sandbox's PID 1 and the VM backends put it in the initfs
// as the guest's init; otherwise silo serves itself (see internal/agentbin).
package main

import (
	"flag"
	"fmt"
	"net"
	"os"

	"github.com/silo-dev/silo/vm/agent"
	"github.com/silo-dev/silo/vm/guestinit"
)

func main() {
	if os.Getpid() == 1 {
		if _, err := os.Stat(guestinit.Marker); err == nil {
			guestinit.Main(agent.Serve) // a VM's init: it powers the VM off
		}
	}
	if len(os.Args) < 2 || os.Args[1] != "__agent" {
		fmt.Fprintln(os.Stderr, "usage: silo-agent __agent --fd N --lower DIR --workspace DIR --scratch DIR")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("__agent", flag.ExitOnError)
	fd := fs.Int("fd", 3, "the inherited socket to the host")
	var l agent.Layout
	fs.StringVar(&l.Lower, "lower", "", "the read-only rootfs")
	fs.StringVar(&l.Workspace, "workspace", "", "the host workspace")
	fs.StringVar(&l.Scratch, "scratch", "", "scratch space")
	fs.StringVar(&l.Mounts, "mounts", "", "where the host directories are shared")
	fs.BoolVar(&l.SharedKernel, "shared-kernel", false, "do not sync at the end")
	fs.IntVar(&l.MaxProcs, "max-procs", 0, "RLIMIT_NPROC for the command (0: none)")
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
