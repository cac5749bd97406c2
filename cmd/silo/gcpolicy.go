package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/silo-dev/silo/internal/fsutil"
	"github.com/silo-dev/silo/internal/home"
	"github.com/silo-dev/silo/lock"
	"github.com/silo-dev/silo/store"
)

// policyGCEvery is how often a run may start the [cache] policy's
// eviction.
const policyGCEvery = 24 * time.Hour

// policyStamp is what runtime/gc-policy records of the last eviction.
type policyStamp struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitempty"`
	PID      int       `json:"pid"`
	Freed    int64     `json:"freed"`
	Removed  int       `json:"removed"`
	Error    string    `json:"error,omitempty"`
}

// maybePolicyGC starts the [cache.rootfs] eviction in a process of its
// own, detached, when the policy sets a limit and no eviction started in
// the last day: the run does not wait for it.
func maybePolicyGC(g *Globals, p lock.CachePolicy) {
	if p.Rootfs.MaxSizeMB <= 0 && p.Rootfs.MaxAgeDays <= 0 {
		return
	}
	stamp := home.Dir(g.home).GCPolicyStamp()
	if fi, err := os.Stat(stamp); err == nil && time.Since(fi.ModTime()) < policyGCEvery {
		return
	}
	if writeStamp(stamp, policyStamp{Started: time.Now().UTC()}) != nil {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	cmd := exec.Command(exe, "--home", g.home, "__gc-policy",
		"--max-size-mb", strconv.Itoa(p.Rootfs.MaxSizeMB), "--max-age-days", strconv.Itoa(p.Rootfs.MaxAgeDays))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if cmd.Start() == nil {
		_ = cmd.Process.Release()
	}
}

func writeStamp(p string, s policyStamp) error {
	data, _ := json.Marshal(s)
	return fsutil.WriteFile(p, data, fsutil.WriteOptions{Perm: 0o600, Sync: true, MkdirPerm: 0o700})
}

// gcPolicyCmd is the detached eviction a run starts (internal).
type gcPolicyCmd struct {
	MaxSizeMB  int64 `name:"max-size-mb"`
	MaxAgeDays int   `name:"max-age-days"`
}

// Run evicts, unless another policy eviction holds the lock.
func (c *gcPolicyCmd) Run(g *Globals) error {
	d := home.Dir(g.home)
	lk, err := fsutil.LockFile(d.GCPolicyStamp()+".lock", unix.LOCK_EX|unix.LOCK_NB)
	if err != nil {
		return nil // another eviction runs: it does the work
	}
	defer lk.Close()
	s := policyStamp{Started: time.Now().UTC(), PID: os.Getpid()}
	st, err := g.OpenStore()
	if err == nil {
		var rep *store.GCReport
		rep, err = collect(g, st, store.GCOptions{MaxSize: c.MaxSizeMB << 20, MaxAge: time.Duration(c.MaxAgeDays) * 24 * time.Hour})
		st.Close()
		if err == nil {
			s.Freed, s.Removed = rep.Freed, len(rep.Removed)
		}
	}
	if err != nil {
		s.Error = err.Error()
	}
	s.Finished = time.Now().UTC()
	return writeStamp(d.GCPolicyStamp(), s)
}

// toolCacheGC evicts files of the project's tool caches by access time:
// those unused for longer than [cache.tools] maxAgeDays, then the least
// recently used until each mount fits its bound. A noGC cache is kept.
func toolCacheGC(cfg *lock.Config, dryRun bool) (files int, freed int64, err error) {
	pol := cfg.Cache().Tools
	for _, name := range cfg.ToolNames() {
		t, err := cfg.Tool(name)
		if err != nil {
			return files, freed, err
		}
		for _, c := range t.Caches {
			if c.NoGC || (c.MaxSizeMB <= 0 && pol.MaxAgeDays <= 0) {
				continue
			}
			n, b, err := evictCache(c.Host, int64(c.MaxSizeMB)<<20, time.Duration(pol.MaxAgeDays)*24*time.Hour, dryRun)
			files, freed = files+n, freed+b
			if err != nil {
				return files, freed, fmt.Errorf("cache %s: %w", c.Name, err)
			}
		}
	}
	return files, freed, nil
}

// cacheFile is one file of a cache: the directories leading to it
// beneath the cache's root, its name, size and access time.
type cacheFile struct {
	dirs  []string
	name  string
	size  int64
	atime time.Time
}

// evictCache evicts files beneath root. It walks with openat and
// O_NOFOLLOW, and unlinks relative to a directory opened the same way,
// so that a sandbox that swaps a directory of its cache for a symlink
// cannot make it delete a file elsewhere.
func evictCache(root string, maxBytes int64, maxAge time.Duration, dryRun bool) (int, int64, error) {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	defer unix.Close(fd)
	var all []cacheFile
	var total int64
	if err := walkCache(fd, nil, &all, &total); err != nil {
		return 0, 0, err
	}
	sort.Slice(all, func(i, j int) bool { return all[i].atime.Before(all[j].atime) })
	n, freed := 0, int64(0)
	for _, f := range all {
		old := maxAge > 0 && time.Since(f.atime) > maxAge
		over := maxBytes > 0 && total > maxBytes
		if !old && !over {
			continue
		}
		if !dryRun && unlinkBeneath(fd, f) != nil {
			continue
		}
		n, freed, total = n+1, freed+f.size, total-f.size
	}
	return n, freed, nil
}

// unlinkBeneath removes f, opening each directory on the way beneath root
// without following a link.
func unlinkBeneath(root int, f cacheFile) error {
	dir := root
	for _, d := range f.dirs {
		next, err := unix.Openat(dir, d, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if dir != root {
			unix.Close(dir)
		}
		if err != nil {
			return err
		}
		dir = next
	}
	err := unix.Unlinkat(dir, f.name, 0)
	if dir != root {
		unix.Close(dir)
	}
	return err
}

// walkCache lists the regular files beneath the directory dir, at path
// dirs beneath the root.
func walkCache(dir int, dirs []string, out *[]cacheFile, total *int64) error {
	if len(dirs) > 64 {
		return nil
	}
	dup, err := unix.Dup(dir)
	if err != nil {
		return err
	}
	lf := os.NewFile(uintptr(dup), "cache")
	names, err := lf.Readdirnames(-1)
	lf.Close()
	if err != nil {
		return err
	}
	for _, name := range names {
		var st unix.Stat_t
		if unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
			continue
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			*out = append(*out, cacheFile{dirs: dirs, name: name, size: st.Blocks * 512, atime: time.Unix(st.Atim.Unix())})
			*total += st.Blocks * 512
		case unix.S_IFDIR:
			sub, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				continue
			}
			err = walkCache(sub, append(dirs[:len(dirs):len(dirs)], name), out, total)
			unix.Close(sub)
			if err != nil {
				return err
			}
		}
	}
	return nil
}
