package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/silo-dev/silo/derive"
	"github.com/silo-dev/silo/internal/home"
	"github.com/silo-dev/silo/lock"
	"github.com/silo-dev/silo/sandbox"
	"github.com/silo-dev/silo/store"
	"github.com/silo-dev/silo/vm"
)

// BuildCmd runs a command in a tool's sandbox and keeps what it changed.
type BuildCmd struct {
	Global  bool     `help:"Make the build the user's, for every project (default: this project's, recorded in silo.lock)."`
	Remove  bool     `help:"Drop the tool's build (with --global: the user's)."`
	Check   bool     `help:"Build each step again from its inputs and compare the outputs with the stored ones; change nothing."`
	Input   []string `name:"input" short:"i" help:"A project file or directory the step may read (repeatable; . is the whole project). The usual manifests (package.json, requirements.txt, …) are inputs without it." placeholder:"PATH"`
	Command []string `arg:"" passthrough:"" help:"TOOL and the command to run (silo build python pip install -r requirements.txt)." placeholder:"TOOL CMD"`
}

// Run builds, removes or checks.
func (c *BuildCmd) Run(g *Globals) error {
	args := c.Command
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return errors.New("name the tool to build: silo build TOOL CMD…")
	}
	tool, cmd := args[0], args[1:]
	if len(cmd) > 0 && cmd[0] == "--" {
		cmd = cmd[1:]
	}
	return withBuilder(g, func(ctx context.Context, b *sandbox.Builder, p *sandbox.Project) error {
		switch {
		case c.Check:
			return checkBuild(ctx, b, p, tool)
		case c.Remove:
			return removeBuild(ctx, b, p, tool, c.Global)
		case len(cmd) == 0:
			return fmt.Errorf("give the command to run: silo build %s CMD…", tool)
		case c.Global:
			return addGlobalStep(ctx, b, p, tool, cmd)
		}
		if p.LockPath == "" {
			return errors.New("silo build keeps a project's build in its silo.lock, and there is no silo.toml here: create one (silo init), or use silo build --global")
		}
		inputs, err := b.StepInputs(c.Input, g.wd)
		if err != nil {
			return err
		}
		if len(inputs) > 0 {
			fmt.Fprintf(os.Stderr, "silo: inputs: %s\n", strings.Join(inputs, ", "))
		} else {
			fmt.Fprintln(os.Stderr, "silo: inputs: none (add project files with --input PATH)")
		}
		defs := append(p.Defs(tool), sandbox.StepDef{Scope: lock.ScopeProject, Argv: cmd, Inputs: inputs})
		return resolveAndLock(ctx, b, p, tool, defs, sandbox.ModeBuild)
	})
}

// RebuildCmd runs a tool's stored build steps again.
type RebuildCmd struct {
	All   bool   `help:"Rebuild every tool of the project's silo.lock."`
	Setup string `help:"Replace the tool's project build with this shell script." placeholder:"SCRIPT"`
	Tool  string `arg:"" optional:"" help:"The tool to rebuild."`
}

// Run rebuilds.
func (c *RebuildCmd) Run(g *Globals) error {
	return withBuilder(g, func(ctx context.Context, b *sandbox.Builder, p *sandbox.Project) error {
		tools := []string{c.Tool}
		if c.All {
			if p.Lock == nil {
				return errors.New("this project has no silo.lock: nothing to rebuild")
			}
			tools = slices.Sorted(mapKeys(p.Lock.Tools))
		} else if c.Tool == "" {
			return errors.New("name the tool to rebuild, or use --all")
		}
		for _, tool := range tools {
			defs := p.Defs(tool)
			if c.Setup != "" {
				inputs, err := b.StepInputs(nil, g.wd)
				if err != nil {
					return err
				}
				defs = slices.DeleteFunc(defs, func(d sandbox.StepDef) bool { return d.Scope == lock.ScopeProject })
				defs = append(defs, sandbox.StepDef{Scope: lock.ScopeProject, Argv: []string{"/bin/sh", "-c", c.Setup}, Inputs: inputs})
			}
			if len(defs) == 0 {
				return fmt.Errorf("%s has no build to rebuild: silo build %s CMD… makes one", tool, tool)
			}
			if err := resolveAndLock(ctx, b, p, tool, defs, sandbox.ModeRebuild); err != nil {
				return err
			}
		}
		return nil
	})
}

// PullCmd makes the store match the project's silo.lock.
type PullCmd struct {
	Update bool `help:"Resolve the tools' image tags again and rewrite silo.lock."`
}

// Run pulls, and prints each tool's state.
func (c *PullCmd) Run(g *Globals) error {
	return withBuilder(g, func(ctx context.Context, b *sandbox.Builder, p *sandbox.Project) error {
		if c.Update {
			if g.Locked {
				return errors.New("silo pull --update rewrites silo.lock, which --locked (SILO_LOCKED) refuses")
			}
			b.Pull = true
			tools := b.Config.ToolNames()
			if p.Lock != nil && len(p.Lock.Tools) > 0 {
				tools = slices.Sorted(mapKeys(p.Lock.Tools))
			}
			if p.LockPath == "" {
				return errors.New("there is no project here (no silo.toml): silo pull works on a project's silo.lock")
			}
			if err := b.Update(ctx, p, tools); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "silo: %s written\n", p.LockPath)
			return nil
		}
		states, err := b.Sync(ctx, p, sandbox.ModePull)
		if err != nil {
			return err
		}
		return printStates(states)
	})
}

// printStates prints each tool's state and fails when one is out of sync.
func printStates(states []sandbox.ToolState) error {
	bad := 0
	for _, s := range states {
		if s.InSync {
			fmt.Printf("%s: in sync\n", s.Tool)
			continue
		}
		bad++
		fmt.Printf("%s: out of sync\n", s.Tool)
		for _, r := range s.Reasons {
			fmt.Printf("  %s\n", r)
		}
	}
	if bad > 0 {
		return &ExitError{Code: 1}
	}
	return nil
}

// CleanCmd removes what silo keeps for this project only: the sandbox's
// own excluded directories, the project's package caches, and the root
// of its silo.lock's entries (cleanextra.go).
type CleanCmd struct {
	RootfsOnly bool `name:"rootfs-only" xor:"only" help:"Only unpin the project's rootfs and build entries (silo pull brings them back) and collect them."`
	CachesOnly bool `name:"caches-only" xor:"only" help:"Only remove the project's package caches and the sandbox's own excluded directories."`
	Force      bool `help:"Clean even while a sandbox of this project runs."`
}

// Run removes what only this project uses.
func (c CleanCmd) Run(g *Globals) error {
	cfg, err := loadConfigHere(g)
	if err != nil {
		return err
	}
	if err := c.clean(g, cfg); err != nil || c.RootfsOnly {
		return err
	}
	dir := home.Dir(g.home).Excludes(cfg.Workspace())
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(os.Stderr, "silo: nothing to clean for this project")
		return nil
	}
	if err := removeTree(dir); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	fmt.Fprintf(os.Stderr, "silo: removed the sandbox's own excluded directories of %s (%s)\n", cfg.Workspace(), dir)
	return nil
}

// removeTree removes a tree whose directories a sandbox may have made
// read-only.
func removeTree(p string) error {
	_ = filepath.Walk(p, func(q string, fi os.FileInfo, err error) error {
		if err == nil && fi.IsDir() {
			_ = os.Chmod(q, 0o755)
		}
		return nil
	})
	return os.RemoveAll(p)
}

// withBuilder loads the configuration and the project's lock, opens the
// store and selects the backend, and runs fn with a context that Ctrl-C
// cancels.
func withBuilder(g *Globals, fn func(context.Context, *sandbox.Builder, *sandbox.Project) error) error {
	wd, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("find the working directory: %w", err)
	}
	g.wd = wd
	cfg, err := loadConfigHere(g)
	if err != nil {
		return err
	}
	return withBuilderFor(g, cfg, fn)
}

// withBuilderFor is withBuilder with the configuration cfg.
func withBuilderFor(g *Globals, cfg *lock.Config, fn func(context.Context, *sandbox.Builder, *sandbox.Project) error) error {
	p, err := sandbox.LoadProject(cfg, home.Dir(g.home))
	if err != nil {
		return err
	}
	backend, _, err := g.backends().Select(g.Backend)
	if err != nil {
		return err
	}
	st, err := g.OpenStore()
	if err != nil {
		return err
	}
	defer st.Close()
	b := newBuilder(g, cfg, st, backend)
	defer b.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = fn(ctx, b, p)
	var se *sandbox.StepError
	if errors.As(err, &se) {
		fmt.Fprintln(os.Stderr, "silo:", err)
		return &ExitError{Code: se.Code}
	}
	if err != nil && ctx.Err() != nil {
		return errors.New("interrupted: nothing was kept, silo.lock is unchanged")
	}
	return err
}

// newBuilder is the builder of one command line.
func newBuilder(g *Globals, cfg *lock.Config, st *store.Store, backend vm.Backend) *sandbox.Builder {
	userHome, _ := os.UserHomeDir()
	b := &sandbox.Builder{Config: cfg, Store: st, Backend: backend, Options: sandbox.Options{Home: g.home, Agent: g.agent, Rootfs: derive.RootfsOptions{OCI: g.pullOptions(nil)}},
		Request: sandbox.Request{UserHome: userHome, Stdout: os.Stderr, Stderr: os.Stderr, BootTimeout: g.BootTimeout}}
	if !g.Quiet {
		b.Progress = os.Stderr
	}
	return b
}

// resolveAndLock resolves tool with defs and writes the project's lock.
func resolveAndLock(ctx context.Context, b *sandbox.Builder, p *sandbox.Project, tool string, defs []sandbox.StepDef, mode sandbox.Mode) error {
	var old *lock.LockTool
	if p.Lock != nil {
		old = p.Lock.Tools[tool]
	}
	c, err := b.Resolve(ctx, tool, defs, old, mode)
	if err != nil {
		return err
	}
	for _, pr := range c.Problems {
		fmt.Fprintln(os.Stderr, "silo:", pr)
	}
	if err := b.SetTool(p, tool, c); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "silo: %s: %d build step(s), %d run; %s updated\n", tool, len(defs), c.Built, lock.LockFileName)
	return nil
}

// addGlobalStep adds a global step to the user's builds, and updates the
// project's lock when there is one.
func addGlobalStep(ctx context.Context, b *sandbox.Builder, p *sandbox.Project, tool string, cmd []string) error {
	if err := realiseGlobal(ctx, b, p, tool, []sandbox.StepDef{{Scope: lock.ScopeGlobal, Argv: cmd}}); err != nil {
		return err
	}
	if p.Lock != nil && p.Lock.Tools[tool] != nil {
		return resolveAndLock(ctx, b, p, tool, p.Defs(tool), sandbox.ModeBuild)
	}
	return nil
}

// realiseGlobal builds tool's global chain (its setup, the user's global
// steps, then extra) and records it as the user's global build.
func realiseGlobal(ctx context.Context, b *sandbox.Builder, p *sandbox.Project, tool string, extra []sandbox.StepDef) error {
	defs := append(p.SetupDefs(tool), p.GlobalDefs(tool)...)
	c, err := b.Resolve(ctx, tool, append(defs, extra...), p.Global.Tools[tool], sandbox.ModeBuild)
	if err != nil {
		return err
	}
	if err := b.SetGlobal(p, tool, c); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "silo: %s: global build updated (%d step(s), %d run; %s)\n", tool, len(c.Lock.Steps), c.Built, p.GlobalPath)
	return nil
}

// removeBuild drops the tool's project (or global) build.
func removeBuild(ctx context.Context, b *sandbox.Builder, p *sandbox.Project, tool string, global bool) error {
	if global {
		if len(p.GlobalDefs(tool)) == 0 {
			return fmt.Errorf("%s has no global build to remove (silo build --global %s CMD… makes one)", tool, tool)
		}
		if err := b.SetGlobal(p, tool, nil); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "silo: removed the global build of %s\n", tool)
		if p.Lock != nil && p.Lock.Tools[tool] != nil {
			return resolveAndLock(ctx, b, p, tool, p.Defs(tool), sandbox.ModeBuild)
		}
		return nil
	}
	defs := p.Defs(tool)
	if !slices.ContainsFunc(defs, func(d sandbox.StepDef) bool { return d.Scope == lock.ScopeProject }) {
		return fmt.Errorf("%s has no build in this project to remove (silo build %s CMD… makes one; --global for the user's)", tool, tool)
	}
	defs = slices.DeleteFunc(defs, func(d sandbox.StepDef) bool { return d.Scope == lock.ScopeProject })
	if err := resolveAndLock(ctx, b, p, tool, defs, sandbox.ModeBuild); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "silo: removed the project build of %s\n", tool)
	return nil
}

// checkBuild builds each step of tool again and compares.
func checkBuild(ctx context.Context, b *sandbox.Builder, p *sandbox.Project, tool string) error {
	var old *lock.LockTool
	if p.Lock != nil {
		old = p.Lock.Tools[tool]
	}
	defs := p.Defs(tool)
	if len(defs) == 0 {
		return fmt.Errorf("%s has no build to check", tool)
	}
	diffs, err := b.Check(ctx, tool, defs, old)
	if err != nil {
		return err
	}
	if len(diffs) == 0 {
		fmt.Fprintf(os.Stderr, "silo: %s: every step rebuilt to the same output\n", tool)
		return nil
	}
	for _, d := range diffs {
		fmt.Println(d)
	}
	return &ExitError{Code: 1}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// applyLock gives a run its locked image and builds (rebuilding what
// changed and updating silo.lock, unless --locked), and the project's
// kept excluded directories.
func applyLock(g *Globals, cfg *lock.Config, st *store.Store, backend vm.Backend, plan *sandbox.Plan, req sandbox.Request) error {
	p, err := sandbox.LoadProject(cfg, home.Dir(g.home))
	if err != nil {
		return err
	}
	b := newBuilder(g, cfg, st, backend)
	defer b.Close()
	b.Request.UserHome, b.Request.Warn = req.UserHome, req.Warn
	if err := b.ForRun(context.Background(), plan, p, g.Locked, req.Warn); err != nil {
		var se *sandbox.StepError
		if errors.As(err, &se) {
			fmt.Fprintln(os.Stderr, "silo:", err)
			return &ExitError{Code: se.Code}
		}
		return err
	}
	return plan.ExcludeDirs(st, home.Dir(g.home), req.Warn)
}
