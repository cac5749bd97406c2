package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/silo-dev/silo/lsp"
	"github.com/silo-dev/silo/sandbox"
	"github.com/silo-dev/silo/vm"
)

// lspGrace is how long a language server may take to exit by itself once
// the editor has hung up or sent exit, before its sandbox is torn down.
const lspGrace = 400 * time.Millisecond

// LspCmd runs a tool's language server in the tool's sandbox and speaks
// LSP on silo's stdin and stdout, mapping the project's paths.
type LspCmd struct {
	Timing  bool     `help:"Print the backend and how long each phase took, on stderr."`
	Command []string `arg:"" passthrough:"" help:"TOOL, then (after --) more arguments for its language server." placeholder:"TOOL [-- ARGS]"`
}

// Run serves one editor connection and returns when it ends.
func (c *LspCmd) Run(g *Globals) error {
	args := c.Command
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return errors.New("name a tool whose language server to start, such as: silo lsp python")
	}
	tool, extra := args[0], args[1:]
	if len(extra) > 0 && extra[0] == "--" {
		extra = extra[1:]
	}
	dieWithEditor()
	// An editor that went away must not take silo with it by SIGPIPE:
	// silo still has a sandbox to tear down.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &lspSession{editorIn: os.Stdin, editorOut: os.Stdout, cancel: cancel, copied: make(chan error, 1)}
	// SIGTERM (the editor's death, see dieWithEditor) and SIGHUP end the
	// connection as the editor's hang-up does, whatever the server makes
	// of the signal the sandbox relay forwards to it.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		<-hup
		s.end()
	}()
	if err := installServer(g, tool); err != nil {
		return err
	}
	err := runSandbox(g, sandboxFlags{Timing: c.Timing}, []string{tool}, runMode{
		Exec: true, Ctx: ctx, Role: "language server",
		Adjust: func(p *sandbox.Plan) error { return s.adjust(p, extra) },
	})
	return s.finish(err)
}

// adjust makes the plan run the tool's language server with the
// session's streams, at the project's root, and starts the two copies.
func (s *lspSession) adjust(p *sandbox.Plan, extra []string) error {
	t := p.Tool
	if len(t.LSP) == 0 {
		return fmt.Errorf("tool %s has no language server: set lsp = [\"COMMAND\", …] under [overrides.%s] in silo.toml (silo config show %s shows the tool)", t.Name, t.Name, t.Name)
	}
	s.tool, s.server, s.install, s.image = t.Name, t.LSP[0], t.LSPInstall, p.Image
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	p.Spec.Argv = append(append([]string(nil), t.LSP...), extra...)
	p.Spec.Stdin, p.Spec.Stdout, p.Spec.TTY = inR, outW, false
	p.Spec.Cwd = "" // servers start at the project's root
	s.attach(mapperFor(&p.Spec), inW, outR, outW)
	return nil
}

// mapperFor maps the spec's workspace, by its name and its symlink-free
// one, to where the sandbox shows it.
func mapperFor(spec *vm.Spec) *lsp.Mapper {
	guest := spec.Workdir
	if guest == "" {
		guest = vm.DefaultWorkdir
	}
	var aliases []string
	if real, err := filepath.EvalSymlinks(spec.Workspace); err == nil {
		aliases = append(aliases, real)
	}
	return lsp.NewMapper(guest, spec.Workspace, aliases...)
}

// lspSession relays one editor connection to the server's stdio through
// the path mapper.
type lspSession struct {
	editorIn  io.Reader
	editorOut io.Writer
	cancel    context.CancelFunc
	tool      string
	server    string // the server's command, for messages
	install   string
	image     string

	toServer   *io.PipeWriter // the server's stdin
	fromServer *io.PipeWriter // the server's stdout, as the session writes it
	copied     chan error     // the server-to-editor copy's end
	started    bool

	mu      sync.Mutex
	ending  bool  // the editor hung up or said exit: the end is expected
	failure error // a framing error that ended the connection
}

// attach starts the two copies between the editor and the server's
// streams.
func (s *lspSession) attach(m *lsp.Mapper, inW *io.PipeWriter, outR *io.PipeReader, outW *io.PipeWriter) {
	s.mu.Lock()
	s.toServer, s.fromServer, s.started = inW, outW, true
	s.mu.Unlock()
	go s.toGuest(m)
	go func() {
		err := m.CopyToHost(s.editorOut, s.toServer, outR, nil)
		if err != nil {
			s.fail(fmt.Errorf("language server %s: %w", s.server, err))
			outR.CloseWithError(err)
		}
		s.copied <- err
	}()
}

// toGuest copies the editor's messages to the server until the editor
// hangs up or sends exit; then the server's stdin ends, and its sandbox
// is torn down if it has not exited by lspGrace.
func (s *lspSession) toGuest(m *lsp.Mapper) {
	err := m.Copy(s.toServer, s.editorIn, lsp.ToGuest, func(info lsp.Info) {
		if info.Exit {
			s.end()
		}
	})
	if err != nil && !s.expected() {
		s.fail(fmt.Errorf("the editor's messages: %w", err))
	}
	s.end()
}

// end ends the connection from the editor's side: it closes the server's
// stdin and gives it lspGrace to exit.
func (s *lspSession) end() {
	s.mu.Lock()
	already, started := s.ending, s.started
	s.ending = true
	s.mu.Unlock()
	switch {
	case already:
	case !started: // nothing to wind down yet
		s.cancel()
	default:
		s.toServer.Close()
		time.AfterFunc(lspGrace, s.cancel)
	}
}

func (s *lspSession) expected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ending
}

// fail ends the connection at once for a broken stream.
func (s *lspSession) fail(err error) {
	s.mu.Lock()
	if s.failure == nil && !s.ending {
		s.failure = err
	}
	s.ending = true
	s.mu.Unlock()
	s.cancel()
}

// finish waits for the server's last messages to reach the editor and
// turns the run's outcome into silo lsp's.
func (s *lspSession) finish(err error) error {
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if started {
		s.fromServer.Close()
		<-s.copied
	}
	s.mu.Lock()
	ending, failure := s.ending, s.failure
	s.mu.Unlock()
	if failure != nil {
		return failure
	}
	var ee *ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee) && ee.Code == 127 && strings.TrimSpace(s.install) == "":
		return fmt.Errorf("tool %s's language server %s is not in its image %s: set lspInstall = \"…\" (the command that installs it) under [overrides.%s] in silo.toml, use an image that has it, or set lsp to a server the image has",
			s.tool, s.server, s.image, s.tool)
	case errors.As(err, &ee) && ee.Code == 127:
		return fmt.Errorf("tool %s's language server %s is not in its sandbox, although its lspInstall ran (%s): fix lspInstall so that it puts %s on the PATH, then drop the old step with silo build --global --remove %s",
			s.tool, s.server, strings.TrimSpace(s.install), s.server, s.tool)
	case ending && errors.Is(err, context.Canceled):
		return nil // the editor is gone; so is the sandbox
	}
	return err
}

// installServer makes the tool's lspInstall a global build step of the
// tool the first time silo lsp starts it (silo build --global TOOL sh -c
// LSPINSTALL, with the tool's network for installs and progress on
// stderr); later starts find the step and reuse what it built. A tool
// without lspInstall is left as it is.
func installServer(g *Globals, tool string) error {
	return withBuilder(g, func(ctx context.Context, b *sandbox.Builder, p *sandbox.Project) error {
		t, err := b.Config.Tool(tool)
		if err != nil || len(t.LSP) == 0 || strings.TrimSpace(t.LSPInstall) == "" {
			return err
		}
		argv := []string{"sh", "-c", t.LSPInstall}
		for _, d := range p.GlobalDefs(tool) {
			if slices.Equal(d.Argv, argv) {
				return nil
			}
		}
		fmt.Fprintf(os.Stderr, "silo: installing %s's language server %s, once, as a global build step: %s\n", tool, t.LSP[0], t.LSPInstall)
		if err := addGlobalStep(ctx, b, p, tool, argv); err != nil {
			return fmt.Errorf("install %s's language server (lspInstall: %s): %w", tool, t.LSPInstall, err)
		}
		return nil
	})
}
