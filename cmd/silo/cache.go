package main

import (
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/silo-dev/silo/lock"
	"github.com/silo-dev/silo/store"
)

// CacheCmd groups silo's cache verbs, on top of the store.
type CacheCmd struct {
	Report   CacheReportCmd   `cmd:"" help:"Disk use per kind of entry: on disk and apparent, compressed, orphans."`
	List     CacheListCmd     `cmd:"" help:"List cached entries, least recently used first."`
	GC       CacheGCCmd       `cmd:"" name:"gc" help:"Remove unreachable entries; with limits, evict rebuildable ones too."`
	Compress CacheCompressCmd `cmd:"" help:"Compress entries unused for 14 days (or all with --all)."`
	Clean    CacheCleanCmd    `cmd:"" help:"Remove everything that can be fetched or rebuilt and nothing pins."`
}

// CacheReportCmd prints the disk report.
type CacheReportCmd struct {
	JSON bool `name:"json" help:"Print the report as JSON."`
}

// Run prints the report.
func (c *CacheReportCmd) Run(g *Globals) error {
	s, err := g.OpenStore()
	if err != nil {
		return err
	}
	defer s.Close()
	rep, err := s.Report()
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(os.Stdout, rep)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "KIND\tENTRIES\tCOMPRESSED\tON DISK\tAPPARENT\t")
	for _, u := range append(rep.Kinds, rep.Total) {
		k := string(u.Kind)
		if k == "" {
			k = "total"
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\t\n", k, u.Count, u.Compressed, formatBytes(u.DiskSize), formatBytes(u.Size))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Printf("compression saves %s; %d orphaned files (%s, removed by gc); staging %s\n",
		formatBytes(rep.Saved), rep.OrphanFiles, formatBytes(rep.OrphanBytes), formatBytes(rep.TmpBytes))
	return nil
}

// CacheListCmd lists entries by last use.
type CacheListCmd struct {
	Kind string `help:"Only entries of this kind."`
	JSON bool   `name:"json" help:"Print the list as JSON."`
}

// Run lists.
func (c *CacheListCmd) Run(g *Globals) error { return listEntries(g, c.Kind, c.JSON, true) }

// CacheGCCmd collects with optional eviction limits.
type CacheGCCmd struct {
	DryRun  bool  `name:"dry-run" help:"List what would be removed; remove nothing."`
	MaxSize int64 `name:"max-size" help:"Evict rebuildable entries, least recently used first, until the cache takes at most this many MB." placeholder:"MB"`
	MaxAge  int   `name:"max-age" help:"Evict rebuildable entries unused for more than this many days." placeholder:"DAYS"`
	JSON    bool  `name:"json" help:"Print the report as JSON."`
	// ToolCaches applies the project's [cache.tools] limits instead.
	ToolCaches bool `name:"tool-caches" help:"Evict files of this project's package caches by access time, as [cache.tools] in silo.toml bounds them, instead of store entries."`
}

// Run collects.
func (c *CacheGCCmd) Run(g *Globals) error {
	if c.MaxSize < 0 || c.MaxAge < 0 {
		return fmt.Errorf("--max-size and --max-age must not be negative")
	}
	if c.ToolCaches {
		return c.toolCaches(g)
	}
	return storeGC(g, store.GCOptions{DryRun: c.DryRun, MaxSize: c.MaxSize << 20, MaxAge: time.Duration(c.MaxAge) * 24 * time.Hour}, c.JSON)
}

// CacheCompressCmd compresses cold entries.
type CacheCompressCmd struct {
	All    bool `help:"Compress every entry that is not in use, cold or not."`
	DryRun bool `name:"dry-run" help:"List what would be compressed; change nothing."`
	JSON   bool `name:"json" help:"Print the report as JSON."`
}

// Run compresses.
func (c *CacheCompressCmd) Run(g *Globals) error {
	return storeCompress(g, store.CompressOptions{All: c.All, DryRun: c.DryRun, ColdFor: store.DefaultColdFor}, c.JSON)
}

// CacheCleanCmd removes every evictable entry.
type CacheCleanCmd struct {
	DryRun bool `name:"dry-run" help:"List what would be removed; remove nothing."`
	JSON   bool `name:"json" help:"Print the report as JSON."`
}

// Run is a GC that evicts every rebuildable entry nothing pins.
func (c *CacheCleanCmd) Run(g *Globals) error {
	return storeGC(g, store.GCOptions{DryRun: c.DryRun, MaxSize: 1}, c.JSON)
}

// toolCaches is silo cache gc --tool-caches.
func (c *CacheGCCmd) toolCaches(g *Globals) error {
	cfg, err := loadConfig(g.home, lock.Options{Home: g.home, Notes: os.Stderr})
	if err != nil {
		return err
	}
	n, freed, err := toolCacheGC(cfg, c.DryRun)
	if c.JSON {
		if err != nil {
			return err
		}
		return printJSON(os.Stdout, struct {
			DryRun bool  `json:"dryRun"`
			Files  int   `json:"files"`
			Freed  int64 `json:"freed"`
		}{c.DryRun, n, freed})
	}
	verb := "removed"
	if c.DryRun {
		verb = "would remove"
	}
	fmt.Printf("%s %d files of the package caches, %s\n", verb, n, formatBytes(freed))
	return err
}
