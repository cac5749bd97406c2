package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/silo-dev/silo/derive/oci"
	"github.com/silo-dev/silo/internal/home"
	"github.com/silo-dev/silo/lock"
	"github.com/silo-dev/silo/store"
	"github.com/silo-dev/silo/vm/kernel"
)

// UninstallCmd is silo uninstall TOOL.
type UninstallCmd struct {
	Tools     []string `arg:"" help:"The tools to uninstall." predictor:"installed"`
	KeepImage bool     `name:"keep-image" help:"Keep the image and rootfs in the store (a GC leaves them)."`
}

// Help is silo uninstall's example.
func (c *UninstallCmd) Help() string {
	return "Examples:\n  silo uninstall ruby\n  silo uninstall node --keep-image"
}

// Run removes the tools' shims, definitions, pins and roots.
func (c *UninstallCmd) Run(g *Globals) error {
	st, err := g.OpenStore()
	if err != nil {
		return err
	}
	defer st.Close()
	for _, name := range c.Tools {
		if err := c.uninstall(g, st, lock.CanonicalTool(name)); err != nil {
			return err
		}
	}
	if c.KeepImage || g.Quiet {
		return nil
	}
	rep, err := kernel.GC(st, store.GCOptions{DryRun: true})
	if err == nil {
		fmt.Fprintf(os.Stderr, "silo: silo store gc now frees %s that nothing else uses\n", formatBytes(rep.Freed))
	}
	return nil
}

func (c *UninstallCmd) uninstall(g *Globals, st *store.Store, name string) error {
	path := home.Dir(g.home).GlobalConfig()
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if lock.ToolBlock(data, name) == nil {
		return fmt.Errorf("%s is not installed: silo list shows what is", name)
	}
	cfg, err := lock.Load(lock.Options{Home: g.home, Dir: os.TempDir()})
	if err != nil {
		return err
	}
	t, err := cfg.Tool(name)
	if err != nil {
		return err
	}
	rest := lock.RemoveToolBlock(data, name)
	if err := writeConfig(g.home, rest); err != nil {
		return err
	}
	for _, s := range t.Shims {
		if holder, _, ok := cfg.Shim(s.Name); ok && holder != name {
			continue
		}
		if err := unlinkShim(g.home, s.Name); err != nil {
			return err
		}
	}
	if _, err := setPin(g.home, name, false); err != nil {
		return err
	}
	if !c.KeepImage {
		c.unroot(g, st, t, rest)
	}
	if !g.Quiet {
		fmt.Fprintf(os.Stderr, "silo: uninstalled %s\n", name)
	}
	return nil
}

// unroot removes the roots that kept the tool's image and rootfs: its own,
// and the image's pull root unless another installed tool uses the image.
func (c *UninstallCmd) unroot(g *Globals, st *store.Store, t *lock.Tool, config []byte) {
	for _, kind := range []string{"image", "rootfs-dir", "rootfs-ext4"} {
		_ = st.RemoveRoot(toolRoot(t.Name, kind)) // absent when never pulled
	}
	if cfg, err := lock.Load(lock.Options{Home: g.home, Dir: os.TempDir()}); err == nil {
		for _, n := range cfg.ToolNames() {
			if o, err := cfg.Tool(n); err == nil && o.Image == t.Image && lock.ToolBlock(config, n) != nil {
				return
			}
		}
	}
	_ = oci.Remove(st, t.Image, oci.DefaultPlatform())
}

// ListCmd is silo list.
type ListCmd struct {
	Available bool `help:"List the catalog: every tool silo install knows, with its versions."`
	JSON      bool `name:"json" help:"Print the list as JSON."`
}

// Help is silo list's example.
func (c *ListCmd) Help() string {
	return "Examples:\n  silo list\n  silo list --available\n  silo list --json"
}

// listed is one tool of silo list --json.
type listed struct {
	Name      string   `json:"name"`
	Image     string   `json:"image"`
	Digest    string   `json:"digest,omitempty"`
	Size      int64    `json:"size,omitempty"`
	Shims     []string `json:"shims"`
	Pinned    bool     `json:"pinned"`
	Pulled    bool     `json:"pulled"`
	Installed bool     `json:"installed"`
	Versions  []string `json:"versions,omitempty"`
	Aliases   []string `json:"aliases,omitempty"`
}

// Run prints the installed tools or the catalog.
func (c *ListCmd) Run(g *Globals) error {
	data, _ := os.ReadFile(home.Dir(g.home).GlobalConfig())
	cfg, err := lock.Load(lock.Options{Home: g.home, Dir: os.TempDir()})
	if err != nil {
		return err
	}
	if c.Available {
		return c.available(data)
	}
	st, err := g.OpenStore()
	if err != nil {
		return err
	}
	defer st.Close()
	pins := readPins(g.home)
	rows := []listed{}
	for _, n := range cfg.ToolNames() {
		if lock.ToolBlock(data, n) == nil {
			continue
		}
		t, err := cfg.Tool(n)
		if err != nil {
			return err
		}
		r := listed{Name: n, Image: t.Image, Shims: shimWords(t.Shims), Pinned: pins[n], Installed: true}
		if im, _, err := oci.Lookup(st, t.Image, oci.DefaultPlatform()); err == nil {
			r.Pulled, r.Digest, r.Size = true, im.Digest, im.Size()
		}
		rows = append(rows, r)
	}
	if c.JSON {
		return printJSON(os.Stdout, rows)
	}
	if len(rows) == 0 {
		fmt.Fprintln(os.Stderr, "silo: no tool is installed: silo list --available shows the catalog; silo install python installs one")
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOOL\tIMAGE\tDIGEST\tSIZE\tSHIMS\tPINNED")
	for _, r := range rows {
		digest, size := "not pulled", "-"
		if r.Pulled {
			digest, size = imageShortDigest(r.Digest), formatSIBytes(r.Size)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Image, digest, size, strings.Join(r.Shims, ","), yesNo(r.Pinned))
	}
	return tw.Flush()
}

// available prints the catalog.
func (c *ListCmd) available(config []byte) error {
	cat, err := catalog()
	if err != nil {
		return err
	}
	rows := []listed{}
	for _, n := range cat.ToolNames() {
		t, err := cat.Tool(n)
		if err != nil {
			return err
		}
		r := listed{Name: n, Image: t.Image, Shims: shimWords(t.Shims), Versions: t.Versions, Installed: lock.ToolBlock(config, n) != nil}
		if n == "claude" {
			r.Aliases = []string{"claude-code"}
		}
		rows = append(rows, r)
	}
	if c.JSON {
		return printJSON(os.Stdout, rows)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOOL\tVERSIONS (default first)\tSHIMS\tINSTALLED")
	for _, r := range rows {
		name := r.Name
		if len(r.Aliases) > 0 {
			name += " (" + strings.Join(r.Aliases, ", ") + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, strings.Join(r.Versions, ", "), strings.Join(r.Shims, ","), yesNo(r.Installed))
	}
	return tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
