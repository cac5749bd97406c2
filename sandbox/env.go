package sandbox

import (
	"github.com/silo-dev/silo/vm"
	"maps"
	"path/filepath"
	"slices"
	"strings"
)

// protectedNames are the workspace names a tool could use to widen its
// own permissions or to run code later on the host, as a hostile package
// would: git's configuration and hooks, editor, agent and devcontainer
// settings that define commands, direnv, hook managers, tool-version
// managers that run tasks, shell startup files, and silo's own files. The
// workspace filter (package vm/agent) refuses to let the sandbox create,
// change, remove or rename any of them, at any depth of the workspace,
// whether they exist or not; a directory's name covers everything in it,
// and a name may hold a path.Match pattern. ".git" covers a .git file
// (gitdir:) as well as a directory, anywhere; only in the top-level .git
// directory does the filter leave git's data (objects, refs, logs, the
// index, HEAD and the other state files) writable, so that git add,
// commit, checkout and stash work inside while config, config.worktree,
// hooks/, commondir, worktrees/, modules/ and info/ stay read-only.
// "HEAD" keeps the sandbox from making a directory a bare repository
// (HEAD, objects/, refs/, config), which git would use in it.
var protectedNames = []string{
	".git/", "HEAD", ".gitmodules", "silo.toml", "silo.lock",
	".envrc", ".vscode/", ".idea/", ".cursor/", ".devcontainer/", ".devcontainer.json",
	".claude/", ".mcp.json",
	".husky/", ".pre-commit-config.yaml", "lefthook*.yml", "lefthook*.yaml", "lefthook*.json", "lefthook*.toml",
	".lefthook*.yml", ".lefthook*.yaml", ".lefthook*.json", ".lefthook*.toml", ".lefthook/",
	"mise.toml", "mise.*.toml", ".mise.toml", ".mise.*.toml", ".mise/", ".config/mise/", ".config/mise.toml", ".tool-versions",
	".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile",
	".zshrc", ".zshenv", ".zprofile", ".zlogin", ".zlogout", ".kshrc", ".cshrc", ".tcshrc",
	".inputrc", ".config/fish/",
}

// DefaultProtected returns the protected names (protectedNames), which
// the agent's workspace filter applies at every depth. A trailing "/"
// marks a directory.
func DefaultProtected() []string {
	return append([]string(nil), protectedNames...)
}

// EnvOptions are the parts of a sandbox's environment.
type EnvOptions struct {
	// Image is the image config's environment, "KEY=value".
	Image []string
	// Defaults are silo's own settings for the tool (the host CA
	// bundle's variables), under the tool's configured environment.
	Defaults map[string]string
	// Tool is the tool's configured environment.
	Tool map[string]string
	// Pass names host variables passed through when set.
	Pass []string
	// PathPrefix are directories put first on PATH (an activated venv's
	// bin).
	PathPrefix []string
	// Host looks up a host variable; nil passes none.
	Host func(string) (string, bool)
}

// ComposeEnv builds a sandbox's complete environment: the image's, the
// tool's, the passed host variables, then HOME, PATH (the image's or a
// default), TERM and LANG (the host's, or defaults). Nothing else of the
// host's environment gets in. Later sources win; the result is sorted.
func ComposeEnv(o EnvOptions) []string {
	host := o.Host
	if host == nil {
		host = func(string) (string, bool) { return "", false }
	}
	env := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := env[k]; !ok {
			order = append(order, k)
		}
		env[k] = v
	}
	for _, kv := range o.Image {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			set(k, v)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(o.Defaults)) {
		set(k, o.Defaults[k])
	}
	for _, k := range slices.Sorted(maps.Keys(o.Tool)) {
		set(k, o.Tool[k])
	}
	for _, k := range o.Pass {
		if v, ok := host(k); ok {
			set(k, v)
		}
	}
	set("HOME", vm.GuestHome)
	if _, ok := env["PATH"]; !ok {
		set("PATH", vm.DefaultPath)
	}
	if len(o.PathPrefix) > 0 {
		set("PATH", strings.Join(append(slices.Clone(o.PathPrefix), env["PATH"]), ":"))
	}
	for k, def := range map[string]string{"TERM": "xterm-256color", "LANG": "C.UTF-8"} {
		if _, ok := env[k]; ok {
			continue
		}
		if v, ok := host(k); ok && v != "" {
			set(k, v)
		} else {
			set(k, def)
		}
	}
	slices.Sort(order)
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+env[k])
	}
	return out
}

// GuestPath maps a host pass file to where the sandbox sees it: under the
// guest's home when it is under the user's home, else at the same path.
func GuestPath(host, userHome string) string {
	if userHome != "" {
		if rel, err := filepath.Rel(userHome, host); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
			return filepath.ToSlash(filepath.Join(vm.GuestHome, rel))
		}
	}
	return filepath.ToSlash(host)
}
