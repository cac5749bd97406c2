package main

import (
	"fmt"
	"net"
	"os"

	"github.com/silo-dev/silo/vm/agent"
)

// AgentCmd runs silo as the guest agent of a namespace sandbox: PID 1
// inside bwrap, talking to the host over an inherited socket.
type AgentCmd struct {
	Fd        int    `help:"The inherited socket to the host." default:"3"`
	Lower     string `help:"The read-only rootfs, already mounted." required:""`
	Workspace string `help:"The host workspace, already mounted read-write." required:""`
	Scratch   string `help:"Writable, empty scratch space." required:""`
	Mounts    string `help:"Where the backend shared the host directories (caches)."`
	// SharedKernel is set by the namespace backend: no sync at the end.
	SharedKernel bool `name:"shared-kernel" help:"The sandbox shares the host's kernel: do not sync at the end."`
	// MaxProcs is set by the namespace backend where no cgroup bounds
	// the sandbox.
	MaxProcs int `name:"max-procs" help:"RLIMIT_NPROC for the command (0: none)."`
}

// Run serves one sandbox and exits.
func (c *AgentCmd) Run() error {
	f := os.NewFile(uintptr(c.Fd), "host")
	if f == nil {
		return fmt.Errorf("agent: fd %d is not open", c.Fd)
	}
	conn, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("agent: fd %d is not a socket: %w", c.Fd, err)
	}
	return agent.Serve(conn, agent.Layout{Lower: c.Lower, Workspace: c.Workspace, Scratch: c.Scratch, SharedKernel: c.SharedKernel, Mounts: c.Mounts, MaxProcs: c.MaxProcs})
}
