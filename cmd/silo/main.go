package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/alecthomas/kong"

	"github.com/silo-dev/silo/derive/oci"
	"github.com/silo-dev/silo/internal/agentbin"
	"github.com/silo-dev/silo/internal/fds"
	"github.com/silo-dev/silo/internal/home"
	"github.com/silo-dev/silo/internal/safetext"
	"github.com/silo-dev/silo/sandbox"
	"github.com/silo-dev/silo/store"
	"github.com/silo-dev/silo/vm"
)

// version is set by the Makefile with -ldflags "-X main.version=...".
var version = "dev"

// Globals are the flags every command accepts, and the environment
// variables silo reads: this is the only place it reads them.
type Globals struct {
	Home    string `name:"home" env:"SILO_HOME" help:"silo's home directory (default ~/.silo)." placeholder:"DIR"`
	Quiet   bool   `short:"q" help:"Print nothing but errors and requested output."`
	Backend string `env:"SILO_BACKEND" help:"Sandbox backend: namespace, qemu, vz or auto (default auto)." placeholder:"NAME"`
	Mirror  string `name:"registry-mirror" env:"SILO_REGISTRY_MIRROR" help:"Fetch Docker Hub's images (python:3.12-slim) from this registry mirror." placeholder:"HOST[:PORT]"`

	Agent       string        `name:"agent" env:"SILO_AGENT" hidden:"" help:"The guest agent binary (default: silo-agent beside silo, else silo)."`
	BootTimeout time.Duration `name:"boot-timeout" env:"SILO_BOOT_TIMEOUT" hidden:"" help:"How long a sandbox may take to start."`
	HangTimeout time.Duration `name:"hang-timeout" env:"SILO_VM_HANG_TIMEOUT" hidden:"" help:"How long a VM may go without a heartbeat."`
	VMDebug     bool          `name:"vm-debug" env:"SILO_VM_DEBUG" hidden:"" help:"Show a VM's console on stderr."`
	VMNoSnap    bool          `name:"vm-no-snapshot" env:"SILO_VM_NO_SNAPSHOT" hidden:"" help:"Boot every VM: make and restore no memory snapshot."`
	FuseDevice  string        `name:"fuse-device" env:"SILO_FUSE_DEVICE" hidden:"" help:"The FUSE device namespace sandboxes get (default /dev/fuse): a node you may open where /dev/fuse is root-only."`
	ShowAfter   time.Duration `name:"progress-after" env:"SILO_PROGRESS_AFTER" hidden:"" default:"500ms" help:"How long a step (a rootfs assembly, a decompression, a wait for the store lock) runs before silo shows it."`
	Locked      bool          `name:"locked" env:"SILO_LOCKED" help:"Refuse any change to the project's silo.lock (for CI): a changed silo.toml or build input is an error."`
	IdleTimeout time.Duration `name:"registry-idle-timeout" env:"SILO_REGISTRY_IDLE_TIMEOUT" hidden:"" help:"How long a registry transfer may stall before it is retried, then abandoned (default 30s)."`

	home  string // resolved Home
	agent string // resolved Agent
	wd    string // the working directory, for commands that need it
}

// resolve turns the flags into what the commands use: the absolute home
// and the agent binary. main calls it once, after parsing.
func (g *Globals) resolve() error {
	h, err := home.Resolve(g.Home)
	if err != nil {
		return err
	}
	if err := h.Secure(os.Stderr); err != nil {
		return err
	}
	g.home = h.Path()
	if g.agent, err = agentbin.Find(g.Agent); err != nil {
		return err
	}
	if g.BootTimeout < 0 || g.HangTimeout < 0 || g.IdleTimeout < 0 {
		return errors.New("SILO_BOOT_TIMEOUT, SILO_VM_HANG_TIMEOUT and SILO_REGISTRY_IDLE_TIMEOUT must be positive durations, such as 30s")
	}
	return nil
}

// pullOptions are how every command reaches a registry: through the
// mirror, with the idle timeout, showing progress on prog (nil: none).
func (g *Globals) pullOptions(prog oci.Progress) oci.Options {
	return oci.Options{Progress: prog, IdleTimeout: g.IdleTimeout, Mirror: g.Mirror}
}

// HomeDir returns the silo home directory: --home, $SILO_HOME or ~/.silo.
func (g *Globals) HomeDir() (string, error) { return g.home, nil }

// OpenStore opens the store under the silo home.
func (g *Globals) OpenStore() (*store.Store, error) {
	return store.OpenWith(g.home, store.OpenOptions{Progress: g.steps().progress()})
}

// backends returns the backends built into silo, built with the options
// of this command line: one home, one agent, one set of timeouts.
func (g *Globals) backends() *vm.Registry {
	return vm.NewRegistry(vm.Options{
		Home: g.home, Agent: g.agent, HangTimeout: g.HangTimeout, Debug: g.VMDebug, NoSnapshot: g.VMNoSnap, FuseDevice: g.FuseDevice,
		Runtime: sandbox.KernelRuntime(g.home, g.agent),
	})
}

// CLI is silo's command line. Each command group lives in its own file.
type CLI struct {
	Globals
	ShowVersion kong.VersionFlag `name:"version" help:"Print silo's version and exit."`

	Run     RunCmd     `cmd:"" help:"Run a tool's main command (or one of its shims) in its sandbox."`
	Exec    ExecCmd    `cmd:"" help:"Run any command in a tool's sandbox."`
	Shell   ShellCmd   `cmd:"" help:"Open an interactive shell in a tool's sandbox."`
	Lsp     LspCmd     `cmd:"" help:"Run a tool's language server in its sandbox, for an editor (LSP on stdin/stdout)."`
	Ide     IdeCmd     `cmd:"" help:"Point an editor (vscode, zed, neovim, helix) at the project's language servers in their sandboxes."`
	Build   BuildCmd   `cmd:"" help:"Run a command in a tool's sandbox and keep what it changed, for every later run (silo.lock)."`
	Rebuild RebuildCmd `cmd:"" help:"Run a tool's build steps again."`
	Pull    PullCmd    `cmd:"" help:"Make the store match the project's silo.lock: images by digest, builds from their inputs."`
	Clean   CleanCmd   `cmd:"" help:"Free what only this project uses: package caches, kept excluded directories (node_modules, .venv), rootfs entries."`
	Image   ImageCmd   `cmd:"" help:"Pull, list, inspect and remove OCI images."`
	Config  ConfigCmd  `cmd:"" help:"Show the effective configuration and where it came from."`
	Store   StoreCmd   `cmd:"" help:"Low-level store operations."`
	Cache   CacheCmd   `cmd:"" help:"Report on, compress and collect the cache."`
	Runtime RuntimeCmd `cmd:"" help:"Manage the kernel and initfs the VMs boot."`
	Doctor  DoctorCmd  `cmd:"" help:"Say which sandbox backends work here, and why."`
	Version VersionCmd `cmd:"" help:"Print silo's version."`

	Install    InstallCmd    `cmd:"" help:"Install a tool from the catalog, or a custom one from an image."`
	Uninstall  UninstallCmd  `cmd:"" help:"Remove a tool's shims and definition; the next GC frees what only it used."`
	List       ListCmd       `cmd:"" help:"List the installed tools, or the catalog (--available)."`
	Shim       ShimCmd       `cmd:"" help:"Add, remove and list a tool's shims."`
	Pin        PinCmd        `cmd:"" help:"Let a tool's shims run it in the sandbox outside any project."`
	Unpin      UnpinCmd      `cmd:"" help:"Let a tool's shims step aside outside projects that name it."`
	Current    CurrentCmd    `cmd:"" help:"Say what a tool's shim does here: sandbox, or the host's own tool."`
	Shellenv   ShellenvCmd   `cmd:"" help:"Print the line that puts silo's shims first on PATH."`
	Init       InitCmd       `cmd:"" help:"Write a silo.toml for the project here."`
	Status     StatusCmd     `cmd:"" help:"The sandboxes running now, and this project's tools."`
	Log        LogCmd        `cmd:"" help:"The connections the network policy refused."`
	Reset      ResetCmd      `cmd:"" help:"Remove all of silo's data (asks first)."`
	Completion CompletionCmd `cmd:"" help:"Print a shell completion script: bash, zsh or fish."`

	Agent    AgentCmd    `cmd:"" name:"__agent" hidden:"" help:"Run as a sandbox's guest agent (internal)."`
	Complete completeCmd `cmd:"" name:"__complete" hidden:"" help:"Print completion candidates (internal)."`
	GCPolicy gcPolicyCmd `cmd:"" name:"__gc-policy" hidden:"" help:"Apply the [cache] policy's eviction (internal: a run starts it)."`
}

// description is silo --help's text above the commands.
const description = `Run developer tools in throwaway sandboxes that see the project and nothing else.

  silo install python && eval "$(silo shellenv)"   # then: python script.py
  silo run python script.py      silo python script.py      silo exec node ls

Exit status: the command's own; 128+N when signal N ended it; 1 when silo
failed (the message says what to type next); 2 for a command line silo
cannot read; 127 when a shim steps aside and finds no other NAME on PATH.`

// VersionCmd prints the version.
type VersionCmd struct{}

// Run prints the version.
func (VersionCmd) Run() error {
	fmt.Println("silo", version)
	return nil
}

// ExitError carries an exit status that silo must exit with, without a
// message of its own: typically the guest command's own status.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// commandNames are silo's visible command names, for did-you-mean.
var commandNames []string

func main() {
	if maybeRunAsInit() {
		return
	}
	// What silo's parent left open (a shell's or an IDE's descriptors) must
	// not reach bwrap, QEMU or, through them, a sandbox.
	_ = fds.CloseOnExec(3)
	if name := shimName(os.Args[0]); name != "" && (len(os.Args) < 2 || os.Args[1] != "__agent") {
		os.Exit(exitCode(runShim(name, os.Args[1:])))
	}
	os.Exit(exitCode(runCLI(os.Args[1:])))
}

// runCLI parses silo's own command line and runs the command.
func runCLI(args []string) error {
	var cli CLI
	parser, err := kong.New(&cli,
		kong.Name("silo"),
		kong.Description(description),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.Help(helpWithExample),
		kong.Vars{"version": "silo " + version},
		kong.Bind(&cli.Globals),
	)
	if err != nil {
		return err // a defect of the CLI's definition, caught by every test
	}
	for _, n := range parser.Model.Children {
		if !n.Hidden {
			commandNames = append(commandNames, n.Name)
		}
	}
	if len(args) == 0 {
		args = []string{"--help"}
	}
	if i, ok := shorthandAt(args, parser.Model.Children); ok {
		args = slices.Insert(slices.Clone(args), i, "run")
		cli.Run.shorthand = true
	}
	ctx, err := parser.Parse(args)
	if err != nil {
		return parseError(err)
	}
	if ctx.Command() != "__agent" { // a sandbox's agent has no home
		if err := cli.Globals.resolve(); err != nil {
			return err
		}
	}
	return ctx.Run(&cli.Globals)
}

// exitCode prints err, if any, and turns it into a process exit status.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	// Errors quote registries, images and sandboxes: no control
	// characters reach the terminal (safetext), only silo's own newlines.
	fmt.Fprintln(os.Stderr, "silo:", safetext.Lines(err.Error()))
	var ue *UsageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}
