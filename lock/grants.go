package lock

import (
	"fmt"
	"github.com/silo-dev/silo/internal/fsutil"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// A project's silo.toml comes with the code: cloning a repository and
// running silo in it must not hand the repository the user's secrets. So
// whatever a project file asks for that reaches beyond the sandbox's
// defaults is a grant, and Load obeys a file that asks for any only once
// the user has trusted its content (see trust.go). The grants are the
// values, set by the project file and not already set by an earlier layer
// (built-in, config.toml, the user-wide silo.toml), of these keys:
//
//	passEnv, overrides.T.passEnv  a host variable goes in
//	passFiles                     a host file goes in
//	passSshAgent = true           the user's SSH agent answers inside
//	network.hostAccess = true     host services through the proxy
//	network.proxy.allow           a domain the sandbox may reach
//	network.proxy.installAllow    the same while setup and postInstall run
//	ports                         a host port forwarded into the sandbox
//	cache                         a host directory kept across runs, mounted read-write
//	image = "oci-layout:…" etc.   a local image: host files silo reads
//	mount.mode = "rw"             over the user-wide file's "ro": the tool may change the project
//
// Everything else only narrows the sandbox or shapes it within its fence
// and is not a grant: tools, env, workdir, cpus, memoryMB, maxProcesses,
// rootfsSizeMB, maxFiles, a registry image, postInstall, lsp and lspInstall (they run inside the
// sandbox, fenced like any command), mount.exclude, mount.mode = "ro" (or
// "rw" where the user-wide file does not say "ro"),
// network.proxy.deny, an empty ports list, and the [cache] limits.

// Grant is one value a project's silo.toml asks for beyond the defaults.
type Grant struct {
	Tool   string `json:"tool,omitempty"` // the tool it is for; "" when it is for every tool
	Key    string `json:"key"`            // passEnv, passFiles, passSshAgent, network.hostAccess, network.allow, network.installAllow, ports, caches, image
	Value  string `json:"value"`          // the value in words
	Source Source `json:"source"`         // where the file asks for it
}

// String is the grant as the trust prompt shows it, without its source:
// "passEnv AWS_SECRET_ACCESS_KEY", "bb: network.allow *". Characters that
// could move the cursor or recolour the terminal are escaped.
func (g Grant) String() string {
	s := g.Key + " " + printable(g.Value)
	if g.Tool != "" {
		s = printable(g.Tool) + ": " + s
	}
	return s
}

// printable escapes control characters, so that a value from a file
// cannot write to the terminal.
func printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !strconv.IsPrint(r) && r != ' ' }) < 0 {
		return s
	}
	q := strconv.QuoteToGraphic(s)
	return q[1 : len(q)-1]
}

// grantKeys are the Origins keys that are grants (a list's elements are
// "KEY.N"), and the words for each value.
var grantKeys = []struct {
	key   string
	list  bool
	value func(t *Tool, i int) (string, bool)
}{
	{"image", false, func(t *Tool, _ int) (string, bool) { return t.Image, isLocalImage(t.Image) }},
	{"passEnv", true, func(t *Tool, i int) (string, bool) { return elem(t.PassEnv, i) }},
	{"passFiles", true, func(t *Tool, i int) (string, bool) { return elem(t.PassFiles, i) }},
	{"passSshAgent", false, func(t *Tool, _ int) (string, bool) { return "true", t.PassSSHAgent }},
	{"network.hostAccess", false, func(t *Tool, _ int) (string, bool) { return "true", t.Network.HostAccess }},
	{"network.allow", true, func(t *Tool, i int) (string, bool) { return elem(t.Network.Allow, i) }},
	{"network.installAllow", true, func(t *Tool, i int) (string, bool) { return elem(t.Network.InstallAllow, i) }},
	{"ports", true, func(t *Tool, i int) (string, bool) {
		if i >= len(t.Ports) {
			return "", false
		}
		return fmt.Sprintf("host %d → guest %d", t.Ports[i].Host, t.Ports[i].Guest), true
	}},
	{"caches", true, func(t *Tool, i int) (string, bool) {
		if i >= len(t.Caches) {
			return "", false
		}
		return cacheWords(t.Caches[i]), true
	}},
}

// elem returns list[i], if there is one.
func elem(list []string, i int) (string, bool) {
	if i < 0 || i >= len(list) {
		return "", false
	}
	return list[i], true
}

// grants lists what file, a project's silo.toml, asks for beyond what the
// earlier layers set, in the order the file asks for it. A value the file
// sets for every tool is one grant with Tool "".
func (c *Config) grants(file string) []Grant {
	type seen struct {
		g     Grant
		tools []string
	}
	var all []*seen
	for _, name := range c.ToolNames() {
		t := c.tools[name]
		for okey, src := range t.Origins {
			if src.File != file {
				continue
			}
			g, ok := t.grant(okey, src)
			if okey == "mountMode" && t.MountMode == "rw" && c.userMode == "ro" {
				g, ok = Grant{Key: "mount.mode", Value: "rw", Source: src}, true
			}
			if !ok {
				continue
			}
			i := slices.IndexFunc(all, func(s *seen) bool { return s.g == g })
			if i < 0 {
				i = len(all)
				all = append(all, &seen{g: g})
			}
			all[i].tools = append(all[i].tools, name)
		}
	}
	out := make([]Grant, 0, len(all))
	for _, s := range all {
		if len(s.tools) == 1 && len(c.tools) > 1 {
			s.g.Tool = s.tools[0]
		}
		out = append(out, s.g)
	}
	slices.SortStableFunc(out, func(a, b Grant) int {
		if a.Source.Line != b.Source.Line {
			return a.Source.Line - b.Source.Line
		}
		if a.Source.Column != b.Source.Column {
			return a.Source.Column - b.Source.Column
		}
		return strings.Compare(a.Tool+a.Key+a.Value, b.Tool+b.Key+b.Value)
	})
	return out
}

// grant turns one of t's Origins entries into a grant, if its key is one.
func (t *Tool) grant(okey string, src Source) (Grant, bool) {
	for _, k := range grantKeys {
		i := 0
		if k.list {
			n, ok := strings.CutPrefix(okey, k.key+".")
			if !ok {
				continue
			}
			var err error
			if i, err = strconv.Atoi(n); err != nil {
				continue
			}
		} else if okey != k.key {
			continue
		}
		v, ok := k.value(t, i)
		if !ok {
			return Grant{}, false
		}
		return Grant{Key: k.key, Value: v, Source: src}, true
	}
	return Grant{}, false
}

// isLocalImage reports whether ref names an image on the host's disk.
func isLocalImage(ref string) bool {
	for _, p := range []string{srcOCILayout, srcDockerArchive, srcOCIArchive} {
		if strings.HasPrefix(ref, p) {
			return true
		}
	}
	return false
}

// checkProjectImage refuses a local image that a project's silo.toml names
// outside the project, as passFiles are: ref is resolved (absolute), root
// the directory of the project file. A registry reference passes.
func checkProjectImage(ref, root string) string {
	if !isLocalImage(ref) {
		return ""
	}
	_, rest, _ := strings.Cut(ref, ":")
	path := rest
	if strings.HasPrefix(ref, srcOCILayout) {
		if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.ContainsRune(rest[i:], '/') {
			path = rest[:i]
		}
	}
	out := ""
	if !fsutil.Within(path, root) {
		out = path
	} else if real, err := filepath.EvalSymlinks(path); err == nil {
		if realRoot, err := filepath.EvalSymlinks(root); err == nil && !fsutil.Within(real, realRoot) {
			out = real
		}
	}
	if out == "" {
		return ""
	}
	return fmt.Sprintf("image %q names %s, outside the project: a project's silo.toml can only name a local image inside the project; name this one in the user-wide $SILO_HOME/silo.toml or in config.toml", ref, out)
}
