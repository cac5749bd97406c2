package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/silo-dev/silo/internal/fsutil"
	"github.com/silo-dev/silo/internal/home"
	"github.com/silo-dev/silo/lock"
)

// ShimCmd is silo shim TOOL add|remove|list [NAME…].
type ShimCmd struct {
	Tool   string   `arg:"" help:"The tool." predictor:"tool"`
	Action string   `arg:"" enum:"add,remove,list" help:"add, remove or list."`
	Names  []string `arg:"" optional:"" help:"Shim names: NAME runs NAME in the sandbox, HOST:GUEST runs GUEST when you type HOST."`
	JSON   bool     `name:"json" help:"list: print the shims as JSON."`
}

// Help is silo shim's example.
func (c *ShimCmd) Help() string {
	return `Examples:
  silo shim python add ipython         # ipython on PATH runs ipython in python's sandbox
  silo shim python add py:python3      # py runs python3
  silo shim python remove ipython
  silo shim python list --json`
}

// Run edits the tool's shims in config.toml and the links in bin/.
func (c *ShimCmd) Run(g *Globals) error {
	cfg, err := loadConfig(g.home, lock.Options{Home: g.home, Notes: os.Stderr})
	if err != nil {
		return err
	}
	t, err := cfg.Tool(c.Tool)
	if err != nil {
		return err
	}
	switch c.Action {
	case "list":
		return printShims(g.home, t, c.JSON)
	case "add":
		return c.add(g, cfg, t)
	}
	return c.remove(g, t)
}

// shimRow is one shim of silo shim TOOL list --json.
type shimRow struct {
	Name    string `json:"name"`
	Command string `json:"command"`
	Linked  bool   `json:"linked"`
	Path    string `json:"path"`
}

func printShims(homeDir string, t *lock.Tool, asJSON bool) error {
	rows := []shimRow{}
	for _, s := range t.Shims {
		p := home.Dir(homeDir).Shim(s.Name)
		_, err := os.Lstat(p)
		rows = append(rows, shimRow{Name: s.Name, Command: s.Command, Linked: err == nil, Path: p})
	}
	if asJSON {
		return printJSON(os.Stdout, rows)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SHIM\tRUNS\tON PATH")
	for _, r := range rows {
		on := "no (silo install " + t.Name + " links it)"
		if r.Linked {
			on = r.Path
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, r.Command, on)
	}
	return tw.Flush()
}

func (c *ShimCmd) add(g *Globals, cfg *lock.Config, t *lock.Tool) error {
	if len(c.Names) == 0 {
		return usageErrorf("name the shims to add: silo shim %s add NAME", c.Tool)
	}
	shims := shimWords(t.Shims)
	for _, w := range c.Names {
		host, _, _ := strings.Cut(w, ":")
		if err := checkShimName(host); err != nil {
			return err
		}
		if holder, _, ok := cfg.Shim(host); ok && holder != t.Name && installed(g.home, holder) {
			return fmt.Errorf("the shim %s belongs to the tool %s: remove it there first (silo shim %s remove %s)", host, holder, holder, host)
		}
		shims = slices.DeleteFunc(shims, func(s string) bool { h, _, _ := strings.Cut(s, ":"); return h == host })
		shims = append(shims, w)
	}
	if err := setToolShims(g.home, t.Name, shims); err != nil {
		return err
	}
	for _, w := range c.Names {
		host, _, _ := strings.Cut(w, ":")
		if err := linkShim(g.home, host); err != nil {
			return err
		}
		if !g.Quiet {
			fmt.Fprintf(os.Stderr, "silo: %s now runs in %s's sandbox (%s)\n", host, t.Name, home.Dir(g.home).Shim(host))
		}
	}
	return nil
}

func (c *ShimCmd) remove(g *Globals, t *lock.Tool) error {
	if len(c.Names) == 0 {
		return usageErrorf("name the shims to remove: silo shim %s remove NAME", c.Tool)
	}
	shims := shimWords(t.Shims)
	for _, n := range c.Names {
		i := slices.IndexFunc(shims, func(s string) bool { h, _, _ := strings.Cut(s, ":"); return h == n })
		if i < 0 {
			return fmt.Errorf("%s has no shim %s: silo shim %s list shows its shims", t.Name, n, t.Name)
		}
		shims = slices.Delete(shims, i, i+1)
	}
	if err := setToolShims(g.home, t.Name, shims); err != nil {
		return err
	}
	for _, n := range c.Names {
		if err := unlinkShim(g.home, n); err != nil {
			return err
		}
	}
	return nil
}

// shimWords writes shims as config.toml does: NAME, or HOST:GUEST.
func shimWords(shims []lock.Shim) []string {
	out := []string{}
	for _, s := range shims {
		if s.Name == s.Command {
			out = append(out, s.Name)
		} else {
			out = append(out, s.Name+":"+s.Command)
		}
	}
	return out
}

// installed reports whether config.toml defines the tool.
func installed(homeDir, tool string) bool {
	data, _ := os.ReadFile(home.Dir(homeDir).GlobalConfig())
	return lock.ToolBlock(data, tool) != nil
}

// setToolShims sets the tool's shims in config.toml, copying the
// catalog's definition there first when config.toml has none.
func setToolShims(homeDir, tool string, shims []string) error {
	return editToolBlock(homeDir, tool, func(block []byte) ([]byte, error) {
		return lock.SetBlockKey(block, "shims", lock.TOMLStrings(shims)), nil
	})
}

// editToolBlock changes the tool's [tool.NAME] block of config.toml
// (the catalog's when config.toml has none), and writes the file only
// when silo still loads it.
func editToolBlock(homeDir, tool string, edit func([]byte) ([]byte, error)) error {
	path := home.Dir(homeDir).GlobalConfig()
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	block := lock.ToolBlock(data, tool)
	if block == nil {
		if block = lock.CatalogBlock(tool); block == nil {
			return fmt.Errorf("%s has no definition to edit: install it first (silo install %s --image REF)", tool, tool)
		}
	}
	block, err = edit(slices.Clone(block))
	if err != nil {
		return err
	}
	return writeConfig(homeDir, lock.SetToolBlock(data, tool, block))
}

// writeConfig writes config.toml if silo loads it, so that an edit never
// leaves the user with a file silo refuses (a file that did not load
// before is written as asked).
func writeConfig(homeDir string, data []byte) error {
	path := home.Dir(homeDir).GlobalConfig()
	check, err := os.MkdirTemp("", "silo-config-check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(check)
	if err := os.WriteFile(filepath.Join(check, lock.GlobalConfigName), data, 0o600); err != nil {
		return err
	}
	if _, err := lock.Load(lock.Options{Home: check, Dir: check, UserHome: check}); err != nil {
		if _, before := lock.Load(lock.Options{Home: homeDir, Dir: check, UserHome: check}); before == nil {
			return fmt.Errorf("silo did not change %s, because the result would not load: %w", path, err)
		}
	}
	return fsutil.WriteFile(path, data, fsutil.WriteOptions{Perm: 0o600, Sync: true, MkdirPerm: 0o700})
}
