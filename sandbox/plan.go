package sandbox

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/silo-dev/silo/derive"
	"github.com/silo-dev/silo/lock"
	"github.com/silo-dev/silo/vm"
	"github.com/silo-dev/silo/vm/netproxy"
)

// Request is what a caller asks to run: a configured tool or an image, a
// command, and the host side of the run. Everything the host environment
// contributes is in it: the package reads no environment variable.
type Request struct {
	// Tool is the configured tool to run; "" with Image.
	Tool string
	// Image runs this image instead of the tool's (--image): a reference,
	// or oci-layout:DIR, docker-archive:FILE, oci-archive:FILE.
	Image string
	// Args is the command; empty means the tool's default command (a
	// shell with Shell), else the image's entrypoint and command.
	Args []string
	// Exec makes Args the whole command (silo exec). Otherwise Args are
	// the arguments of the tool's main command (silo run, a shim): of the
	// shim Shim names, else of the shim Args[0] names, else of the tool's
	// first shim, else of the image's entrypoint (as docker run does).
	Exec bool
	// Shim is the shim of the tool to run with Args (silo run --shim, a
	// shim on PATH); "" lets Args[0] or the first shim decide.
	Shim string
	// Shell asks for an interactive shell when Args is empty.
	Shell bool
	// TTY gives the command a pseudo-terminal.
	TTY bool
	// Dir is the host working directory the run starts in (absolute).
	Dir string
	// UserHome is the user's home directory: a workspace that holds it
	// is refused, and pass files under it show under the guest's home.
	UserHome string
	// HostEnv looks up the host's environment variables that a tool's
	// passEnv names, TERM and LANG; nil passes none.
	HostEnv func(string) (string, bool)
	// SSHAgent offers the SSH agent to this run (silo run --ssh-agent), as
	// a tool's passSshAgent does to every run.
	SSHAgent bool
	// HostCABundle is the host's CA bundle ($SSL_CERT_FILE, else the
	// system's), passed to a tool with network.trustHostCAs; "" if none.
	HostCABundle string
	// SSHAuthSock is the host's SSH agent socket ($SSH_AUTH_SOCK), given
	// to a tool with passSshAgent; "" means none runs.
	SSHAuthSock string
	// Stdin, Stdout and Stderr are the command's streams.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Warn receives one-line warnings ("silo: …"); nil drops them.
	Warn io.Writer
	// BootTimeout bounds start to agent-ready; zero: the backend's.
	BootTimeout time.Duration
}

// Plan is a run decided from the configuration and a request, before the
// store or a backend is touched: the image, the tool, and the sandbox
// spec without its rootfs, kernel, initfs, image environment and proxy.
type Plan struct {
	// Image is the image reference the run uses.
	Image string
	// Tool is the tool's effective definition; nil with Request.Image.
	Tool *lock.Tool
	// Spec is the sandbox spec so far.
	Spec vm.Spec
	// Network is the policy the proxy enforces; its zero value is none.
	Network netproxy.Policy
	// ImageArgs replace the image's command after its entrypoint when
	// Spec.Argv is left to the image (a tool without shims, an image).
	ImageArgs []string

	// Digest pins the image's manifest digest (silo.lock); "" uses what
	// the reference resolves to.
	Digest string
	// Steps are the build steps' layers the rootfs stacks on the image's.
	Steps []derive.StepLayer
	// Install runs with the policy's installAllow on top of allow (a
	// build step).
	Install bool

	env      EnvOptions
	warn     io.Writer
	maxFiles int // the tool's maxFiles: entries its image may have
}

// NewPlan decides the run: which image, which workspace and working
// directory, which command, and the spec from the tool's definition. It
// reads the file system only to resolve the workspace and the working
// directory; it creates nothing.
func NewPlan(cfg *lock.Config, req Request) (*Plan, error) {
	p := &Plan{Image: req.Image, warn: req.Warn}
	ws := cfg.Workspace()
	if err := checkWorkspace(ws, req.UserHome); err != nil {
		return nil, err
	}
	args := dropDashes(req.Args)
	if req.Tool != "" && req.Image == "" {
		t, err := cfg.Tool(req.Tool)
		if err != nil {
			return nil, err
		}
		p.Tool, p.Image = t, t.Image
	} else if req.Image == "" {
		return nil, fmt.Errorf("name a tool to run: one of %s (or use --image REF)", strings.Join(cfg.ToolNames(), ", "))
	}
	cwd, err := relativeCwd(ws, req.Dir)
	if err != nil {
		return nil, err
	}
	argv, imageArgs, err := commandLine(p.Tool, req, args)
	if err != nil {
		return nil, err
	}
	p.ImageArgs = imageArgs
	p.Spec = vm.Spec{
		Workspace: ws, Cwd: cwd, Argv: argv, TTY: req.TTY,
		Protected: DefaultProtected(),
		Stdin:     req.Stdin, Stdout: req.Stdout, Stderr: req.Stderr,
		BootTimeout: req.BootTimeout,
	}
	p.env.Host = req.HostEnv
	if p.env.Host == nil {
		p.env.Host = func(string) (string, bool) { return "", false }
	}
	settings := p.Tool
	if settings == nil { // an image: the project-wide settings still apply
		settings = cfg.ImageSettings()
		settings.Name = "image"
	}
	if err := p.fromTool(settings, req); err != nil {
		return nil, err
	}
	return p, nil
}

// fromTool fills the spec from the tool's definition.
func (p *Plan) fromTool(t *lock.Tool, req Request) error {
	s := &p.Spec
	p.env.Tool, p.env.Pass = t.Env, t.PassEnv
	s.Exclude = t.Exclude
	s.WorkspaceReadOnly = t.MountMode == "ro"
	s.Workdir = t.Workdir
	s.Network = t.Network
	s.CPUs, s.MemoryMB, s.RootfsSizeMB = t.CPUs, t.MemoryMB, t.RootfsSizeMB
	s.MaxProcesses = t.MaxProcesses
	p.maxFiles = t.MaxFiles
	for _, pt := range t.Ports {
		s.Ports = append(s.Ports, vm.Port{Host: pt.Host, Guest: pt.Guest})
	}
	for _, c := range t.Caches {
		s.Mounts = append(s.Mounts, vm.Mount{Host: c.Host, Guest: c.Guest})
	}
	for _, f := range t.PassFiles {
		s.PassFiles = append(s.PassFiles, vm.PassFile{Host: f, Guest: guestPath(s.Workspace, req.UserHome, f)})
	}
	p.trustHostCAs(t, req)
	p.activateVenv(t)
	if pol := t.Network; pol.Enabled(false) {
		if err := pol.Validate(); err != nil {
			return fmt.Errorf("tool %s: %w", t.Name, err)
		}
		p.Network = pol
	}
	if t.PassSSHAgent || req.SSHAgent {
		s.SSHAgent = req.SSHAuthSock
		why := "--ssh-agent is given"
		if !req.SSHAgent {
			why = fmt.Sprintf("passSshAgent is set (%s)", t.Origins["passSshAgent"])
		}
		if s.SSHAgent == "" {
			p.warnf("%s, but no SSH agent runs here (SSH_AUTH_SOCK is unset): the sandbox gets none", why)
		}
	}
	return nil
}

// warnf writes one warning line, if the caller wants them.
func (p *Plan) warnf(format string, args ...any) {
	if p.warn != nil {
		fmt.Fprintf(p.warn, "silo: "+format+"\n", args...)
	}
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

// commandLine is the guest argv, or nil and the arguments of the image's
// entrypoint when the image's command runs: see Request.Exec and
// Request.Shim.
func commandLine(tool *lock.Tool, req Request, args []string) ([]string, []string, error) {
	switch {
	case req.Shell && len(args) == 0:
		return []string{"/bin/sh"}, nil, nil
	case req.Shell || (req.Exec && len(args) > 0):
		return args, nil, nil
	case req.Shim != "":
		if cmd, ok := shimCommand(tool, req.Shim); ok {
			return append([]string{cmd}, args...), nil, nil
		}
		if tool == nil {
			return nil, nil, fmt.Errorf("--shim %s needs a tool: an image has no shims", req.Shim)
		}
		return nil, nil, fmt.Errorf("tool %s has no shim %q: its shims are %s (see `silo shim %s list`)", tool.Name, req.Shim, shimNames(tool), tool.Name)
	case len(args) > 0:
		if cmd, ok := shimCommand(tool, args[0]); ok {
			return append([]string{cmd}, args[1:]...), nil, nil
		}
	}
	if tool != nil && len(tool.Shims) > 0 {
		return append([]string{tool.Shims[0].Command}, args...), nil, nil
	}
	return nil, args, nil
}

// shimCommand is the guest command of the tool's shim named name.
func shimCommand(tool *lock.Tool, name string) (string, bool) {
	if tool == nil {
		return "", false
	}
	for _, s := range tool.Shims {
		if s.Name == name {
			return s.Command, true
		}
	}
	return "", false
}

// shimNames lists the tool's shims for an error message.
func shimNames(tool *lock.Tool) string {
	if len(tool.Shims) == 0 {
		return "none"
	}
	var n []string
	for _, s := range tool.Shims {
		n = append(n, s.Name)
	}
	return strings.Join(n, ", ")
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

// guestPath is where a pass file shows inside: a project file (a .netrc
// in the project) in the guest's home, a file under the user's home at the
// same place under the guest's, anything else at its own path.
func guestPath(workspace, userHome, host string) string {
	if rel, err := filepath.Rel(workspace, host); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(filepath.Join(vm.GuestHome, rel))
	}
	return GuestPath(host, userHome)
}
