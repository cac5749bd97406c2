package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/silo-dev/silo/internal/home"
	"github.com/silo-dev/silo/lock"
)

// PinCmd is silo pin TOOL.
type PinCmd struct {
	Tools []string `arg:"" help:"The tools to pin." predictor:"tool"`
}

// Help is silo pin's example.
func (c *PinCmd) Help() string {
	return "Example:\n  silo pin python     # python on PATH runs in the sandbox everywhere, not only in projects naming it"
}

// Run pins the tools.
func (c *PinCmd) Run(g *Globals) error { return pinTools(g, c.Tools, true) }

// UnpinCmd is silo unpin TOOL.
type UnpinCmd struct {
	Tools []string `arg:"" help:"The tools to unpin." predictor:"tool"`
}

// Help is silo unpin's example.
func (c *UnpinCmd) Help() string {
	return "Example:\n  silo unpin python   # outside projects naming python, python on PATH is the host's own again"
}

// Run unpins the tools.
func (c *UnpinCmd) Run(g *Globals) error { return pinTools(g, c.Tools, false) }

func pinTools(g *Globals, tools []string, pin bool) error {
	cfg, err := lock.Load(lock.Options{Home: g.home, Dir: os.TempDir()})
	if err != nil {
		return err
	}
	for _, name := range tools {
		t, err := cfg.Tool(name)
		if err != nil {
			return err
		}
		changed, err := setPin(g.home, t.Name, pin)
		if err != nil {
			return err
		}
		if g.Quiet {
			continue
		}
		switch {
		case pin && changed:
			fmt.Fprintf(os.Stderr, "silo: %s is pinned: its shims run it in the sandbox everywhere\n", t.Name)
		case pin:
			fmt.Fprintf(os.Stderr, "silo: %s was already pinned\n", t.Name)
		case changed:
			fmt.Fprintf(os.Stderr, "silo: %s is unpinned: outside projects that name it, its shims run the host's own commands\n", t.Name)
		default:
			fmt.Fprintf(os.Stderr, "silo: %s was not pinned\n", t.Name)
		}
	}
	return nil
}

// CurrentCmd is silo current [TOOL].
type CurrentCmd struct {
	Tool string `arg:"" optional:"" help:"The tool (default: every installed, pinned or claimed tool)." predictor:"tool"`
	JSON bool   `name:"json" help:"Print the answer as JSON."`
}

// Help is silo current's example.
func (c *CurrentCmd) Help() string {
	return `Examples:
  silo current python    # python: claimed by ./silo.toml
  silo current --json`
}

// currentRow is one tool's answer.
type currentRow struct {
	Tool    string `json:"tool"`
	Mode    string `json:"mode"` // "claimed", "pinned" or "fallthrough"
	Why     string `json:"why"`
	Command string `json:"command,omitempty"` // what a fall-through runs; "" when nothing
}

// Run says what the tools' shims do here.
func (c *CurrentCmd) Run(g *Globals) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	cfg, err := loadConfig(g.home, lock.Options{Home: g.home, Dir: wd, Notes: os.Stderr})
	if err != nil {
		return err
	}
	pins := readPins(g.home)
	tools := []string{}
	if c.Tool != "" {
		name := c.Tool
		if tool, _, ok := cfg.Shim(name); ok && !slices.Contains(cfg.ToolNames(), lock.CanonicalTool(name)) {
			name = tool // silo current npm: node's shim
		}
		t, err := cfg.Tool(name)
		if err != nil {
			return err
		}
		tools = append(tools, t.Name)
	} else {
		tools = currentTools(g.home, cfg, pins)
	}
	rows := []currentRow{}
	for _, name := range tools {
		t, err := cfg.Tool(name)
		if err != nil {
			return err
		}
		rows = append(rows, currentOf(g.home, wd, cfg, t, pins))
	}
	if c.JSON {
		return printJSON(os.Stdout, rows)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r.Tool, r.Why)
	}
	return tw.Flush()
}

// currentTools are the tools silo current speaks of without a name: the
// installed, the pinned and the claimed ones.
func currentTools(homeDir string, cfg *lock.Config, pins map[string]bool) []string {
	set := map[string]bool{}
	for t := range pins {
		set[t] = true
	}
	for _, t := range cfg.ToolNames() {
		if cfg.Claims(t) || installed(homeDir, t) {
			set[t] = true
		}
	}
	return sortedSet(set)
}

// currentOf says what t's shims do in wd.
func currentOf(homeDir, wd string, cfg *lock.Config, t *lock.Tool, pins map[string]bool) currentRow {
	r := currentRow{Tool: t.Name}
	proj := filepath.Join(cfg.ProjectRoot(), lock.ProjectFileName)
	switch {
	case cfg.Claims(t.Name):
		r.Mode, r.Why = "claimed", "claimed by "+relPath(wd, proj)
	case pins[t.Name]:
		r.Mode, r.Why = "pinned", "globally pinned"
	default:
		r.Mode = "fallthrough"
		name := t.Name
		if len(t.Shims) > 0 {
			name = t.Shims[0].Name
		}
		if p, ok := hostCommand(homeDir, name); ok {
			r.Command, r.Why = p, "falls through to "+p
		} else {
			r.Why = "falls through, and the host has no " + name + " on PATH"
		}
		if cfg.ProjectRoot() != "" {
			r.Why += " (" + relPath(wd, proj) + " does not name " + t.Name + "; not pinned)"
		} else {
			r.Why += " (no silo.toml here or above; not pinned)"
		}
	}
	return r
}

// ShellenvCmd is silo shellenv.
type ShellenvCmd struct {
	Shell string `help:"bash, zsh or fish (default: from $SHELL)." enum:"bash,zsh,fish,sh," default:"" placeholder:"SHELL"`
}

// Help is silo shellenv's example.
func (c *ShellenvCmd) Help() string {
	return `Example: put this in ~/.bashrc or ~/.zshrc:
  eval "$(silo shellenv)"
or in ~/.config/fish/config.fish:
  silo shellenv --shell fish | source`
}

// Run prints the line.
func (c *ShellenvCmd) Run(g *Globals) error {
	sh := c.Shell
	if sh == "" {
		sh = filepath.Base(os.Getenv("SHELL"))
	}
	bin := home.Dir(g.home).Bin()
	switch sh {
	case "fish":
		fmt.Printf("set -gx PATH %s $PATH\n", fishQuote(bin))
	default:
		fmt.Printf("export PATH=%s:\"$PATH\"\n", shQuote(bin))
	}
	return nil
}

// shQuote quotes s for a POSIX shell.
func shQuote(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '_' || r == '-' || r == '+' || r == ':' || r == '@' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// fishQuote quotes s for fish.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
