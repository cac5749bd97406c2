// Command silo runs developer tools inside throwaway sandboxes that see the
// project directory and nothing else.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/alecthomas/kong"

	"github.com/silo-dev/silo/internal/fds"
	"github.com/silo-dev/silo/store"
)

// version is set by the Makefile with -ldflags "-X main.version=...".
var version = "dev"

// Globals are the flags every command accepts.
type Globals struct {
	Home  string `name:"home" env:"SILO_HOME" help:"silo's home directory (default ~/.silo)." placeholder:"DIR"`
	Quiet bool   `short:"q" help:"Print nothing but errors and requested output."`
}

// HomeDir returns the silo home directory: --home, $SILO_HOME or ~/.silo.
func (g *Globals) HomeDir() (string, error) {
	if g.Home != "" {
		return filepath.Abs(g.Home)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find home directory: %w (set SILO_HOME)", err)
	}
	return filepath.Join(home, ".silo"), nil
}

// OpenStore opens the store under the silo home.
func (g *Globals) OpenStore() (*store.Store, error) {
	home, err := g.HomeDir()
	if err != nil {
		return nil, err
	}
	return store.Open(home)
}

// CLI is silo's command line. Each command group lives in its own file.
type CLI struct {
	Globals

	Run     RunCmd     `cmd:"" help:"Run a tool's command in a sandbox."`
	Shell   ShellCmd   `cmd:"" help:"Open an interactive shell in a tool's sandbox."`
	Image   ImageCmd   `cmd:"" help:"Pull, list, inspect and remove OCI images."`
	Config  ConfigCmd  `cmd:"" help:"Show the effective configuration and where it came from."`
	Store   StoreCmd   `cmd:"" help:"Low-level store operations."`
	Cache   CacheCmd   `cmd:"" help:"Report on, compress and collect the cache."`
	Runtime RuntimeCmd `cmd:"" help:"Manage the kernel and initfs the VMs boot."`
	Doctor  DoctorCmd  `cmd:"" help:"Say which sandbox backends work here, and why."`
	Version VersionCmd `cmd:"" help:"Print silo's version."`

	Agent AgentCmd `cmd:"" name:"__agent" hidden:"" help:"Run as a sandbox's guest agent (internal)."`
}

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

func main() {
	if maybeRunAsInit() {
		return
	}
	// What silo's parent left open (a shell's or an IDE's descriptors) must
	// not reach bwrap, QEMU or, through them, a sandbox.
	_ = fds.CloseOnExec(3)
	var cli CLI
	ctx := kong.Parse(&cli,
		kong.Name("silo"),
		kong.Description("Run developer tools in throwaway sandboxes that see the project and nothing else."),
		kong.UsageOnError(),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.Bind(&cli.Globals),
	)
	err := ctx.Run(&cli.Globals)
	os.Exit(exitCode(err))
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
	fmt.Fprintln(os.Stderr, "silo:", err)
	return 1
}
