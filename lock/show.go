package lock

import (
	"fmt"
	"strconv"
	"strings"
)

// Row is one value of an effective Tool as `silo config show` prints it:
// the key, the value in words, and where it came from.
type Row struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Source Source `json:"source"`
}

// Rows lists t's values in a fixed order, one row per scalar, map entry and
// list element, each with its origin. Empty lists get one row saying so.
func (t *Tool) Rows() []Row {
	r := &rows{t: t}
	r.add("image", t.Image)
	for i, s := range t.Shims {
		v := s.Name
		if s.Command != s.Name {
			v += " → " + s.Command
		}
		r.add("shims."+strconv.Itoa(i), v)
	}
	for _, k := range sortedKeys(t.Env) {
		r.add("env."+k, t.Env[k])
	}
	r.add("workdir", t.Workdir)
	r.add("cpus", strconv.Itoa(t.CPUs))
	r.add("memoryMB", strconv.Itoa(t.MemoryMB))
	r.add("maxProcesses", strconv.Itoa(t.MaxProcesses))
	r.add("rootfsSizeMB", strconv.Itoa(t.RootfsSizeMB))
	r.add("maxFiles", strconv.Itoa(t.MaxFiles))
	r.add("setup", oneLine(t.Setup))
	if len(t.PostInstall) == 0 {
		r.add("postInstall", "(none)")
	}
	for i, c := range t.PostInstall {
		r.addAs("postInstall."+strconv.Itoa(i), "postInstall", oneLine(c))
	}
	r.add("lsp", argvWords(t.LSP))
	r.add("lspInstall", oneLine(t.LSPInstall))
	for i, c := range t.Caches {
		r.add("caches."+strconv.Itoa(i), cacheWords(c))
	}
	r.add("network.hostAccess", strconv.FormatBool(t.Network.HostAccess))
	r.addAs("trustHostCAs", "network.trustHostCAs", strconv.FormatBool(t.TrustHostCAs))
	r.list("network.allow", t.Network.Allow)
	r.list("network.deny", t.Network.Deny)
	r.list("network.installAllow", t.Network.InstallAllow)
	r.list("passEnv", t.PassEnv)
	r.list("passFiles", t.PassFiles)
	r.add("passSshAgent", strconv.FormatBool(t.PassSSHAgent))
	r.list("exclude", t.Exclude)
	r.add("mountMode", t.MountMode)
	if len(t.Ports) == 0 {
		r.add("ports", "(none)")
	}
	for i, p := range t.Ports {
		r.add("ports."+strconv.Itoa(i), fmt.Sprintf("host %d → guest %d", p.Host, p.Guest))
	}
	return r.out
}

// CacheRows lists the cache limits with their origins.
func (p CachePolicy) CacheRows() []Row {
	var out []Row
	for _, c := range []struct {
		name string
		l    CacheLimits
	}{{"rootfs", p.Rootfs}, {"tools", p.Tools}} {
		kvs := [][2]string{{"maxSizeMB", limitWords(c.l.MaxSizeMB)}, {"maxAgeDays", limitWords(c.l.MaxAgeDays)}}
		for _, k := range sortedKeys(c.l.PerMount) {
			kvs = append(kvs, [2]string{"perMount." + k, limitWords(c.l.PerMount[k])})
		}
		for _, kv := range kvs {
			src, ok := p.Origins[c.name+"."+kv[0]]
			if !ok {
				src = Source{File: BuiltIn}
			}
			out = append(out, Row{Key: "cache." + c.name + "." + kv[0], Value: kv[1], Source: src})
		}
	}
	return out
}

type rows struct {
	t   *Tool
	out []Row
}

func (r *rows) add(key, v string) { r.addAs(key, key, v) }

// addAs adds a row whose origin is recorded under another key.
func (r *rows) addAs(key, origin, v string) {
	src, ok := r.t.Origins[origin]
	if !ok {
		src = Source{File: BuiltIn}
	}
	r.out = append(r.out, Row{Key: key, Value: v, Source: src})
}

func (r *rows) list(key string, l []string) {
	if len(l) == 0 {
		r.add(key, "(none)")
		return
	}
	for i, v := range l {
		r.add(key+"."+strconv.Itoa(i), v)
	}
}

// oneLine shows a script on one line.
func oneLine(s string) string {
	if s == "" {
		return "(none)"
	}
	s = strings.TrimSpace(s)
	if first, _, multi := strings.Cut(s, "\n"); multi {
		return first + " …"
	}
	return s
}

func cacheWords(c Cache) string {
	s := c.Guest + " ← " + c.Host
	notes := []string{"this project's only"}
	if c.Shared {
		notes[0] = "shared between projects"
	}
	if c.MaxSizeMB > 0 {
		notes = append(notes, "at most "+strconv.Itoa(c.MaxSizeMB)+" MiB")
	}
	if c.SizeHint > 0 {
		notes = append(notes, "about "+sizeWords(c.SizeHint))
	}
	if c.NoGC {
		notes = append(notes, "never collected")
	}
	if len(notes) > 0 {
		s += " (" + strings.Join(notes, ", ") + ")"
	}
	return s
}

func sizeWords(n int64) string {
	for _, u := range []struct {
		shift uint
		name  string
	}{{40, "TiB"}, {30, "GiB"}, {20, "MiB"}, {10, "KiB"}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + " " + u.name
		}
	}
	return strconv.FormatInt(n, 10) + " B"
}

func limitWords(n int) string {
	if n == 0 {
		return "0 (no limit)"
	}
	return strconv.Itoa(n)
}
