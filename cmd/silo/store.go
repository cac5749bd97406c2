package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/silo-dev/silo/store"
	"github.com/silo-dev/silo/vm/kernel"
	"github.com/silo-dev/silo/vm/qemu"
)

// StoreCmd groups the low-level store commands.
type StoreCmd struct {
	Add      StoreAddCmd      `cmd:"" help:"Add a file or directory tree to the store and print its path."`
	Ls       StoreLsCmd       `cmd:"" help:"List the store's entries."`
	PathInfo StorePathInfoCmd `cmd:"" name:"path-info" help:"Show the metadata of entries given by name, path or hash prefix."`
	Verify   StoreVerifyCmd   `cmd:"" help:"Re-hash entries against their metadata; exit 1 when anything is wrong."`
	GC       StoreGCCmd       `cmd:"" name:"gc" help:"Remove every entry no root reaches, and the VM snapshots no run restores any more."`
	Roots    StoreRootsCmd    `cmd:"" help:"List the roots that keep entries alive."`
	Compress StoreCompressCmd `cmd:"" help:"Compress cold entries with zstd (decompressed again on use)."`
}

// storeStatus shows what long work is doing on stderr when it is a
// terminal, and nothing otherwise; the returned func clears it.
func storeStatus(g *Globals, msg string) func() {
	if g.Quiet || !term.IsTerminal(int(os.Stderr.Fd())) {
		return func() {}
	}
	fmt.Fprintf(os.Stderr, "%s…", msg)
	return func() { fmt.Fprint(os.Stderr, "\r\033[K") }
}

// StoreAddCmd adds a file or a tree.
type StoreAddCmd struct {
	Path        string   `arg:"" type:"existingpath" help:"File or directory to add (a directory is added as a tree)."`
	Name        string   `help:"Human part of the store name (default: the path's base name)."`
	Kind        string   `default:"file" help:"Kind of entry: layer, rootfs, setup, kernel, initfs, file, …"`
	Ref         []string `name:"ref" help:"Store name this entry refers to (repeatable); it must exist." placeholder:"ENTRY"`
	Deriver     string   `help:"Address the entry by this derivation hash (blake3:…) instead of its content." placeholder:"HASH"`
	Rebuildable bool     `help:"Allow cache gc --max-size/--max-age to evict it."`
	Root        string   `help:"Also make it a direct root of this name." placeholder:"NAME"`
	JSON        bool     `name:"json" help:"Print the entry as JSON."`
}

// Run adds the path.
func (c *StoreAddCmd) Run(g *Globals) error {
	o := store.AddOptions{Name: c.Name, Kind: store.Kind(c.Kind), References: c.Ref, Rebuildable: c.Rebuildable}
	if c.Deriver != "" {
		h, err := store.ParseHash(c.Deriver)
		if err != nil {
			return fmt.Errorf("--deriver: %w", err)
		}
		o.Deriver = h
	}
	s, err := g.OpenStore()
	if err != nil {
		return err
	}
	defer s.Close()
	fi, err := os.Stat(c.Path)
	if err != nil {
		return err
	}
	done := storeStatus(g, "adding "+c.Path)
	var e *store.Entry
	if fi.IsDir() {
		e, err = s.AddDir(c.Path, o)
	} else {
		e, err = s.AddFile(c.Path, o)
	}
	done()
	if err != nil {
		return err
	}
	if c.Root != "" {
		if err := s.AddRoot(c.Root, e.Name); err != nil {
			return err
		}
	}
	if c.JSON {
		return printJSON(os.Stdout, e)
	}
	fmt.Println(e.Path)
	return nil
}

// StoreLsCmd lists entries.
type StoreLsCmd struct {
	Kind string `help:"Only entries of this kind."`
	JSON bool   `name:"json" help:"Print the list as JSON."`
}

// Run lists the entries.
func (c *StoreLsCmd) Run(g *Globals) error { return listEntries(g, c.Kind, c.JSON, false) }

// listEntries prints the store's entries of kind ("" for all), by name or,
// with byUse, least recently used first.
func listEntries(g *Globals, kind string, asJSON, byUse bool) error {
	s, err := g.OpenStore()
	if err != nil {
		return err
	}
	defer s.Close()
	es, err := s.List(store.Filter{Kind: store.Kind(kind)})
	if err != nil {
		return err
	}
	if byUse {
		slices.SortStableFunc(es, func(a, b *store.Entry) int { return a.LastUsed.Compare(b.LastUsed) })
	}
	return storePrintEntries(es, asJSON)
}

// storePrintEntries prints entries as a table or as JSON.
func storePrintEntries(es []*store.Entry, asJSON bool) error {
	if asJSON {
		if es == nil {
			es = []*store.Entry{}
		}
		return printJSON(os.Stdout, es)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tKIND\tSIZE\tON DISK\tLAST USED")
	for _, e := range es {
		disk := formatBytes(e.DiskSize)
		if e.Compressed {
			disk += " (zstd)"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", e.Name, e.Kind, formatBytes(e.Size), disk, e.LastUsed.Format(time.DateTime))
	}
	return w.Flush()
}

// StorePathInfoCmd shows entries' metadata.
type StorePathInfoCmd struct {
	Entries []string `arg:"" help:"Store names, paths inside the store, name prefixes or blake3: content-hash prefixes."`
	JSON    bool     `name:"json" help:"Print the entries as JSON."`
}

// Run looks each argument up.
func (c *StorePathInfoCmd) Run(g *Globals) error {
	s, err := g.OpenStore()
	if err != nil {
		return err
	}
	defer s.Close()
	var out []*store.Entry
	for _, a := range c.Entries {
		es, err := storeLookup(s, a)
		if err != nil {
			return err
		}
		out = append(out, es...)
	}
	if c.JSON {
		return printJSON(os.Stdout, out)
	}
	for i, e := range out {
		if i > 0 {
			fmt.Println()
		}
		storePrintInfo(e)
	}
	return nil
}

// storeLookup resolves a name, a path or a prefix to entries.
func storeLookup(s *store.Store, a string) ([]*store.Entry, error) {
	if e, err := s.Get(a); err == nil {
		return []*store.Entry{e}, nil
	} else if strings.Contains(a, "/") {
		return nil, err
	}
	es, err := s.ByPrefix(a)
	if err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return nil, fmt.Errorf("%s: %w (see `silo store ls`)", a, store.ErrNotFound)
	}
	return es, nil
}

// storePrintInfo prints one entry's metadata as "key: value" lines.
func storePrintInfo(e *store.Entry) {
	fmt.Printf("path:         %s\n", e.Path)
	fmt.Printf("kind:         %s\n", e.Kind)
	fmt.Printf("content hash: %s\n", e.ContentHash)
	if !e.Deriver.IsZero() {
		fmt.Printf("deriver:      %s\n", e.Deriver)
	}
	fmt.Printf("size:         %s (%d bytes)\n", formatBytes(e.Size), e.Size)
	fmt.Printf("on disk:      %s (%d bytes)", formatBytes(e.DiskSize), e.DiskSize)
	if e.Compressed {
		fmt.Printf(", zstd-compressed from %s", formatBytes(e.RawDiskSize))
	}
	fmt.Println()
	for _, r := range e.References {
		fmt.Printf("references:   %s\n", r)
	}
	fmt.Printf("rebuildable:  %v\n", e.Rebuildable)
	for k, v := range e.Annotations {
		fmt.Printf("annotation:   %s=%s\n", k, v)
	}
	fmt.Printf("created:      %s\n", e.Created.Format(time.RFC3339))
	fmt.Printf("last used:    %s\n", e.LastUsed.Format(time.RFC3339))
}

// StoreVerifyCmd checks entries.
type StoreVerifyCmd struct {
	Entries []string `arg:"" optional:"" help:"Entries to check (default: all, plus a search for orphans)."`
	Repair  bool     `help:"Remove what is broken so that it can be fetched or built again."`
	JSON    bool     `name:"json" help:"Print the report as JSON."`
}

// Run verifies and exits 1 when a problem is left.
func (c *StoreVerifyCmd) Run(g *Globals) error {
	s, err := g.OpenStore()
	if err != nil {
		return err
	}
	defer s.Close()
	done := storeStatus(g, "verifying")
	rep, err := s.Verify(c.Entries, c.Repair)
	done()
	if err != nil {
		return err
	}
	if c.JSON {
		if err := printJSON(os.Stdout, rep); err != nil {
			return err
		}
	} else {
		for _, p := range rep.Problems {
			state := ""
			if p.Repaired {
				state = " (removed)"
			}
			fmt.Printf("%s: %s: %s%s\n", p.Kind, p.Name, p.Detail, state)
		}
		if !g.Quiet {
			fmt.Fprintf(os.Stderr, "%d entries checked, %d problems\n", rep.Checked, len(rep.Problems))
			if !rep.OK() && !c.Repair {
				fmt.Fprintln(os.Stderr, "run `silo store verify --repair` to remove what is broken")
			}
		}
	}
	if !rep.OK() {
		return &ExitError{Code: 1}
	}
	return nil
}

// StoreGCCmd collects garbage.
type StoreGCCmd struct {
	DryRun bool `name:"dry-run" help:"List what would be removed and how much space it takes; remove nothing."`
	JSON   bool `name:"json" help:"Print the report as JSON."`
}

// Run collects.
func (c *StoreGCCmd) Run(g *Globals) error {
	return storeGC(g, store.GCOptions{DryRun: c.DryRun}, c.JSON)
}

// collect runs a collection (kernel.GC: stale snapshots' roots dropped
// first) and then removes the RAM files made of the snapshots it removed.
func collect(g *Globals, st *store.Store, o store.GCOptions) (*store.GCReport, error) {
	rep, err := kernel.GC(st, o)
	if err == nil && !o.DryRun {
		qemu.RemoveStaleRAM(g.home, st.Dir())
	}
	return rep, err
}

// storeGC runs a collection and prints its report.
func storeGC(g *Globals, o store.GCOptions, asJSON bool) error {
	s, err := g.OpenStore()
	if err != nil {
		return err
	}
	defer s.Close()
	done := storeStatus(g, "collecting garbage")
	rep, err := collect(g, s, o)
	done()
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(os.Stdout, rep)
	}
	verb, dropVerb := "removed", "dropped"
	if o.DryRun {
		verb, dropVerb = "would remove", "would drop"
	}
	for _, it := range rep.Removed {
		why := ""
		switch {
		case it.Evicted:
			why = " (evicted)"
		case it.Orphan:
			why = " (orphan)"
		}
		fmt.Printf("%s %s\t%s%s\n", verb, it.Name, formatBytes(it.DiskSize), why)
	}
	for _, r := range rep.Dropped {
		fmt.Printf("%s root %s (a VM snapshot no run restores any more)\n", dropVerb, r)
	}
	for _, r := range rep.PrunedRoots {
		fmt.Printf("pruned root %s (the file is gone)\n", r)
	}
	if !g.Quiet {
		fmt.Fprintf(os.Stderr, "%s %d entries, %s; %d entries (%s) kept\n", verb, len(rep.Removed), formatBytes(rep.Freed), rep.Live, formatBytes(rep.LiveSize))
	}
	return nil
}

// StoreRootsCmd lists roots.
type StoreRootsCmd struct {
	JSON bool `name:"json" help:"Print the roots as JSON."`
}

// Run lists the roots.
func (c *StoreRootsCmd) Run(g *Globals) error {
	s, err := g.OpenStore()
	if err != nil {
		return err
	}
	rs, err := s.Roots()
	s.Close()
	if err != nil {
		return err
	}
	// This command's own handle is a temporary root of nothing: leave it out.
	out := []store.Root{}
	for _, r := range rs {
		if r.Kind != store.RootTemporary || len(r.Entries) > 0 {
			out = append(out, r)
		}
	}
	if c.JSON {
		return printJSON(os.Stdout, out)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "KIND\tROOT\tENTRIES")
	for _, r := range out {
		name := r.Name
		if r.Dangling {
			name += " (gone)"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", r.Kind, name, strings.Join(r.Entries, " "))
	}
	return w.Flush()
}

// StoreCompressCmd compresses entries.
type StoreCompressCmd struct {
	Entries  []string `arg:"" optional:"" help:"Entries to compress (default: the cold ones)."`
	All      bool     `help:"Compress every entry that is not in use, cold or not."`
	DryRun   bool     `name:"dry-run" help:"List what would be compressed; change nothing."`
	ColdDays int      `name:"cold-days" default:"14" help:"An entry is cold when unused for this many days."`
	JSON     bool     `name:"json" help:"Print the report as JSON."`
}

// Run compresses.
func (c *StoreCompressCmd) Run(g *Globals) error {
	return storeCompress(g, store.CompressOptions{Names: c.Entries, All: c.All, DryRun: c.DryRun, ColdFor: time.Duration(c.ColdDays) * 24 * time.Hour}, c.JSON)
}

// storeCompress compresses and prints the report.
func storeCompress(g *Globals, o store.CompressOptions, asJSON bool) error {
	if o.ColdFor <= 0 {
		return errors.New("--cold-days must be at least 1")
	}
	s, err := g.OpenStore()
	if err != nil {
		return err
	}
	defer s.Close()
	done := storeStatus(g, "compressing")
	rep, err := s.Compress(o)
	done()
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(os.Stdout, rep)
	}
	for _, it := range rep.Entries {
		if o.DryRun {
			fmt.Printf("would compress %s\t%s\n", it.Name, formatBytes(it.Before))
		} else {
			fmt.Printf("compressed %s\t%s -> %s\n", it.Name, formatBytes(it.Before), formatBytes(it.After))
		}
	}
	for _, n := range rep.Skipped {
		fmt.Printf("skipped %s (in use)\n", n)
	}
	for _, n := range rep.Kept {
		fmt.Printf("kept %s (zstd would not make it smaller)\n", n)
	}
	if !g.Quiet && !o.DryRun {
		fmt.Fprintf(os.Stderr, "%d entries compressed, %s saved\n", len(rep.Entries), formatBytes(rep.Saved))
	}
	return nil
}
