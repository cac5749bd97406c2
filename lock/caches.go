package lock

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"github.com/silo-dev/silo/internal/fsutil"
	"maps"
	"path/filepath"
	"slices"
	"strings"
)

// Where tool caches live, under $SILO_HOME/cache.
const (
	cacheProjectDir = "project" // project/KEY/TOOL/…: one project's caches
	cacheSharedDir  = "shared"  // shared/TOOL/…: caches the user shares between projects
)

// checkCacheHost validates a cache's `host` key: a relative path that does
// not climb out with `..`. In a project's silo.toml it must also stay in
// the tool's own area: TOOL/… . It returns the cleaned name.
func checkCacheHost(host, tool string, project bool) (string, string) {
	name, msg := checkRelative(host, "cache host")
	if msg != "" {
		return "", msg + ": it names a directory in the tool's cache area, such as \"" + tool + "/pip\""
	}
	if project && !strings.HasPrefix(name, tool+"/") {
		return "", fmt.Sprintf("cache host %q is outside tool %s's own cache area: a project's silo.toml names caches under %q, such as \"%s/pip\"", host, tool, tool+"/", tool)
	}
	return name, ""
}

// cacheHost is where c's directory is: under the project's area, or the
// shared one.
func (b *builder) cacheHost(c Cache) string {
	if c.Shared {
		return filepath.Join(c.Root, cacheSharedDir, c.Name)
	}
	return filepath.Join(c.Root, cacheProjectDir, b.projectKey(), c.Name)
}

// projectKey names the workspace's cache area: its base name, for people,
// and a hash of its path, so that two projects never share one.
func (b *builder) projectKey() string {
	if b.key == "" {
		sum := sha256.Sum256([]byte(b.workspace))
		base := strings.Map(func(r rune) rune {
			if strings.ContainsRune(alnum+"._-", r) {
				return r
			}
			return '_'
		}, filepath.Base(b.workspace))
		if len(base) > 32 {
			base = base[:32]
		}
		b.key = strings.TrimLeft(base, ".") + "-" + hex.EncodeToString(sum[:8])
	}
	return b.key
}

// checkCacheDirs refuses two caches, of any tools, whose host directories
// are one, or one inside the other: a sandbox could replace the inner one
// with a symlink, or plant code for the other tool.
func (b *builder) checkCacheDirs(c *Config) {
	type mount struct {
		tool string
		i    int
		c    Cache
	}
	var all []mount
	for _, n := range slices.Sorted(maps.Keys(c.tools)) {
		for i, cc := range c.tools[n].Caches {
			all = append(all, mount{n, i, cc})
		}
	}
	for j, m := range all {
		for _, o := range all[:j] {
			var how string
			switch {
			case m.c.Host == o.c.Host:
				how = "is the same directory as"
			case fsutil.Within(m.c.Host, o.c.Host):
				how = "lies inside"
			case fsutil.Within(o.c.Host, m.c.Host):
				how = "holds"
			default:
				continue
			}
			src := c.tools[m.tool].Origins["caches."+idx(m.i)]
			osrc := c.tools[o.tool].Origins["caches."+idx(o.i)]
			b.errs = append(b.errs, &Error{File: src.File, Line: src.Line, Column: src.Column, Msg: fmt.Sprintf(
				"cache %s of tool %s (%s) %s cache %s of tool %s (%s, set at %s): every cache needs a directory of its own; change one `host`",
				m.c.Guest, m.tool, m.c.Name, how, o.c.Guest, o.tool, o.c.Name, osrc)})
			break
		}
	}
}

// applyCacheLimits gives each tool cache its size bound: its perMount
// entry, else [cache.tools] maxSizeMB.
func applyCacheLimits(c *Config) {
	for _, t := range c.tools {
		for i := range t.Caches {
			mb, ok := c.cache.Tools.PerMount[t.Caches[i].Name]
			if !ok {
				mb = c.cache.Tools.MaxSizeMB
			}
			t.Caches[i].MaxSizeMB = mb
		}
	}
}
