package vm

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// DefaultWorkdir is where the workspace appears inside, unless the tool
// says otherwise.
const DefaultWorkdir = "/workspace"

// GuestHome is the home directory of the sandbox's user.
const GuestHome = "/root"

// DefaultPath is the guest PATH when the image sets none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// alwaysProtected are the workspace paths a tool could use to widen its own
// permissions or to run code later on the host: read-only inside whether
// they exist or not (a missing one cannot be created). All of .git is
// among them, not only its hooks and config: a writable .git can point
// git elsewhere (commondir, config.worktree, modules/, worktrees/) and so
// run code at the next git status on the host. Tools can read history
// inside; commits are made on the host.
var alwaysProtected = []string{
	"silo.toml", "silo.lock", ".git/", ".gitmodules",
	".envrc", ".vscode/", ".idea/",
}

// protectedIfPresent are further files that run code on the host later,
// protected when the workspace has them: shell startup files, git hook
// managers, tool-version managers that run tasks, editor and agent
// settings that define commands.
var protectedIfPresent = []string{
	".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile",
	".zshrc", ".zshenv", ".zprofile", ".zlogin", ".kshrc", ".cshrc", ".tcshrc",
	".inputrc", ".config/fish/config.fish",
	".husky/", ".pre-commit-config.yaml", "lefthook.yml", ".lefthook.yml",
	"mise.toml", ".mise.toml", ".devcontainer/", ".claude/", ".mcp.json", ".cursor/",
}

// DefaultProtected returns the protected paths for a workspace: the
// always-protected ones, and those of protectedIfPresent that exist in it.
// A trailing "/" marks a directory.
func DefaultProtected(workspace string) []string {
	p := append([]string(nil), alwaysProtected...)
	for _, rel := range protectedIfPresent {
		if _, err := os.Lstat(filepath.Join(workspace, strings.TrimSuffix(rel, "/"))); err == nil {
			p = append(p, rel)
		}
	}
	return p
}

// EnvOptions are the parts of a sandbox's environment.
type EnvOptions struct {
	// Image is the image config's environment, "KEY=value".
	Image []string
	// Tool is the tool's configured environment.
	Tool map[string]string
	// Pass names host variables passed through when set.
	Pass []string
	// Host looks up a host variable; nil means os.LookupEnv.
	Host func(string) (string, bool)
}

// ComposeEnv builds a sandbox's complete environment: the image's, the
// tool's, the passed host variables, then HOME, PATH (the image's or a
// default), TERM and LANG (the host's, or defaults). Nothing else of the
// host's environment gets in. Later sources win; the result is sorted.
func ComposeEnv(o EnvOptions) []string {
	host := o.Host
	if host == nil {
		host = os.LookupEnv
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
	for _, k := range slices.Sorted(maps.Keys(o.Tool)) {
		set(k, o.Tool[k])
	}
	for _, k := range o.Pass {
		if v, ok := host(k); ok {
			set(k, v)
		}
	}
	set("HOME", GuestHome)
	if _, ok := env["PATH"]; !ok {
		set("PATH", DefaultPath)
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
			return filepath.ToSlash(filepath.Join(GuestHome, rel))
		}
	}
	return filepath.ToSlash(host)
}
