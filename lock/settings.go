package lock

import (
	"fmt"
	"slices"
	"strings"
)

// item is one validated list element and where it was written.
type item struct {
	v   string
	src Source
}

// settings are the project-wide keys of one silo.toml, validated once and
// then applied to every tool.
type settings struct {
	passEnv, passFiles, exclude []item
	sshAgent                    *bool
	sshSrc                      Source
	mode                        string
	modeSrc                     Source
}

// settings validates the project-wide keys of f.
func (b *builder) settings(f *projectFile, l *layer) *settings {
	s := &settings{}
	for i, n := range f.PassEnv {
		p := []string{"passEnv", idx(i)}
		if msg := checkEnvName(n); msg != "" {
			b.fail(l, p, "passEnv: %s", msg)
			continue
		}
		s.passEnv = append(s.passEnv, item{n, l.src(p...)})
	}
	for i, f := range f.PassFiles {
		p := []string{"passFiles", idx(i)}
		abs, msg := checkPassFile(f, l.project, b.workspace, b.userHome)
		if msg != "" {
			b.fail(l, p, "%s", msg)
			continue
		}
		s.passFiles = append(s.passFiles, item{abs, l.src(p...)})
	}
	if f.PassSSHAgent != nil {
		s.sshAgent, s.sshSrc = f.PassSSHAgent, l.src("passSshAgent")
	}
	if m := f.Mount; m != nil {
		b.mount(s, m, l)
	}
	return s
}

// mount validates the [mount] table.
func (b *builder) mount(s *settings, m *mountDef, l *layer) {
	for i, e := range m.Exclude {
		p := []string{"mount", "exclude", idx(i)}
		rel, msg := checkRelative(e, "mount.exclude entry")
		if msg != "" {
			b.fail(l, p, "%s: exclude names paths inside the project, such as \"node_modules\"", msg)
			continue
		}
		s.exclude = append(s.exclude, item{rel, l.src(p...)})
	}
	if m.Mode != nil {
		switch *m.Mode {
		case "rw", "ro":
			s.mode, s.modeSrc = *m.Mode, l.src("mount", "mode")
		default:
			b.fail(l, []string{"mount", "mode"}, "mount.mode %q is not a mode: use \"rw\" (the default: the tool may change the project) or \"ro\" (read-only)", *m.Mode)
		}
	}
}

// apply merges the settings into t.
func (s *settings) apply(t *Tool) {
	for _, it := range s.passEnv {
		t.PassEnv = union(t.PassEnv, t.Origins, "passEnv", it.v, it.src)
	}
	for _, it := range s.passFiles {
		t.PassFiles = union(t.PassFiles, t.Origins, "passFiles", it.v, it.src)
	}
	for _, it := range s.exclude {
		t.Exclude = union(t.Exclude, t.Origins, "exclude", it.v, it.src)
	}
	if s.sshAgent != nil {
		t.PassSSHAgent, t.Origins["passSshAgent"] = *s.sshAgent, s.sshSrc
	}
	if s.mode != "" {
		t.MountMode, t.Origins["mountMode"] = s.mode, s.modeSrc
	}
}

// toolRefs checks that the `tools` list and the [overrides.*] tables of f
// name defined tools, and returns the list.
func (b *builder) toolRefs(f *projectFile, l *layer, defined []string) []string {
	var out []string
	for i, n := range f.Tools {
		if !slices.Contains(defined, CanonicalTool(n)) {
			b.fail(l, []string{"tools", idx(i)}, "%s", unknownTool(n, defined))
			continue
		}
		out = append(out, CanonicalTool(n))
	}
	for _, n := range sortedKeys(f.Overrides) {
		if !slices.Contains(defined, CanonicalTool(n)) {
			b.fail(l, []string{"overrides", n}, "[overrides.%s]: %s", n, unknownTool(n, defined))
		}
	}
	return out
}

// unknownTool words the error for a tool name that is not defined.
func unknownTool(n string, defined []string) string {
	msg := "there is no tool named " + quote(n)
	if s := nearest(n, defined); s != "" {
		return msg + " — did you mean " + quote(s) + "?"
	}
	return msg + ": define it under [tool." + n + "] in $SILO_HOME/config.toml"
}

func quote(s string) string { return "`" + s + "`" }

// cachePolicy merges the [cache] tables of the silo.toml files.
func (b *builder) cachePolicy(p *CachePolicy, f *projectFile, l *layer) {
	if f.Cache == nil {
		return
	}
	if r := f.Cache.Rootfs; r != nil {
		b.limits(p, l, "rootfs", r.MaxSizeMB, r.MaxAgeDays, &p.Rootfs)
	}
	t := f.Cache.Tools
	if t == nil {
		return
	}
	b.limits(p, l, "tools", t.MaxSizeMB, t.MaxAgeDays, &p.Tools)
	for _, name := range sortedKeys(t.PerMount) {
		path := []string{"cache", "tools", "perMount", name}
		clean, msg := checkRelative(name, "cache.tools.perMount key")
		if msg == "" && !strings.Contains(clean, "/") {
			msg = fmt.Sprintf("cache.tools.perMount key %q is not a mount name: write TOOL/NAME, such as \"rust/cargo\" (`silo config show TOOL` lists each cache's name)", name)
		}
		if msg == "" {
			msg = checkRange("cache.tools.perMount."+name, t.PerMount[name], 0, maxCacheMB)
		}
		if msg != "" {
			b.fail(l, path, "%s", msg)
			continue
		}
		if p.Tools.PerMount == nil {
			p.Tools.PerMount = map[string]int{}
		}
		p.Tools.PerMount[clean], p.Origins["tools.perMount."+clean] = t.PerMount[name], l.src(path...)
	}
}

// limits merges maxSizeMB and maxAgeDays of [cache.NAME].
func (b *builder) limits(p *CachePolicy, l *layer, name string, size, age *int, dst *CacheLimits) {
	path := []string{"cache", name}
	setInt := func(key string, v *int, hi int, d *int) {
		if v == nil {
			return
		}
		if msg := checkRange("cache."+name+"."+key, *v, 0, hi); msg != "" {
			b.fail(l, at(path, key), "%s", msg)
		}
		*d, p.Origins[name+"."+key] = *v, l.src(at(path, key)...)
	}
	setInt("maxSizeMB", size, maxCacheMB, &dst.MaxSizeMB)
	setInt("maxAgeDays", age, maxAgeDays, &dst.MaxAgeDays)
}
