package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/silo-dev/silo/derive"
	"github.com/silo-dev/silo/lock"
	"github.com/silo-dev/silo/sandbox"
	"github.com/silo-dev/silo/vm"
	_ "github.com/silo-dev/silo/vm/namespace" // registers the namespace backend
	_ "github.com/silo-dev/silo/vm/qemu"      // registers the qemu backend
	_ "github.com/silo-dev/silo/vm/vz"        // registers the vz backend (macOS only)
)

// sandboxFlags are the flags silo run, silo exec and silo shell share.
type sandboxFlags struct {
	Image    string `help:"Run in this image instead of a configured tool's: a reference, or oci-layout:DIR. The project's silo.toml settings (passEnv, passFiles, mount) still apply." placeholder:"REF"`
	Timing   bool   `help:"Print the backend and how long each phase took, on stderr."`
	SSHAgent bool   `name:"ssh-agent" help:"Offer the host's SSH agent to this run, as passSshAgent does to every run."`
}

// RunCmd runs a tool's main command, or one of its shims, in its sandbox.
type RunCmd struct {
	sandboxFlags
	NoTTY   bool     `name:"no-tty" help:"Do not give the command a terminal even when silo has one."`
	Shim    string   `help:"Run this shim of the tool (silo run node --shim npm install)." placeholder:"NAME"`
	Command []string `arg:"" optional:"" passthrough:"" help:"TOOL and the arguments of its main command; a first word that is one of the tool's shims runs that shim. silo's own flags may follow TOOL when a -- ends them (silo run python --timing -- x.py)." placeholder:"TOOL ARGS"`

	shorthand bool // reached as silo TOOL ARGS, not silo run
}

// Help is silo run's example.
func (c *RunCmd) Help() string {
	return `Examples:
  silo run python script.py       # python script.py, in python's sandbox
  silo run node npm install       # npm is one of node's shims: npm install
  silo run python --timing -- -c 'print(1)'
  silo run --image alpine:3 echo hi   # an image's entrypoint with these arguments
Shorthand: silo python script.py, silo npm test.`
}

// Run runs the command and exits with its status.
func (c *RunCmd) Run(g *Globals) error {
	if err := c.splitFlags(); err != nil {
		return err
	}
	tty := !c.NoTTY && isTerminal(os.Stdin) && isTerminal(os.Stdout)
	return runSandbox(g, c.sandboxFlags, c.Command, runMode{TTY: tty, Shim: c.Shim, Shorthand: c.shorthand})
}

// splitFlags takes silo's own flags from between the tool and a "--"
// (silo run python --timing -- x.py), and --shim NAME right after the
// tool, out of the command.
func (c *RunCmd) splitFlags() error {
	args := c.Command
	if c.Image != "" || len(args) < 2 {
		return nil
	}
	if args[0] == "--" {
		args = args[1:]
	}
	rest, end := args[1:], -1
	for i, a := range rest {
		if a == "--" {
			end = i
			break
		}
	}
	var mine []string
	if end > 0 && isRunFlag(rest[0]) {
		mine, rest = rest[:end], rest[end+1:]
	} else {
		for len(rest) > 0 && (rest[0] == "--shim" || strings.HasPrefix(rest[0], "--shim=")) {
			n := 1
			if rest[0] == "--shim" {
				n = 2
			}
			n = min(n, len(rest))
			mine, rest = append(mine, rest[:n]...), rest[n:]
		}
	}
	for i := 0; i < len(mine); i++ {
		switch a := mine[i]; {
		case a == "--timing":
			c.Timing = true
		case a == "--no-tty":
			c.NoTTY = true
		case a == "--ssh-agent":
			c.SSHAgent = true
		case a == "--shim" && i+1 < len(mine):
			c.Shim, i = mine[i+1], i+1
		case strings.HasPrefix(a, "--shim="):
			c.Shim = strings.TrimPrefix(a, "--shim=")
		default:
			return usageErrorf("%q between the tool and -- is not one of silo run's flags (--timing, --no-tty, --ssh-agent, --shim NAME): put the command's own arguments after the --", a)
		}
	}
	c.Command = append([]string{args[0]}, rest...)
	return nil
}

// isRunFlag reports whether word is one of silo run's flags.
func isRunFlag(word string) bool {
	switch word {
	case "--timing", "--no-tty", "--ssh-agent", "--shim":
		return true
	}
	return strings.HasPrefix(word, "--shim=")
}

// ExecCmd runs any command in a tool's sandbox.
type ExecCmd struct {
	sandboxFlags
	NoTTY   bool     `name:"no-tty" help:"Do not give the command a terminal even when silo has one."`
	Command []string `arg:"" optional:"" passthrough:"" help:"TOOL and the command to run in its sandbox (with --image: just the command, default the image's)." placeholder:"TOOL CMD"`
}

// Help is silo exec's example.
func (c *ExecCmd) Help() string {
	return `Examples:
  silo exec python ls -la /workspace    # any command, in python's sandbox
  silo exec node -- sh -c 'npm ci && npm test'
  silo exec --image busybox:1.36 uname -a`
}

// Run runs the command and exits with its status.
func (c *ExecCmd) Run(g *Globals) error {
	tty := !c.NoTTY && isTerminal(os.Stdin) && isTerminal(os.Stdout)
	return runSandbox(g, c.sandboxFlags, c.Command, runMode{TTY: tty, Exec: true})
}

// ShellCmd opens an interactive shell in a tool's sandbox.
type ShellCmd struct {
	sandboxFlags
	Command []string `arg:"" optional:"" passthrough:"" help:"TOOL, and a shell to run instead of sh (with --image: just the shell)." placeholder:"TOOL [SHELL]"`
}

// Help is silo shell's example.
func (c *ShellCmd) Help() string {
	return "Examples:\n  silo shell python\n  silo shell node bash"
}

// Run runs the shell and exits with its status.
func (c *ShellCmd) Run(g *Globals) error {
	return runSandbox(g, c.sandboxFlags, c.Command, runMode{TTY: isTerminal(os.Stdin), Shell: true})
}

// runMode is how a command line's words become the sandbox's command.
type runMode struct {
	TTY, Shell, Exec bool
	Shim             string
	Shorthand        bool         // silo TOOL ARGS: an unknown tool is an unknown command
	Config           *lock.Config // already loaded (a shim), or nil
	// Ctx ends the run when done (nil: never); Adjust, when set, changes
	// the plan before the sandbox is prepared; Role says what the run is
	// for in silo status. silo lsp sets all three.
	Ctx    context.Context
	Adjust func(*sandbox.Plan) error
	Role   string
}

// runSandbox is silo run, exec and shell, and every shim: fill the
// request from the command line and the environment, and hand it to the
// sandbox package; print the timing and turn the command's status into
// silo's.
func runSandbox(g *Globals, f sandboxFlags, args []string, m runMode) error {
	start := time.Now()
	timing := &vm.Timing{}
	req, err := g.request(f, args, m)
	if err != nil {
		return err
	}
	cfg := m.Config
	if cfg == nil {
		if cfg, err = loadConfig(g.home, lock.Options{Home: g.home, Dir: req.Dir, UserHome: req.UserHome, Notes: g.notes()}); err != nil {
			return err
		}
	}
	if err := resolveTool(cfg, &req, m.Shorthand); err != nil {
		return err
	}
	plan, err := sandbox.NewPlan(cfg, req)
	if err != nil {
		return err
	}
	if m.Adjust != nil {
		if err := m.Adjust(plan); err != nil {
			return err
		}
	}
	ctx := m.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	t := timing.Mark("config", start)
	reg := g.backends()
	backend, reason, err := reg.Select(g.Backend)
	if err != nil {
		return err
	}
	noteFallback(g, reg, backend, reason, os.Stderr)
	st, err := g.OpenStore()
	if err != nil {
		return err
	}
	defer st.Close()
	if err := applyLock(g, cfg, st, backend, plan, req); err != nil {
		return err
	}
	rec := newRunRecord(g, plan, backend.Name())
	rec.rec.Role = m.Role
	sb, err := plan.Prepare(ctx, st, backend, sandbox.Options{Home: g.home, Agent: g.agent,
		Rootfs: derive.RootfsOptions{OCI: g.pullOptions(nil), Progress: g.steps().progress()}, Events: rec.event})
	if err != nil {
		return err
	}
	defer sb.Close()
	keepInstalled(g, st, plan, sb.Spec)
	sb.Spec.Timing = timing
	timing.Mark("store lookup", t)
	code, err := rec.run(ctx, sb, cfg.Cache())
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

// request is the sandbox request of a command line: TOOL ARGS…, or with
// --image just the command.
func (g *Globals) request(f sandboxFlags, args []string, m runMode) (sandbox.Request, error) {
	wd, err := os.Getwd()
	if err != nil {
		return sandbox.Request{}, fmt.Errorf("find the working directory: %w", err)
	}
	userHome, _ := os.UserHomeDir()
	req := sandbox.Request{
		Image: f.Image, Shell: m.Shell, Exec: m.Exec, Shim: m.Shim, TTY: m.TTY, Dir: wd, UserHome: userHome,
		HostEnv: os.LookupEnv, SSHAgent: f.SSHAgent, SSHAuthSock: os.Getenv("SSH_AUTH_SOCK"),
		HostCABundle: hostCABundle(),
		Stdin:        os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
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

// hostCABundles are where hosts keep their CA bundle: Debian and Ubuntu,
// Fedora and RHEL, openSUSE, Alpine and macOS.
var hostCABundles = []string{
	"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/ca-bundle.pem", "/etc/ssl/cert.pem",
}

// hostCABundle is the host's CA bundle: $SSL_CERT_FILE when it names a
// file, else the first of the usual places that exists, else "".
func hostCABundle() string {
	if f := os.Getenv("SSL_CERT_FILE"); f != "" {
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
			return f
		}
	}
	for _, f := range hostCABundles {
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
			return f
		}
	}
	return ""
}
