package agent

import (
	"path"
	"strings"
	"syscall"
)

// policy is what the workspace filter lets the sandbox change. Paths are
// relative to the workspace, "" for the workspace itself, components
// separated by "/".
type policy struct {
	// names are the protected patterns, split into components; each
	// component may be a path.Match pattern ("lefthook*.yml").
	names [][]string
	// gitDir says the workspace's top-level .git is a directory: git's
	// data in it (gitData) stays writable.
	gitDir bool
	// readOnly refuses every change outside the excludes.
	readOnly bool
	// excludes are the excluded paths, served from the sandbox's scratch.
	excludes []string
}

// newPolicy makes the policy for the protected patterns (workspace-relative
// names, a trailing "/" allowed) and excluded paths.
func newPolicy(protected, excludes []string, gitDir, readOnly bool) (*policy, error) {
	p := &policy{gitDir: gitDir, readOnly: readOnly}
	for _, n := range protected {
		rel, err := cleanRel(n)
		if err != nil {
			return nil, err
		}
		if _, err := path.Match(rel, ""); err != nil {
			return nil, err
		}
		p.names = append(p.names, splitPath(strings.ToLower(rel)))
	}
	for _, e := range excludes {
		rel, err := cleanRel(e)
		if err != nil {
			return nil, err
		}
		p.excludes = append(p.excludes, rel)
	}
	return p, nil
}

// exclude returns the index of the excluded path rel is, or is under, and
// the rest of rel below it; -1 when rel is not excluded.
func (p *policy) exclude(rel string) (int, string) {
	for i, e := range p.excludes {
		if strings.EqualFold(rel, e) {
			return i, ""
		}
		if len(rel) > len(e) && rel[len(e)] == '/' && strings.EqualFold(rel[:len(e)], e) {
			return i, rel[len(e)+1:]
		}
	}
	return -1, ""
}

// pinned reports whether rel is an excluded path or a directory above
// one: it cannot be removed or renamed, so that an exclusion cannot be
// moved aside to reach what it hides.
func (p *policy) pinned(rel string) bool {
	rel = strings.ToLower(rel)
	for _, e := range p.excludes {
		e = strings.ToLower(e)
		if rel == "" || rel == e || strings.HasPrefix(e, rel+"/") {
			return true
		}
	}
	return false
}

// excludedIn returns the names of the excluded paths directly in the
// directory rel.
func (p *policy) excludedIn(rel string) []string {
	var names []string
	for _, e := range p.excludes {
		dir, name := path.Split(e)
		if strings.EqualFold(strings.TrimSuffix(dir, "/"), rel) {
			names = append(names, name)
		}
	}
	return names
}

// change says whether the sandbox may create, write, remove or rename
// (away or onto) rel: 0, EPERM for a protected path, EROFS in a
// read-only workspace.
func (p *policy) change(rel string) syscall.Errno {
	if i, _ := p.exclude(rel); i >= 0 {
		return 0 // the sandbox's own scratch: never reaches the host
	}
	if p.readOnly {
		return syscall.EROFS
	}
	if rel == "" {
		return 0
	}
	// Names compare without case: the workspace may be on a file system
	// that folds case (a Mac's, through vz), where .GIT/config is
	// .git/config.
	orig, parts := splitPath(rel), splitPath(strings.ToLower(rel))
	if p.gitDir && parts[0] == ".git" {
		if len(parts) > 1 && gitData(orig[1]) {
			return 0
		}
		return syscall.EPERM
	}
	for i := range parts {
		for _, n := range p.names {
			if matchAt(parts, i, n, len(n)) {
				return syscall.EPERM
			}
		}
	}
	return 0
}

// moveDir says whether a directory may be renamed to rel: what change
// says, and not into the start of a protected path of several components
// (a prepared fish/config.fish renamed to .config), which the checks on
// each name created below it would otherwise never see.
func (p *policy) moveDir(rel string) syscall.Errno {
	if e := p.change(rel); e != 0 {
		return e
	}
	if i, _ := p.exclude(rel); i >= 0 {
		return 0
	}
	parts := splitPath(strings.ToLower(rel))
	for _, n := range p.names {
		for m := 1; m < len(n); m++ {
			if len(parts) >= m && matchAt(parts, len(parts)-m, n, m) {
				return syscall.EPERM
			}
		}
	}
	return 0
}

// matchAt reports whether parts[i:i+m] match the first m components of
// pattern n.
func matchAt(parts []string, i int, n []string, m int) bool {
	if i+m > len(parts) {
		return false
	}
	for j := 0; j < m; j++ {
		if ok, _ := path.Match(n[j], parts[i+j]); !ok {
			return false
		}
	}
	return true
}

// gitDataNames are the entries of the top-level .git that hold git's data
// and state, not its configuration: the sandbox's git may write them
// (git add, commit, checkout, stash, rebase, gc). Everything else there
// (config, config.worktree, hooks/, commondir, worktrees/, modules/,
// info/, and any name git may learn to read later) stays read-only.
var gitDataNames = map[string]bool{
	"objects": true, "refs": true, "logs": true, "packed-refs": true,
	"shallow": true, "description": true, "rebase-merge": true,
	"rebase-apply": true, "sequencer": true, "rr-cache": true,
	"lost-found": true, "gc.pid": true, "gc.log": true,
}

// gitConfigNames are the entries of .git that make git run code or
// point it elsewhere, in lower case: never git's data, whatever their case.
var gitConfigNames = map[string]bool{
	"config": true, "config.worktree": true, "hooks": true, "commondir": true,
	"worktrees": true, "modules": true, "info": true, "gitdir": true,
}

// gitData reports whether name, an entry of the top-level .git, is git's
// data: one of gitDataNames, the index and its temporary copies
// (index.lock, index.stash.N, sharedindex.*), or an all-capitals state
// file (HEAD, ORIG_HEAD, FETCH_HEAD, MERGE_MSG, COMMIT_EDITMSG, …), each
// also with git's ".lock" suffix.
func gitData(name string) bool {
	name = strings.TrimSuffix(name, ".lock")
	if gitConfigNames[strings.ToLower(name)] {
		return false
	}
	if gitDataNames[name] || name == "index" {
		return true
	}
	for _, pre := range []string{"index.", "sharedindex.", "next-index-"} {
		if strings.HasPrefix(name, pre) {
			return true
		}
	}
	if name == "" {
		return false
	}
	for _, c := range name {
		if (c < 'A' || c > 'Z') && c != '_' {
			return false
		}
	}
	return true
}

// settableXattr says whether the sandbox may set or remove the extended
// attribute: not file capabilities (security.capability, the setuid of
// capabilities) nor trusted.* ones.
func settableXattr(name string) bool {
	return name != "security.capability" && !strings.HasPrefix(name, "trusted.")
}
