package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/silo-dev/silo/lock"
	"github.com/silo-dev/silo/sandbox"
	"github.com/silo-dev/silo/vm"
	_ "github.com/silo-dev/silo/vm/namespace" // registers the namespace backend
	_ "github.com/silo-dev/silo/vm/qemu"      // registers the qemu backend
	_ "github.com/silo-dev/silo/vm/vz"        // registers the vz backend (macOS only)
)

// sandboxFlags are the flags silo run and silo shell share.
type sandboxFlags struct {
	Image  string `help:"Run in this image instead of a configured tool's: a reference, or oci-layout:DIR." placeholder:"REF"`
	Timing bool   `help:"Print the backend and how long each phase took, on stderr."`
}

// RunCmd runs a command in a tool's sandbox.
type RunCmd struct {
	sandboxFlags
	NoTTY   bool     `name:"no-tty" help:"Do not give the command a terminal even when silo has one."`
	Command []string `arg:"" optional:"" passthrough:"" help:"TOOL and the command to run in its sandbox (with --image: just the command, default the image's)." placeholder:"TOOL ARGS"`
}

// Run runs the command and exits with its status.
func (c *RunCmd) Run(g *Globals) error {
	tty := !c.NoTTY && isTerminal(os.Stdin) && isTerminal(os.Stdout)
	return runSandbox(g, c.sandboxFlags, c.Command, tty, false)
}

// ShellCmd opens an interactive shell in a tool's sandbox.
type ShellCmd struct {
	sandboxFlags
	Command []string `arg:"" optional:"" passthrough:"" help:"TOOL, and a shell to run instead of sh (with --image: just the shell)." placeholder:"TOOL [SHELL]"`
}

// Run runs the shell and exits with its status.
func (c *ShellCmd) Run(g *Globals) error {
	return runSandbox(g, c.sandboxFlags, c.Command, isTerminal(os.Stdin), true)
}

// runSandbox is silo run and silo shell: fill the request from the command
// line and the environment, and hand it to the sandbox package; print the
// timing and turn the command's status into silo's.
func runSandbox(g *Globals, f sandboxFlags, args []string, tty, shell bool) error {
	start := time.Now()
	timing := &vm.Timing{}
	req, err := g.request(f, args, tty, shell)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(g.home, lock.Options{Home: g.home, Dir: req.Dir, UserHome: req.UserHome, Notes: os.Stderr})
	if err != nil {
		return err
	}
	plan, err := sandbox.NewPlan(cfg, req)
	if err != nil {
		return err
	}
	t := timing.Mark("config", start)
	backend, reason, err := g.backends().Select(g.Backend)
	if err != nil {
		return err
	}
	st, err := g.OpenStore()
	if err != nil {
		return err
	}
	defer st.Close()
	sb, err := plan.Prepare(context.Background(), st, backend, sandbox.Options{Home: g.home, Agent: g.agent})
	if err != nil {
		return err
	}
	defer sb.Close()
	sb.Spec.Timing = timing
	timing.Mark("store lookup", t)
	code, err := sb.Run(context.Background())
	if f.Timing {
		printTiming(os.Stderr, backend, reason, timing, start)
	}
	if err != nil {
		return err
	}
	if code != 0 {
		return &ExitError{Code: code}
	}
	return nil
}

// request is the sandbox request of a silo run or silo shell command line:
// TOOL ARGS…, or with --image just the command.
func (g *Globals) request(f sandboxFlags, args []string, tty, shell bool) (sandbox.Request, error) {
	wd, err := os.Getwd()
	if err != nil {
		return sandbox.Request{}, fmt.Errorf("find the working directory: %w", err)
	}
	userHome, _ := os.UserHomeDir()
	req := sandbox.Request{
		Image: f.Image, Shell: shell, TTY: tty, Dir: wd, UserHome: userHome,
		HostEnv: os.LookupEnv, SSHAuthSock: os.Getenv("SSH_AUTH_SOCK"),
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		BootTimeout: g.BootTimeout,
	}
	if !g.Quiet {
		req.Warn = os.Stderr
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if f.Image == "" && len(args) > 0 {
		req.Tool, args = args[0], args[1:]
	}
	req.Args = args
	return req, nil
}

// printTiming writes the backend, why it was chosen, and the phases.
func printTiming(w io.Writer, b vm.Backend, reason string, t *vm.Timing, start time.Time) {
	fmt.Fprintf(w, "silo: backend %s, %s\n", b.Name(), reason)
	if d, ok := b.(vm.Describer); ok {
		fmt.Fprintf(w, "silo: isolation: %s\n", d.Isolation())
	}
	for _, p := range t.Phases {
		fmt.Fprintf(w, "silo:   %-13s %8.2f ms\n", p.Name, float64(p.Duration.Microseconds())/1000)
	}
	fmt.Fprintf(w, "silo:   %-13s %8.2f ms\n", "total", float64(time.Since(start).Microseconds())/1000)
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
