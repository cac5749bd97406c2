package main

import (
	"fmt"
	"github.com/silo-dev/silo/internal/home"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/silo-dev/silo/lock"
)

// ConfigCmd shows the effective configuration and where it came from.
type ConfigCmd struct {
	Show  ConfigShowCmd  `cmd:"" help:"Print a tool's effective configuration, with the file and line each value came from."`
	Path  ConfigPathCmd  `cmd:"" help:"Print which configuration files were read."`
	Trust ConfigTrustCmd `cmd:"" help:"Vouch for a project's silo.toml that grants more than the defaults (or that a sandbox could have written), so that silo obeys it."`
}

// ConfigShowCmd is silo config show [TOOL] [--json].
type ConfigShowCmd struct {
	Tool string `arg:"" optional:"" help:"The tool to show (default: the project's tools, or a summary of every tool)."`
	JSON bool   `name:"json" help:"Print the effective tool as JSON (an array without TOOL)."`
}

// Run prints the effective configuration.
func (c *ConfigShowCmd) Run(g *Globals) error {
	cfg, err := loadConfigHere(g)
	if err != nil {
		return err
	}
	names := []string{c.Tool}
	if c.Tool == "" {
		names = cfg.ProjectTools()
	}
	if c.Tool == "" && len(names) == 0 {
		if c.JSON {
			names = cfg.ToolNames()
		} else {
			return printConfigSummary(os.Stdout, cfg)
		}
	}
	tools := make([]*lock.Tool, 0, len(names))
	for _, n := range names {
		t, err := cfg.Tool(n)
		if err != nil {
			return err
		}
		tools = append(tools, t)
	}
	if c.JSON {
		if c.Tool != "" {
			return printJSON(os.Stdout, tools[0])
		}
		return printJSON(os.Stdout, tools)
	}
	return printConfigTools(os.Stdout, cfg, tools, c.Tool == "")
}

// ConfigPathCmd is silo config path.
type ConfigPathCmd struct {
	All  bool `help:"Also list the files silo looked for but did not find."`
	JSON bool `name:"json" help:"Print the files, the project root and the workspace as JSON."`
}

// Run prints the configuration files that were read.
func (c *ConfigPathCmd) Run(g *Globals) error {
	cfg, err := loadConfigHere(g)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(os.Stdout, struct {
			Files       []string `json:"files"`
			ProjectRoot string   `json:"projectRoot"`
			Workspace   string   `json:"workspace"`
		}{cfg.Files(), cfg.ProjectRoot(), cfg.Workspace()})
	}
	if !c.All {
		for _, f := range cfg.Files() {
			fmt.Println(f)
		}
		return nil
	}
	home, err := g.HomeDir()
	if err != nil {
		return err
	}
	return printConfigCandidates(os.Stdout, cfg, home)
}

// loadConfigHere loads the configuration for the working directory.
func loadConfigHere(g *Globals) (*lock.Config, error) {
	home, err := g.HomeDir()
	if err != nil {
		return nil, err
	}
	userHome, _ := os.UserHomeDir()
	return loadConfig(home, lock.Options{Home: home, UserHome: userHome, Notes: g.notes()})
}

// notes is where the configuration's notes go (Silo's spellings read as
// silo's): stderr, unless -q.
func (g *Globals) notes() io.Writer {
	if g.Quiet {
		return nil
	}
	return os.Stderr
}

// printConfigTools prints each tool's rows: key, value, origin.
func printConfigTools(w io.Writer, cfg *lock.Config, tools []*lock.Tool, withCache bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, t := range tools {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		root := t.ProjectRoot
		if root == "" {
			root = "none (workspace: " + cfg.Workspace() + ")"
		}
		fmt.Fprintln(tw, t.Name)
		fmt.Fprintf(tw, "  projectRoot\t%s\t%s\n", root, t.Origins["name"])
		for _, r := range t.Rows() {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", r.Key, r.Value, r.Source)
		}
	}
	if withCache {
		fmt.Fprintln(tw)
		for _, r := range cfg.Cache().CacheRows() {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Key, r.Value, r.Source)
		}
	}
	return tw.Flush()
}

// printConfigSummary lists every tool, for when no tool is named and the project
// names none.
func printConfigSummary(w io.Writer, cfg *lock.Config) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOOL\tIMAGE\tSHIMS\tDEFINED IN")
	for _, n := range cfg.ToolNames() {
		t, err := cfg.Tool(n)
		if err != nil {
			return err
		}
		shims := make([]string, len(t.Shims))
		for i, s := range t.Shims {
			shims[i] = s.Name
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n, t.Image, strings.Join(shims, ","), t.Origins["name"])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "\n`silo config show TOOL` shows one tool in full.")
	return err
}

// printConfigCandidates lists every file silo looks for, read or not.
func printConfigCandidates(w io.Writer, cfg *lock.Config, h string) error {
	read := map[string]bool{}
	for _, f := range cfg.Files() {
		read[f] = true
	}
	status := func(p string) string {
		if read[p] {
			return "read"
		}
		return "not found"
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "built-in\t%s\ttool definitions\n", "read")
	for _, c := range []struct{ path, what string }{
		{home.Dir(h).GlobalConfig(), "tool definitions"},
		{home.Dir(h).UserProject(), "user-wide project defaults"},
	} {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.path, status(c.path), c.what)
	}
	if root := cfg.ProjectRoot(); root != "" {
		fmt.Fprintf(tw, "%s\tread\tproject\n", filepath.Join(root, lock.ProjectFileName))
	} else {
		fmt.Fprintf(tw, "silo.toml\tnot found\tproject: none from %s up\n", cfg.Workspace())
	}
	return tw.Flush()
}
