package lock

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sort"

	"github.com/silo-dev/silo/vm/netproxy"
)

// BuiltIn is the Source.File of values that come from silo's built-in tool
// definitions (lock/defaults.toml) or from silo's own defaults.
const BuiltIn = "built-in"

// Source says where a value came from: a file and the line and column of its
// key, or BuiltIn.
type Source struct {
	File   string `json:"file"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
}

// String returns "file:line:column", or "built-in".
func (s Source) String() string {
	if s.Line == 0 {
		return s.File
	}
	return fmt.Sprintf("%s:%d:%d", s.File, s.Line, s.Column)
}

// Tool is the effective definition of one tool for one project: the tool's
// definition merged with the user-wide and the project's silo.toml, validated,
// with every path absolute and cleaned (except Exclude, relative to the
// workspace). Origins says where each value came from.
type Tool struct {
	Name    string            `json:"name"`
	Image   string            `json:"image"`
	Shims   []Shim            `json:"shims"`
	Env     map[string]string `json:"env"`
	Workdir string            `json:"workdir"`
	Caches  []Cache           `json:"caches"`
	Network Network           `json:"network"`
	// TrustHostCAs passes the host's CA bundle read-only and points the
	// usual clients' CA variables at it (network.trustHostCAs).
	TrustHostCAs bool `json:"trustHostCAs"`
	CPUs         int  `json:"cpus"`
	MemoryMB     int  `json:"memoryMB"`
	// MaxProcesses bounds the processes and threads the sandbox may run
	// at once (a fork bomb stops there).
	MaxProcesses int `json:"maxProcesses"`
	RootfsSizeMB int `json:"rootfsSizeMB"`
	// MaxFiles bounds the entries of the tool's image (all layers' tar
	// entries together); an image with more is refused while its headers
	// are read.
	MaxFiles int `json:"maxFiles"`
	// PostInstall are the commands run in the project once the tool is
	// installed, in order, each only if the one before succeeded.
	PostInstall []string `json:"postInstall"`
	Setup       string   `json:"setup"`
	// LSP is the tool's language server command (silo lsp), nil when it
	// has none; LSPInstall is the shell command that installs it.
	LSP        []string `json:"lsp"`
	LSPInstall string   `json:"lspInstall"`
	// Versions are the image tags `silo install TOOL@VERSION` offers,
	// the default (the image's own tag) first; empty for most custom tools.
	Versions     []string `json:"versions"`
	PassEnv      []string `json:"passEnv"`
	PassFiles    []string `json:"passFiles"`
	PassSSHAgent bool     `json:"passSshAgent"`
	Exclude      []string `json:"exclude"`
	MountMode    string   `json:"mountMode"`
	Ports        []Port   `json:"ports"`
	// ProjectRoot is the directory holding the project's silo.toml, or ""
	// when none was found (the working directory is then the workspace).
	ProjectRoot string `json:"projectRoot"`
	// Origins maps each value to where it was set. Keys are the JSON names
	// above; map entries and list elements are addressed with a dot:
	// "env.FOO", "passEnv.0", "network.allow.2", "caches.1", "ports".
	Origins map[string]Source `json:"origins"`
}

// Shim is a command name on the host that runs Command inside the tool's
// sandbox. A shim written "name" runs the command of the same name; one
// written "host:guest" maps one to the other.
type Shim struct {
	Name    string `json:"name"`
	Command string `json:"command"`
}

// Cache is a package-cache directory kept on the host across runs and mounted
// read-write into the sandbox. A cache belongs to one project unless the
// user's own configuration shares it between projects: Host is
// Root/project/KEY/NAME (KEY names the project) or Root/shared/NAME.
type Cache struct {
	Guest string `json:"guest"` // absolute path inside the sandbox
	// Name is the cache's directory within its area, TOOL/…: the
	// `host` key as written (cleaned), or TOOL/GUEST-PATH.
	Name string `json:"name"`
	// Host is the absolute path of the directory on the host, under Root.
	Host string `json:"host"`
	// Root is $SILO_HOME/cache: the directory Host is opened beneath,
	// no component of the rest followed if it is a symlink.
	Root      string `json:"root"`
	Shared    bool   `json:"shared"`    // shared between projects (only the user's own files say so)
	SizeHint  int64  `json:"sizeHint"`  // bytes; 0 when not given
	NoGC      bool   `json:"noGC"`      // never evicted by `cache gc`
	MaxSizeMB int    `json:"maxSizeMB"` // [cache.tools] bound of this mount; 0: no limit
}

// Beneath returns the path of c's directory relative to c.Root.
func (c Cache) Beneath() string {
	rel, err := filepath.Rel(c.Root, c.Host)
	if err != nil {
		return c.Host // Host is always under Root; a hand-made Cache may not be
	}
	return rel
}

// Network is a tool's network policy. Without HostAccess the sandbox has no
// network but the proxy, which lets through the domains in Allow (and, while
// postInstall and setup run, InstallAllow) unless Deny names them.
//
// It is the proxy's own policy type, so that what silo.toml says is what
// the proxy enforces, with nothing copied field by field on the way.
type Network = netproxy.Policy

// Port forwards a host TCP port to a guest port.
type Port struct {
	Host  int `json:"host"`
	Guest int `json:"guest"`
}

// CacheLimits bound one of silo's caches. Zero means no limit.
type CacheLimits struct {
	MaxSizeMB  int `json:"maxSizeMB"`
	MaxAgeDays int `json:"maxAgeDays"`
	// PerMount ([cache.tools] only) maps a mount's name (Cache.Name, such
	// as "rust/cargo") to its own size bound in MiB, over MaxSizeMB,
	// which bounds each tool cache mount.
	PerMount map[string]int `json:"perMount,omitempty"`
}

// CachePolicy is the [cache] table of the merged silo.toml files.
type CachePolicy struct {
	Rootfs  CacheLimits       `json:"rootfs"`
	Tools   CacheLimits       `json:"tools"`
	Origins map[string]Source `json:"origins"`
}

// Config is the loaded, validated configuration for one working directory.
// It is immutable; its methods return copies.
type Config struct {
	files        []string
	projectRoot  string
	workspace    string
	tools        map[string]*Tool
	projectTools []string
	shims        map[string]Shim // shim name → {tool name, guest command}
	cache        CachePolicy
	notes        []string
	userMode     string   // the mount.mode of the user-wide silo.toml; "" when it sets none
	claims       []string // the tools the project's own silo.toml names (tools, [overrides.*])
	image        *Tool    // silo's defaults with the project-wide settings: what a run of an image gets
}

// Claims reports whether the project's own silo.toml names the tool, in
// its tools list or with an [overrides] table: a shim runs the tool in
// the sandbox there. The user-wide silo.toml claims nothing.
func (c *Config) Claims(tool string) bool {
	return slices.Contains(c.claims, CanonicalTool(tool))
}

// ImageSettings returns what a run of an image without a tool (silo run
// --image) gets: silo's defaults with the project-wide settings of the
// silo.toml files applied (passEnv, passFiles, passSshAgent, mount).
func (c *Config) ImageSettings() *Tool {
	t := c.image.clone()
	t.ProjectRoot = c.projectRoot
	return t
}

// Notes returns what the caller should tell the user on stderr, one line
// each: the snake_case keys of Silo read as silo's camelCase ones, one
// line per file.
func (c *Config) Notes() []string { return slices.Clone(c.notes) }

// Tool returns the effective definition of the named tool.
func (c *Config) Tool(name string) (*Tool, error) {
	t, ok := c.tools[CanonicalTool(name)]
	if !ok {
		msg := fmt.Sprintf("no tool named %q", name)
		if s := nearest(name, c.ToolNames()); s != "" {
			msg += fmt.Sprintf(" — did you mean %q?", s)
		}
		return nil, fmt.Errorf("%s: define it under [tool.%s] in the global config.toml, or see `silo config show` for the tools there are", msg, name)
	}
	return t.clone(), nil
}

// ToolNames returns the names of every defined tool, sorted.
func (c *Config) ToolNames() []string {
	return slices.Sorted(maps.Keys(c.tools))
}

// ProjectTools returns the merged `tools` list of the silo.toml files: the
// tools the project uses.
func (c *Config) ProjectTools() []string { return slices.Clone(c.projectTools) }

// Files returns the configuration files that were read, in merge order.
func (c *Config) Files() []string { return slices.Clone(c.files) }

// ProjectRoot returns the directory of the project's silo.toml, or "" when
// none was found.
func (c *Config) ProjectRoot() string { return c.projectRoot }

// Workspace returns the directory the sandbox sees as /workspace: the
// project root, or the working directory when there is no silo.toml.
func (c *Config) Workspace() string { return c.workspace }

// Cache returns the cache limits.
func (c *Config) Cache() CachePolicy {
	p := c.cache
	p.Origins = maps.Clone(c.cache.Origins)
	p.Tools.PerMount = maps.Clone(c.cache.Tools.PerMount)
	return p
}

// Shim looks up a shim name: the tool that provides it and the command to
// run inside that tool's sandbox.
func (c *Config) Shim(name string) (tool, command string, ok bool) {
	s, ok := c.shims[name]
	return s.Name, s.Command, ok
}

// Shims returns every shim name, sorted.
func (c *Config) Shims() []string {
	names := make([]string, 0, len(c.shims))
	for n := range c.shims {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// clone returns a deep copy of t.
func (t *Tool) clone() *Tool {
	c := *t
	c.Shims = slices.Clone(t.Shims)
	c.Env = maps.Clone(t.Env)
	c.Caches = slices.Clone(t.Caches)
	c.Network.Allow = slices.Clone(t.Network.Allow)
	c.Network.Deny = slices.Clone(t.Network.Deny)
	c.Network.InstallAllow = slices.Clone(t.Network.InstallAllow)
	c.PassEnv = slices.Clone(t.PassEnv)
	c.PassFiles = slices.Clone(t.PassFiles)
	c.Exclude = slices.Clone(t.Exclude)
	c.PostInstall = slices.Clone(t.PostInstall)
	c.LSP = slices.Clone(t.LSP)
	c.Versions = slices.Clone(t.Versions)
	c.Ports = slices.Clone(t.Ports)
	c.Origins = maps.Clone(t.Origins)
	return &c
}
