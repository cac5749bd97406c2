package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/silo-dev/silo/lock"
	"github.com/silo-dev/silo/vm"
	_ "github.com/silo-dev/silo/vm/namespace" // registers the namespace backend
	"github.com/silo-dev/silo/vm/netproxy"
	_ "github.com/silo-dev/silo/vm/vz" // registers the vz backend (macOS only)
)

// sandboxFlags are the flags silo run and silo shell share.
type sandboxFlags struct {
	Backend string `help:"Sandbox backend: namespace, qemu, vz or auto (default: SILO_BACKEND, else auto)." placeholder:"NAME"`
	Image   string `help:"Run in this image instead of a configured tool's: a reference, or oci-layout:DIR." placeholder:"REF"`
	Timing  bool   `help:"Print the backend and how long each phase took, on stderr."`
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

// runSandbox is silo run and silo shell: load the configuration, pick the
// backend, find the rootfs, compose the spec, run it, report its status.
func runSandbox(g *Globals, f sandboxFlags, args []string, tty, shell bool) error {
	start := time.Now()
	timing := &vm.Timing{}
	home, err := g.HomeDir()
	if err != nil {
		return err
	}
	p, err := planRun(home, f, args, shell)
	if err != nil {
		return err
	}
	p.quiet = g.Quiet
	t := timing.Mark("config", start)
	backend, reason, err := vm.Select(f.Backend)
	if err != nil {
		return err
	}
	spec, err := p.spec(tty)
	if err != nil {
		return err
	}
	spec.Timing = timing
	if spec.Proxy != nil {
		defer spec.Proxy.(io.Closer).Close()
	}
	rfs, err := resolveRootfs(context.Background(), home, p.image, backend.Name(), spec)
	if err != nil {
		return err
	}
	defer rfs.close()
	if err := p.finish(spec, rfs); err != nil {
		return err
	}
	timing.Mark("store lookup", t)
	release, err := guardWorkspace(home, spec)
	if err != nil {
		return err
	}
	defer release()
	code, err := backend.Run(context.Background(), spec)
	if f.Timing {
		printTiming(os.Stderr, backend, reason, timing, start)
	}
	if err != nil {
		return fmt.Errorf("%s sandbox: %w", backend.Name(), err)
	}
	if code != 0 {
		return &ExitError{Code: code}
	}
	return nil
}

// guardWorkspace readies spec's workspace for a sandbox. It records the
// workspace: from now on a silo.toml the sandbox leaves beneath it needs
// the user's trust before silo obeys it. And it has the workspace guard's
// placeholders made while the sandbox boots (Attach runs Prepare before
// it sends the spec); release removes them once the backend has torn the
// sandbox down.
func guardWorkspace(home string, spec *vm.Spec) (release func(), err error) {
	if err := lock.NoteWorkspace(home, spec.Workspace); err != nil {
		return nil, err
	}
	var rel func()
	spec.Prepare = func(s *vm.Spec) error {
		guarded, r, err := vm.GuardWorkspace(filepath.Join(home, "run"), s.Workspace, s.Protected, s.Exclude)
		if err != nil {
			return err
		}
		rel, s.Protected = r, guarded
		return nil
	}
	return func() {
		if rel != nil {
			rel()
		}
	}, nil
}

// runPlan is what one run needs from the configuration and the command
// line.
type runPlan struct {
	image     string
	tool      *lock.Tool // nil with --image
	workspace string
	cwd       string // relative to workspace
	argv      []string
	userHome  string
	env       vm.EnvOptions
	quiet     bool // no warnings
}

// planRun loads the configuration for the working directory and decides
// the image, the workspace and the command.
func planRun(home string, f sandboxFlags, args []string, shell bool) (*runPlan, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("find the working directory: %w", err)
	}
	userHome, _ := os.UserHomeDir()
	cfg, err := loadConfig(home, lock.Options{Home: home, Dir: wd, UserHome: userHome, Notes: os.Stderr})
	if err != nil {
		return nil, err
	}
	p := &runPlan{image: f.Image, workspace: cfg.Workspace(), userHome: userHome}
	if err := checkWorkspace(p.workspace, userHome); err != nil {
		return nil, err
	}
	args = dropDashes(args)
	if f.Image == "" {
		if len(args) == 0 {
			return nil, fmt.Errorf("name a tool to run: one of %s (or use --image REF)", strings.Join(cfg.ToolNames(), ", "))
		}
		if p.tool, err = cfg.Tool(args[0]); err != nil {
			return nil, err
		}
		p.image, args = p.tool.Image, dropDashes(args[1:])
	}
	p.argv = commandLine(p.tool, args, shell)
	if p.cwd, err = relativeCwd(p.workspace, wd); err != nil {
		return nil, err
	}
	return p, nil
}

// dropDashes drops one leading "--", which users type to separate silo's
// flags from the command's (silo run node -- npm install): it is not part
// of the command.
func dropDashes(args []string) []string {
	if len(args) > 0 && args[0] == "--" {
		return args[1:]
	}
	return args
}

// checkWorkspace refuses a workspace that would show the sandbox the
// user's whole home (its ~/.ssh, its shell rc files) or the whole system:
// the home directory itself, or one of its ancestors.
func checkWorkspace(ws, userHome string) error {
	real := func(p string) string {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return r
		}
		return filepath.Clean(p)
	}
	w := real(ws)
	if w == "/" {
		return errors.New("the workspace would be / (the whole system): run silo from a project directory")
	}
	if userHome == "" {
		return nil
	}
	if rel, err := filepath.Rel(w, real(userHome)); err == nil && (rel == "." || !strings.HasPrefix(rel, "..")) {
		return fmt.Errorf("the workspace would be %s, which holds your home directory (~/.ssh and all): run silo from a project directory, or create a silo.toml there", ws)
	}
	return nil
}

// commandLine is the guest argv: the given one, else the tool's default
// command (a shell for silo shell).
func commandLine(tool *lock.Tool, args []string, shell bool) []string {
	switch {
	case len(args) > 0:
		return args
	case shell:
		return []string{"/bin/sh"}
	case tool != nil && len(tool.Shims) > 0:
		return []string{tool.Shims[0].Command}
	case tool != nil:
		return []string{tool.Name}
	}
	return nil
}

// relativeCwd is wd relative to the workspace.
func relativeCwd(workspace, wd string) (string, error) {
	ws, err := filepath.EvalSymlinks(workspace)
	if err != nil {
		return "", fmt.Errorf("workspace %s: %w", workspace, err)
	}
	real, err := filepath.EvalSymlinks(wd)
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	rel, err := filepath.Rel(ws, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("working directory %s is outside the workspace %s", wd, workspace)
	}
	return filepath.ToSlash(rel), nil
}

// spec composes the sandbox spec, all but the rootfs.
func (p *runPlan) spec(tty bool) (*vm.Spec, error) {
	s := &vm.Spec{
		Workspace: p.workspace, Cwd: p.cwd, Argv: p.argv, TTY: tty,
		Protected: vm.DefaultProtected(p.workspace),
		Stdin:     os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
	}
	if t := p.tool; t != nil {
		p.env.Tool, p.env.Pass = t.Env, t.PassEnv
		s.Exclude = t.Exclude
		s.WorkspaceReadOnly = t.MountMode == "ro"
		s.Workdir = t.Workdir
		s.Network = t.Network
		s.CPUs, s.MemoryMB, s.RootfsSizeMB = t.CPUs, t.MemoryMB, t.RootfsSizeMB
		for _, pt := range t.Ports {
			s.Ports = append(s.Ports, vm.Port{Host: pt.Host, Guest: pt.Guest})
		}
		for _, c := range t.Caches {
			if err := os.MkdirAll(c.Host, 0o700); err != nil {
				return nil, fmt.Errorf("cache %s of tool %s: %w", c.Guest, t.Name, err)
			}
			s.Mounts = append(s.Mounts, vm.Mount{Host: c.Host, Guest: c.Guest})
		}
		for _, f := range t.PassFiles {
			s.PassFiles = append(s.PassFiles, vm.PassFile{Host: f, Guest: p.guestPath(f)})
		}
		if err := attachProxy(s, t); err != nil {
			return nil, err
		}
		s.SSHAgent = p.sshAgent(t)
	}
	return s, nil
}

// sshAgent returns the host SSH agent socket to offer the sandbox: the
// user's $SSH_AUTH_SOCK when the tool has passSshAgent, else "".
func (p *runPlan) sshAgent(t *lock.Tool) string {
	if !t.PassSSHAgent {
		return ""
	}
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" && !p.quiet {
		fmt.Fprintf(os.Stderr, "silo: passSshAgent is set (%s), but no SSH agent runs here (SSH_AUTH_SOCK is unset): the sandbox gets none\n", t.Origins["passSshAgent"])
	}
	return sock
}

// guestPath is where a pass file shows inside: a project file (a .netrc
// in the project) in the guest's home, a file under the user's home at the
// same place under the guest's, anything else at its own path.
func (p *runPlan) guestPath(host string) string {
	if rel, err := filepath.Rel(p.workspace, host); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(filepath.Join(vm.GuestHome, rel))
	}
	return vm.GuestPath(host, p.userHome)
}

// attachProxy gives the sandbox a host-side policy proxy when the tool's
// network policy lets anything through.
func attachProxy(s *vm.Spec, t *lock.Tool) error {
	pol := t.Network
	if !pol.Enabled(false) {
		return nil
	}
	if err := pol.Validate(); err != nil {
		return fmt.Errorf("tool %s: %w", t.Name, err)
	}
	s.Proxy = netproxy.New(pol, netproxy.WithTool(t.Name))
	return nil
}

// finish completes the spec from the image: its environment under the
// tool's, its entrypoint and command when none was given; and applies
// $SILO_BOOT_TIMEOUT.
func (p *runPlan) finish(spec *vm.Spec, rfs *rootfs) error {
	p.env.Image = rfs.env
	spec.Env = vm.ComposeEnv(p.env)
	if len(spec.Argv) == 0 {
		spec.Argv = rfs.cmd
	}
	if len(spec.Argv) == 0 {
		return fmt.Errorf("no command to run, and image %s has none: give one after the image", p.image)
	}
	return sandboxTimeouts(spec)
}

// sandboxTimeouts applies $SILO_BOOT_TIMEOUT (a Go duration) to spec.
func sandboxTimeouts(spec *vm.Spec) error {
	v := os.Getenv("SILO_BOOT_TIMEOUT")
	if v == "" {
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return fmt.Errorf("SILO_BOOT_TIMEOUT=%q: give a duration such as 30s", v)
	}
	spec.BootTimeout = d
	return nil
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
