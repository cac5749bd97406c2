package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// GCOptions tune a collection.
type GCOptions struct {
	DryRun  bool          // report what would go, remove nothing
	MaxSize int64         // evict rebuildable entries, least recently used first, until the store's disk size is at most this (0: no limit)
	MaxAge  time.Duration // evict rebuildable entries unused for longer than this (0: no limit)
	// DropRoots names direct roots the collection removes first, under
	// its lock, each only while it still names the entry given (a root
	// re-pointed since is kept); a dry run marks as if they were gone and
	// removes none.
	DropRoots map[string]string
}

// GCItem is one entry (or stray file) a collection removed or would remove.
type GCItem struct {
	Name     string `json:"name"`
	Kind     Kind   `json:"kind,omitempty"`
	DiskSize int64  `json:"diskSize"`
	Evicted  bool   `json:"evicted,omitempty"` // reachable, but evicted by --max-size/--max-age
	Orphan   bool   `json:"orphan,omitempty"`  // a file without metadata, or metadata without a file
}

// GCReport says what a collection did (or, with DryRun, would do).
type GCReport struct {
	DryRun      bool     `json:"dryRun,omitempty"`
	Removed     []GCItem `json:"removed"`
	Freed       int64    `json:"freed"`        // disk bytes
	Live        int      `json:"live"`         // entries kept
	LiveSize    int64    `json:"liveSize"`     // their disk bytes
	PrunedRoots []string `json:"prunedRoots"`  // dangling indirect roots removed
	Dropped     []string `json:"droppedRoots"` // DropRoots removed (or, dry, that would be)

	Locked time.Duration `json:"lockedNs"` // how long the store lock was held (mark and sweep)
	Total  time.Duration `json:"totalNs"`  // including deleting the swept files afterwards
}

// GC collects every entry no root reaches: it marks from the direct,
// indirect and live temporary roots through references and sweeps the
// rest, then, with MaxSize or MaxAge, evicts rebuildable entries least
// recently used first, never one a temporary or indirect root pins. It holds
// the store lock exclusively while it marks and sweeps.
func (s *Store) GC(o GCOptions) (*GCReport, error) {
	unlock, err := s.lock(true)
	if err != nil {
		return nil, err
	}
	trash, err := s.ownTmp()
	if err != nil {
		unlock()
		return nil, err
	}
	trash = filepath.Join(trash, fmt.Sprintf("trash-%d", time.Now().UnixNano()))
	start := time.Now()
	r, err := s.gcLocked(o, trash)
	unlock()
	locked := time.Since(start)
	removeTrash(trash)
	if err != nil {
		return nil, fmt.Errorf("collect garbage: %w", err)
	}
	r.Locked, r.Total = locked, time.Since(start)
	return r, nil
}

// gcState is what one collection knows.
type gcState struct {
	s      *Store
	metas  map[string]*metaFile // metadata read so far (nil: unreadable)
	marked map[string]bool
}

// mark marks everything reachable from roots, breadth first, reading each
// level's metadata in parallel.
func (g *gcState) mark(roots []string, skip map[string]bool) map[string]bool {
	marked := map[string]bool{}
	frontier := roots
	for len(frontier) > 0 {
		var todo []string
		for _, n := range frontier {
			if !marked[n] && !skip[n] {
				marked[n] = true
				todo = append(todo, n)
			}
		}
		g.prefetch(todo)
		frontier = frontier[:0:0]
		for _, n := range todo {
			m := g.metas[n]
			if m == nil {
				// Unreadable metadata: keep what a root names (verify
				// reports it), but its references cannot be followed.
				if _, err := os.Lstat(g.s.metaPath(n)); err != nil {
					delete(marked, n)
				}
				continue
			}
			frontier = append(frontier, m.References...)
		}
	}
	return marked
}

// prefetch reads the metadata of names not read yet, in parallel.
func (g *gcState) prefetch(names []string) {
	var todo []string
	for _, n := range names {
		if _, ok := g.metas[n]; !ok {
			todo = append(todo, n)
		}
	}
	out := make([]*metaFile, len(todo))
	var wg sync.WaitGroup
	workers := 8
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(todo); i += workers {
				if m, err := g.s.readMeta(todo[i]); err == nil {
					out[i] = m
				}
			}
		}()
	}
	wg.Wait()
	for i, n := range todo {
		g.metas[n] = out[i]
	}
}

// meta returns n's metadata, reading it once; nil when absent or corrupt.
func (g *gcState) meta(n string) *metaFile {
	if m, ok := g.metas[n]; ok {
		return m
	}
	m, err := g.s.readMeta(n)
	if err != nil {
		m = nil
	}
	g.metas[n] = m
	return m
}

func (s *Store) gcLocked(o GCOptions, trash string) (*GCReport, error) {
	rep := &GCReport{DryRun: o.DryRun, Removed: []GCItem{}, PrunedRoots: []string{}, Dropped: []string{}}
	if !o.DryRun {
		if err := s.sweepTmp(true); err != nil {
			return nil, err
		}
	}
	all, protected, err := s.gcRoots(o, rep)
	if err != nil {
		return nil, err
	}
	g := &gcState{s: s, metas: map[string]*metaFile{}}
	g.marked = g.mark(all, nil)
	evicted := map[string]bool{}
	if o.MaxSize > 0 || o.MaxAge > 0 {
		evicted = g.evict(o, g.mark(protected, nil))
		for n := range evicted {
			rep.Removed = append(rep.Removed, GCItem{Name: n, Kind: g.metas[n].Kind, DiskSize: g.metas[n].DiskSize, Evicted: true})
		}
		g.marked = g.mark(all, evicted)
	}
	names, err := listNames(s.meta, ".json")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if g.marked[n] {
			rep.Live++
			if m := g.metas[n]; m != nil {
				rep.LiveSize += m.DiskSize
			}
			continue
		}
		if !evicted[n] {
			rep.Removed = append(rep.Removed, g.garbage(n, o.DryRun))
		}
	}
	orphans, zsts, err := s.orphanFiles(names)
	if err != nil {
		return nil, err
	}
	rep.Removed = append(rep.Removed, orphans...)
	for _, it := range rep.Removed {
		rep.Freed += it.DiskSize
		if o.DryRun {
			continue
		}
		if err := s.removeEntry(it.Name, zsts[it.Name], trash); err != nil {
			return nil, err
		}
	}
	if !o.DryRun {
		s.pruneRealisations()
		s.pruneIndex()
	}
	return rep, nil
}

// garbage describes the unreachable entry n. A plain file is measured with
// lstat; metadata is read only for trees, compressed entries, and for the
// kinds a dry run lists.
func (g *gcState) garbage(n string, dryRun bool) GCItem {
	it := GCItem{Name: n}
	if !dryRun {
		if fi, err := os.Lstat(g.s.entryPath(n)); err == nil && fi.Mode().IsRegular() {
			it.DiskSize = diskSize(fi)
			if m := g.metas[n]; m != nil {
				it.Kind = m.Kind
			}
			return it
		}
	}
	if m := g.meta(n); m != nil {
		it.Kind, it.DiskSize = m.Kind, m.DiskSize
	}
	return it
}

// gcRoots gathers the entries every root names, and those pinned by
// temporary and indirect roots (which eviction must spare).
func (s *Store) gcRoots(o GCOptions, rep *GCReport) (all, protected []string, err error) {
	dryRun := o.DryRun
	direct, err := s.dropRoots(o, rep)
	if err != nil {
		return nil, nil, err
	}
	before, err := s.indirectRoots(false)
	if err != nil {
		return nil, nil, err
	}
	indirect := before
	if !dryRun {
		if indirect, err = s.indirectRoots(true); err != nil {
			return nil, nil, err
		}
	}
	for _, r := range before {
		if r.Dangling {
			rep.PrunedRoots = append(rep.PrunedRoots, r.Name)
		}
	}
	temp, err := s.liveTempRoots()
	if err != nil {
		return nil, nil, err
	}
	for _, r := range direct {
		all = append(all, r.Entries...)
	}
	for _, r := range indirect {
		if !r.Dangling {
			protected = append(protected, r.Entries...)
		}
	}
	for n := range temp {
		protected = append(protected, n)
	}
	return append(all, protected...), protected, nil
}

// dropRoots returns the direct roots, less those of o.DropRoots that
// still name their entry, which it removes unless o.DryRun.
func (s *Store) dropRoots(o GCOptions, rep *GCReport) ([]Root, error) {
	direct, err := s.directRoots()
	if err != nil {
		return nil, err
	}
	kept := direct[:0]
	for _, r := range direct {
		if e, ok := o.DropRoots[r.Name]; !ok || e != r.Entries[0] {
			kept = append(kept, r)
			continue
		}
		if !o.DryRun {
			if err := os.Remove(filepath.Join(s.roots, r.Name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("remove root %s: %w", r.Name, err)
			}
		}
		rep.Dropped = append(rep.Dropped, r.Name)
	}
	if len(rep.Dropped) > 0 && !o.DryRun {
		if err := syncDir(s.roots); err != nil {
			return nil, err
		}
	}
	return kept, nil
}

// evict picks the rebuildable, unpinned entries to evict, least recently
// used first, skipping any entry that a kept entry still references.
func (g *gcState) evict(o GCOptions, pinned map[string]bool) map[string]bool {
	var total int64
	var cands []*metaFile
	referrers := map[string][]string{}
	for n := range g.marked {
		m := g.metas[n]
		if m == nil {
			continue
		}
		total += m.DiskSize
		for _, r := range m.References {
			referrers[r] = append(referrers[r], n)
		}
		if m.Rebuildable && !pinned[n] {
			cands = append(cands, m)
		}
	}
	slices.SortFunc(cands, func(a, b *metaFile) int { return a.LastUsed.Compare(b.LastUsed) })
	evicted := map[string]bool{}
	cutoff := time.Now().Add(-o.MaxAge)
	for _, m := range cands {
		old := o.MaxAge > 0 && m.LastUsed.Before(cutoff)
		big := o.MaxSize > 0 && total > o.MaxSize
		if !old && !big {
			continue
		}
		if slices.ContainsFunc(referrers[m.Name], func(r string) bool { return !evicted[r] }) {
			continue // something kept refers to it
		}
		evicted[m.Name] = true
		total -= m.DiskSize
	}
	return evicted
}

// listNames returns the names in dir that end in suffix, without it,
// leaving out dot files.
func listNames(dir, suffix string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	list, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	out := list[:0]
	for _, n := range list {
		if base, ok := strings.CutSuffix(n, suffix); ok && !strings.HasPrefix(n, ".") {
			out = append(out, base)
		}
	}
	return out, nil
}

// orphanFiles returns store files that have no metadata (entries whose add
// never finished, compressed forms of collected entries, stray files), and
// the set of entries that have a compressed form.
func (s *Store) orphanFiles(names []string) ([]GCItem, map[string]bool, error) {
	valid := make(map[string]bool, len(names))
	for _, n := range names {
		valid[n] = true
	}
	raw, err := listNames(s.dir, "")
	if err != nil {
		return nil, nil, err
	}
	zsts, err := listNames(s.zst, ".zst")
	if err != nil {
		return nil, nil, err
	}
	zset := make(map[string]bool, len(zsts))
	var out []GCItem
	seen := map[string]bool{}
	for _, z := range zsts {
		zset[z] = true
	}
	for _, l := range []struct {
		names []string
		dir   func(string) string
	}{{raw, s.entryPath}, {zsts, s.zstPath}} {
		for _, n := range l.names {
			if valid[n] {
				continue
			}
			it := GCItem{Name: n, Orphan: true}
			if fi, err := os.Lstat(l.dir(n)); err == nil {
				it.DiskSize = diskSize(fi)
			}
			if !seen[n] {
				seen[n] = true
				out = append(out, it)
			}
		}
	}
	return out, zset, nil
}

// removeEntry moves an entry's metadata, then its file or tree, then its
// compressed form into trash (a directory under this handle's .tmp, on the
// same filesystem), to be deleted once the lock is released: a rename is
// several times cheaper than freeing the blocks, which is left to run
// without blocking other processes. The caller holds the exclusive lock.
func (s *Store) removeEntry(name string, zst bool, trash string) error {
	if err := os.MkdirAll(trash, 0o700); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	for _, m := range []struct{ from, to string }{
		{s.metaPath(name), filepath.Join(trash, "m-"+name)},
		{s.entryPath(name), filepath.Join(trash, "e-"+name)},
		{s.zstPath(name), filepath.Join(trash, "z-"+name)},
	} {
		if m.to[len(trash)+1] == 'z' && !zst {
			continue
		}
		if err := renameOut(m.from, m.to); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", m.from, err)
		}
	}
	return nil
}

// pruneIndex drops content index records of entries that are gone.
func (s *Store) pruneIndex() {
	base := filepath.Join(s.idx, "content")
	dirs, _ := os.ReadDir(base)
	for _, d := range dirs {
		p := filepath.Join(base, d.Name())
		ents, _ := os.ReadDir(p)
		for _, e := range ents {
			if !s.exists(e.Name()) {
				os.Remove(filepath.Join(p, e.Name()))
			}
		}
		os.Remove(p) // only when empty
	}
}

// pruneRealisations drops realisations whose entry is gone.
func (s *Store) pruneRealisations() {
	ents, _ := os.ReadDir(s.real)
	for _, e := range ents {
		p := filepath.Join(s.real, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var r realisation
		if json.Unmarshal(b, &r) != nil || !s.exists(r.Name) {
			os.Remove(p)
		}
	}
}

// trashWorkers is how many goroutines empty a GC's trash: an unlink
// waits on the file system's journal (and, on a disk mounted with
// discard, on freeing the blocks) more than on a core, so several
// overlap.
const trashWorkers = 8

// removeTrash removes the trash directory of a collection, its entries
// (files, and trees) on several goroutines. Nothing else reaches the
// trash, so the order does not matter, and a crash part-way leaves it for
// the next sweep of dead staging directories.
func removeTrash(trash string) {
	f, err := os.Open(trash)
	if err != nil {
		return
	}
	names, _ := f.Readdirnames(-1)
	f.Close()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(trashWorkers, len(names)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(names); i = int(next.Add(1) - 1) {
				p := filepath.Join(trash, names[i])
				if os.Remove(p) != nil {
					removeAll(p)
				}
			}
		}()
	}
	wg.Wait()
	removeAll(trash)
}
