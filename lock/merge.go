package lock

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Defaults for values no file sets.
const (
	DefaultWorkdir      = "/workspace"
	DefaultCPUs         = 2
	DefaultMemoryMB     = 2048
	DefaultMaxProcesses = 2048
	DefaultRootfsSizeMB = 4096
	DefaultMaxFiles     = 250000 // the largest common images hold ~100k
	DefaultMountMode    = "rw"
)

// Bounds of the numeric settings.
const (
	maxCPUs         = 256
	minMemoryMB     = 64
	maxMemoryMB     = 1 << 20 // 1 TiB
	minMaxProcesses = 16
	maxMaxProcesses = 1 << 22 // the kernel's PID_MAX_LIMIT
	minRootfsSizeMB = 16
	maxRootfsSizeMB = 1 << 24 // 16 TiB
	minMaxFiles     = 1000
	maxMaxFiles     = 100_000_000
	maxCacheMB      = 1 << 30
	maxAgeDays      = 36500
)

// layer is one decoded configuration file.
type layer struct {
	file    string // path, or BuiltIn
	dir     string // the file's directory; "" for built-in
	ix      posIndex
	project bool // the project's own silo.toml: it comes with the code, so it is not trusted to reach outside the project
}

// src returns where path is set in l.
func (l *layer) src(path ...string) Source {
	if l.file == BuiltIn {
		return Source{File: BuiltIn}
	}
	p, _ := l.ix.at(path...)
	return Source{File: l.file, Line: p.Line, Column: p.Column}
}

// builder merges layers into effective tools, collecting every problem.
type builder struct {
	home, userHome string
	workspace      string
	key            string // the workspace's cache area, once computed
	errs           []error
}

// fail records a problem at path in l.
func (b *builder) fail(l *layer, path []string, format string, args ...any) {
	p, _ := l.ix.at(path...)
	b.errs = append(b.errs, errAt(l.file, p, format, args...))
}

// at returns path extended with more parts.
func at(path []string, more ...string) []string { return join(path, more) }

func idx(i int) string { return strconv.Itoa(i) }

// baseTool turns a tool definition into a Tool holding silo's defaults
// overlaid with the definition.
func (b *builder) baseTool(name, key string, d *toolDef, l *layer) *Tool {
	p := []string{"tool", key}
	t := defaultTool(name, l.src(p...))
	if !isName(name, 64, alnum[:10]+alnum[36:]+"._-", alnum[:10]+alnum[36:]) {
		b.fail(l, p, "tool name %q must be lower-case letters, digits, ., _ or -", name)
	}
	if d.Image == nil {
		b.fail(l, p, "tool %q has no image: add `image = \"…\"` under [tool.%s]", name, name)
	}
	for i, s := range d.Shims {
		sh, msg := checkShim(s)
		if msg != "" {
			b.fail(l, at(p, "shims", idx(i)), "%s", msg)
			continue
		}
		if slices.ContainsFunc(t.Shims, func(o Shim) bool { return o.Name == sh.Name }) {
			b.fail(l, at(p, "shims", idx(i)), "shim %q is listed twice", sh.Name)
			continue
		}
		t.Origins["shims."+idx(len(t.Shims))] = l.src(at(p, "shims", idx(i))...)
		t.Shims = append(t.Shims, sh)
	}
	b.common(t, l, p, d.Image, d.Env, d.Workdir, d.PostInstall, d.Cache, d.Network)
	b.resources(t, l, p, d.CPUs, d.MemoryMB, d.MaxProcesses, d.RootfsSizeMB, d.MaxFiles)
	if d.Setup != nil {
		t.Setup, t.Origins["setup"] = *d.Setup, l.src(at(p, "setup")...)
	}
	b.languageServer(t, l, p, d.LSP, d.LSPInstall)
	t.Versions = slices.Clone(d.Versions)
	if t.Versions == nil {
		t.Versions = []string{}
	}
	return t
}

// defaultTool is a tool holding silo's defaults and nothing else; src is
// where its name was written.
func defaultTool(name string, src Source) *Tool {
	builtin := Source{File: BuiltIn}
	return &Tool{
		Name: name, Env: map[string]string{}, Workdir: DefaultWorkdir,
		CPUs: DefaultCPUs, MemoryMB: DefaultMemoryMB, MaxProcesses: DefaultMaxProcesses, RootfsSizeMB: DefaultRootfsSizeMB, MaxFiles: DefaultMaxFiles,
		MountMode: DefaultMountMode, Shims: []Shim{}, Caches: []Cache{},
		Network: Network{Allow: []string{}, Deny: []string{}, InstallAllow: []string{}},
		PassEnv: []string{}, PassFiles: []string{}, Exclude: []string{}, Ports: []Port{},
		PostInstall: []string{},
		Origins: map[string]Source{
			"name": src, "workdir": builtin, "cpus": builtin, "memoryMB": builtin, "maxProcesses": builtin,
			"rootfsSizeMB": builtin, "maxFiles": builtin, "mountMode": builtin,
		},
	}
}

// imageTool is what a run of an image without a tool starts from: silo's
// defaults, to which the project-wide settings apply.
func (b *builder) imageTool() *Tool { return defaultTool("", Source{File: BuiltIn}) }

// overlay applies an [overrides.KEY] table to t; KEY is the tool's name as
// the file writes it (Silo's "claude-code" for "claude").
func (b *builder) overlay(t *Tool, key string, o *overrideDef, l *layer) {
	p := []string{"overrides", key}
	b.common(t, l, p, o.Image, o.Env, o.Workdir, o.PostInstall, o.Cache, o.Network)
	b.resources(t, l, p, o.CPUs, o.MemoryMB, o.MaxProcesses, o.RootfsSizeMB, o.MaxFiles)
	if o.PassSSHAgent != nil {
		t.PassSSHAgent, t.Origins["passSshAgent"] = *o.PassSSHAgent, l.src(at(p, "passSshAgent")...)
	}
	for i, n := range o.PassEnv {
		if msg := checkEnvName(n); msg != "" {
			b.fail(l, at(p, "passEnv", idx(i)), "passEnv: %s", msg)
			continue
		}
		t.PassEnv = union(t.PassEnv, t.Origins, "passEnv", n, l.src(at(p, "passEnv", idx(i))...))
	}
	if l.ix.has(at(p, "ports")...) {
		b.ports(t, o.Ports, l, at(p, "ports"))
	}
	b.languageServer(t, l, p, o.LSP, o.LSPInstall)
}

// common applies the keys that tool definitions and overrides share.
func (b *builder) common(t *Tool, l *layer, p []string, image *string, env map[string]string,
	workdir *string, postInstall any, caches []cacheDef, net *networkDef) {
	if image != nil {
		ref, msg := checkImage(*image, l.dir, b.userHome)
		if msg == "" && l.project {
			msg = checkProjectImage(ref, l.dir)
		}
		if msg != "" {
			b.fail(l, at(p, "image"), "%s", msg)
		}
		t.Image, t.Origins["image"] = ref, l.src(at(p, "image")...)
	}
	for _, k := range sortedKeys(env) {
		msg := checkEnvName(k)
		if msg == "" {
			msg = checkEnvValue(k, env[k])
		}
		if msg != "" {
			b.fail(l, at(p, "env", k), "env: %s", msg)
			continue
		}
		t.Env[k], t.Origins["env."+k] = env[k], l.src(at(p, "env", k)...)
	}
	if workdir != nil {
		w, msg := checkGuestPath(*workdir)
		if msg != "" {
			b.fail(l, at(p, "workdir"), "workdir %s", msg)
		}
		t.Workdir, t.Origins["workdir"] = w, l.src(at(p, "workdir")...)
	}
	if postInstall != nil {
		cmds, msg := commandList(postInstall)
		if msg != "" {
			b.fail(l, at(p, "postInstall"), "%s", msg)
		}
		t.PostInstall, t.Origins["postInstall"] = cmds, l.src(at(p, "postInstall")...)
	}
	for i := range caches {
		b.cache(t, &caches[i], l, at(p, "cache", idx(i)))
	}
	if net != nil {
		b.network(t, net, l, at(p, "network"))
	}
}

// resources applies cpus, memoryMB, maxProcesses, rootfsSizeMB and maxFiles.
func (b *builder) resources(t *Tool, l *layer, p []string, cpus, mem, procs, rootfs, files *int) {
	set := func(dst *int, v *int, key string, lo, hi int) {
		if v == nil {
			return
		}
		if msg := checkRange(key, *v, lo, hi); msg != "" {
			b.fail(l, at(p, key), "%s", msg)
		}
		*dst, t.Origins[key] = *v, l.src(at(p, key)...)
	}
	set(&t.CPUs, cpus, "cpus", 1, maxCPUs)
	set(&t.MemoryMB, mem, "memoryMB", minMemoryMB, maxMemoryMB)
	set(&t.MaxProcesses, procs, "maxProcesses", minMaxProcesses, maxMaxProcesses)
	set(&t.RootfsSizeMB, rootfs, "rootfsSizeMB", minRootfsSizeMB, maxRootfsSizeMB)
	set(&t.MaxFiles, files, "maxFiles", minMaxFiles, maxMaxFiles)
}

// cache adds or replaces (same guest path) a package-cache mount. The
// cache is this project's unless the user's own files share it; a
// project's file keeps it inside the tool's own area (TOOL/…).
func (b *builder) cache(t *Tool, d *cacheDef, l *layer, p []string) {
	if d.Guest == nil {
		b.fail(l, p, "a [[cache]] entry needs `guest`, the directory inside the sandbox, such as \"/root/.cache/pip\"")
		return
	}
	c := Cache{Root: filepath.Join(b.home, "cache")}
	var msg string
	if c.Guest, msg = checkGuestPath(*d.Guest); msg != "" {
		b.fail(l, at(p, "guest"), "cache guest %s", msg)
		return
	}
	c.Name = t.Name + "/" + strings.ReplaceAll(strings.Trim(c.Guest, "/"), "/", "-")
	if d.Host != nil {
		if c.Name, msg = checkCacheHost(*d.Host, t.Name, l.project); msg != "" {
			b.fail(l, at(p, "host"), "%s", msg)
			return
		}
	}
	if d.Shared != nil && *d.Shared {
		if l.project {
			b.fail(l, at(p, "shared"), "a project's silo.toml cannot share a cache between projects (another project's sandbox could plant code in it): set `shared = true` in your own $SILO_HOME/silo.toml under [[overrides.%s.cache]] instead", t.Name)
			return
		}
		c.Shared = true
	}
	c.Host = b.cacheHost(c)
	if d.SizeHint != nil {
		if c.SizeHint, msg = parseSize(*d.SizeHint); msg != "" {
			b.fail(l, at(p, "sizeHint"), "%s", msg)
		}
	}
	c.NoGC = d.NoGC != nil && *d.NoGC
	i := slices.IndexFunc(t.Caches, func(o Cache) bool { return o.Guest == c.Guest })
	if i < 0 {
		i = len(t.Caches)
		t.Caches = append(t.Caches, c)
	} else {
		t.Caches[i] = c
	}
	t.Origins["caches."+idx(i)] = l.src(p...)
}

// network applies a network policy table.
func (b *builder) network(t *Tool, n *networkDef, l *layer, p []string) {
	if n.HostAccess != nil {
		t.Network.HostAccess, t.Origins["network.hostAccess"] = *n.HostAccess, l.src(at(p, "hostAccess")...)
	}
	if n.TrustHostCAs != nil {
		t.TrustHostCAs, t.Origins["trustHostCAs"] = *n.TrustHostCAs, l.src(at(p, "trustHostCAs")...)
	}
	if n.Proxy == nil {
		return
	}
	lists := []struct {
		key  string
		src  []string
		dst  *[]string
		name string
	}{
		{"allow", n.Proxy.Allow, &t.Network.Allow, "network.allow"},
		{"deny", n.Proxy.Deny, &t.Network.Deny, "network.deny"},
		{"installAllow", n.Proxy.InstallAllow, &t.Network.InstallAllow, "network.installAllow"},
	}
	for _, li := range lists {
		for i, d := range li.src {
			ep := at(p, "proxy", li.key, idx(i))
			if msg := checkDomain(d); msg != "" {
				b.fail(l, ep, "proxy.%s: %s", li.key, msg)
				continue
			}
			*li.dst = union(*li.dst, t.Origins, li.name, d, l.src(ep...))
		}
	}
}

// ports replaces t's port forwards with ps.
func (b *builder) ports(t *Tool, ps []portDef, l *layer, p []string) {
	for k := range t.Origins {
		if strings.HasPrefix(k, "ports.") {
			delete(t.Origins, k)
		}
	}
	t.Ports = []Port{}
	t.Origins["ports"] = l.src(p...)
	seen := map[int]int{}
	for i, pd := range ps {
		ep := at(p, idx(i))
		if pd.Host == nil || pd.Guest == nil {
			b.fail(l, ep, "a port forward needs both `host` and `guest`, such as { host = 8000, guest = 8000 }")
			continue
		}
		bad := false
		for _, f := range []struct {
			key string
			n   int
		}{{"host", *pd.Host}, {"guest", *pd.Guest}} {
			if f.n < 1 || f.n > 65535 {
				b.fail(l, at(ep, f.key), "%s port %d is out of range: use 1 to 65535", f.key, f.n)
				bad = true
			}
		}
		if j, dup := seen[*pd.Host]; dup && !bad {
			b.fail(l, at(ep, "host"), "host port %d is already forwarded by ports entry %d: each host port can be forwarded once", *pd.Host, j+1)
			bad = true
		}
		if bad {
			continue
		}
		seen[*pd.Host] = i
		t.Origins["ports."+idx(len(t.Ports))] = l.src(ep...)
		t.Ports = append(t.Ports, Port{Host: *pd.Host, Guest: *pd.Guest})
	}
}

// union appends v to list unless it is there already, recording its source
// under key.N.
func union(list []string, origins map[string]Source, key, v string, src Source) []string {
	if slices.Contains(list, v) {
		return list
	}
	origins[key+"."+idx(len(list))] = src
	return append(list, v)
}

// sortedKeys returns m's keys in order, so that errors come out stably.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
