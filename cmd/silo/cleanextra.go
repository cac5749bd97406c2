package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/silo-dev/silo/lock"
	"github.com/silo-dev/silo/store"
)

// Help is silo clean's example.
func (c CleanCmd) Help() string {
	return `Examples:
  silo clean                 # caches, kept node_modules/.venv, and the project's rootfs entries
  silo clean --caches-only
  silo clean --rootfs-only   # silo pull brings them back`
}

// clean is silo clean's part beyond the kept excluded directories: it
// refuses while a sandbox of the project runs (unless --force), removes
// the project's own package caches (not the shared ones) and, unless
// --caches-only, unpins the project's silo.lock entries and collects.
func (c CleanCmd) clean(g *Globals, cfg *lock.Config) error {
	ws := cfg.Workspace()
	for _, r := range running(g.home) {
		if r.Project == ws && !c.Force {
			return fmt.Errorf("a sandbox of this project runs (pid %d): stop it, or run silo clean --force", r.PID)
		}
	}
	if !c.RootfsOnly {
		freed, err := cleanCaches(cfg)
		if err != nil {
			return err
		}
		if !g.Quiet && freed > 0 {
			fmt.Fprintf(os.Stderr, "silo: removed this project's package caches (%s)\n", formatBytes(freed))
		}
	}
	if c.CachesOnly {
		return nil
	}
	return cleanRootfs(g, cfg)
}

// cleanCaches removes the project's own cache directories.
func cleanCaches(cfg *lock.Config) (int64, error) {
	var freed int64
	seen := map[string]bool{}
	for _, name := range cfg.ToolNames() {
		t, err := cfg.Tool(name)
		if err != nil {
			return freed, err
		}
		for _, ca := range t.Caches {
			if ca.Shared || seen[ca.Host] {
				continue
			}
			seen[ca.Host] = true
			if _, err := os.Lstat(ca.Host); err != nil {
				continue
			}
			freed += dirSize(ca.Host)
			if err := removeTree(ca.Host); err != nil {
				return freed, fmt.Errorf("remove the cache %s: %w", ca.Host, err)
			}
		}
	}
	return freed, nil
}

// cleanRootfs unpins the entries the project's silo.lock roots and
// collects what nothing else keeps.
func cleanRootfs(g *Globals, cfg *lock.Config) error {
	st, err := g.OpenStore()
	if err != nil {
		return err
	}
	defer st.Close()
	lockPath := filepath.Join(cfg.Workspace(), "silo.lock")
	_ = st.RemoveIndirectRoot(lockPath) // none when the project never built
	rep, err := collect(g, st, store.GCOptions{})
	if err != nil {
		return err
	}
	if !g.Quiet {
		fmt.Fprintf(os.Stderr, "silo: freed %s of store entries nothing else keeps (silo pull brings this project's back)\n", formatBytes(rep.Freed))
	}
	return nil
}
