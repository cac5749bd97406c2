package lock

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestCacheAreas checks where caches live: each project's own area by
// default, a shared one only when the user's own files say so, and that a
// project's file cannot name a directory outside its tool's area, share a
// cache, or make two caches meet.
func TestCacheAreas(t *testing.T) {
	f := newFixture(t)
	f.user(t, "[[overrides.go.cache]]\nguest = \"/go/pkg/mod\"\nshared = true\n")
	f.projectFile(t, "[[overrides.busybox.cache]]\nguest = \"/c\"\nhost = \"busybox/x/\"\n")
	c := mustLoad(t, f, f.project)
	goTool, _ := c.Tool("go")
	if want := filepath.Join(f.home, "cache", "shared", "go", "go-pkg-mod"); goTool.Caches[0].Host != want || !goTool.Caches[0].Shared {
		t.Errorf("shared go cache = %+v, want host %s", goTool.Caches[0], want)
	}
	if h := goTool.Caches[1].Host; !strings.HasPrefix(h, filepath.Join(f.home, "cache", "project")+"/") || goTool.Caches[1].Shared {
		t.Errorf("go build cache %s is not the project's", h)
	}
	bb, _ := c.Tool("busybox")
	if bb.Caches[0].Name != "busybox/x" || bb.Caches[0].Beneath() != filepath.Join("project", filepath.Base(filepath.Dir(filepath.Dir(bb.Caches[0].Host))), "busybox/x") {
		t.Errorf("busybox cache = %+v (beneath %s)", bb.Caches[0], bb.Caches[0].Beneath())
	}

	other := filepath.Join(f.userHome, "other")
	f.write(t, "home/other/silo.toml", "")
	oc := mustLoad(t, f, other)
	ob, _ := oc.Tool("python")
	pb, _ := c.Tool("python")
	if ob.Caches[0].Host == pb.Caches[0].Host {
		t.Errorf("two projects share the pip cache %s", ob.Caches[0].Host)
	}

	for _, bad := range []struct{ toml, msg string }{
		{"[[overrides.busybox.cache]]\nguest = \"/c\"\nhost = \"claude/root-.claude\"\n", "3:1: cache host \"claude/root-.claude\" is outside tool busybox's own cache area"},
		{"[[overrides.busybox.cache]]\nguest = \"/c\"\nhost = \"busybox/../claude\"\n", "3:1: cache host \"busybox/../claude\" is outside tool busybox's own cache area"},
		{"[[overrides.busybox.cache]]\nguest = \"/c\"\nhost = \"../x\"\n", "3:1: cache host \"../x\" escapes"},
		{"[[overrides.busybox.cache]]\nguest = \"/c\"\nhost = \"/etc\"\n", "3:1: cache host \"/etc\" must be a relative path"},
		{"[[overrides.busybox.cache]]\nguest = \"/c\"\nshared = true\n", "3:1: a project's silo.toml cannot share a cache"},
		{"[[overrides.busybox.cache]]\nguest = \"/a\"\nhost = \"busybox/evil\"\n[[overrides.busybox.cache]]\nguest = \"/b\"\nhost = \"busybox/evil/link\"\n",
			"silo.toml:4:3: cache /b of tool busybox (busybox/evil/link) lies inside cache /a of tool busybox (busybox/evil, set at " + filepath.Join(f.project, "silo.toml") + ":1:3)"},
		{"[[overrides.busybox.cache]]\nguest = \"/a\"\nhost = \"busybox/evil/link\"\n[[overrides.busybox.cache]]\nguest = \"/b\"\nhost = \"busybox/evil\"\n",
			"silo.toml:4:3: cache /b of tool busybox (busybox/evil) holds cache /a"},
		{"[[overrides.busybox.cache]]\nguest = \"/a\"\nhost = \"busybox/same\"\n[[overrides.busybox.cache]]\nguest = \"/b\"\nhost = \"busybox/same/\"\n",
			"cache /b of tool busybox (busybox/same) is the same directory as cache /a"},
	} {
		f.projectFile(t, bad.toml)
		_, err := f.load(f.project)
		if err == nil || !strings.Contains(err.Error(), bad.msg) {
			t.Errorf("%q: error %v, want %q", bad.toml, err, bad.msg)
		}
	}
	// The user's own config.toml names caches freely, but two tools still
	// cannot share one directory.
	f.projectFile(t, "")
	f.global(t, "[tool.a]\nimage = \"alpine\"\n[[tool.a.cache]]\nguest = \"/c\"\nhost = \"pip\"\n[tool.b]\nimage = \"alpine\"\n[[tool.b.cache]]\nguest = \"/c\"\nhost = \"pip\"\n")
	if _, err := f.load(f.project); err == nil || !strings.Contains(err.Error(), "config.toml:8:3: cache /c of tool b (pip) is the same directory as cache /c of tool a") {
		t.Errorf("two tools sharing a cache directory: %v", err)
	}
}

// TestSiloNames checks claude-code as claude in config.toml, and the
// snake_case keys read with their positions.
func TestSiloNames(t *testing.T) {
	f := newFixture(t)
	g := f.global(t, "[tool.claude-code]\nimage = \"node:22\"\nshims = [\"claude\"]\n")
	f.projectFile(t, "tools = [\"claude\"]\n[overrides.claude-code]\npass_env = [\"X\"]\npass_ssh_agent = true\n")
	c := mustLoad(t, f, f.project)
	tl, err := c.Tool("claude-code")
	if err != nil || tl.Name != "claude" || tl.Image != "node:22" || !tl.PassSSHAgent || tl.PassEnv[0] != "X" {
		t.Fatalf("claude-code = %+v, %v", tl, err)
	}
	if o := tl.Origins["passEnv.0"]; o.Line != 3 || o.Column != 13 {
		t.Errorf("pass_env origin %v, want line 3 column 13", o)
	}
	if o := tl.Origins["name"]; o.File != g || o.Line != 1 {
		t.Errorf("tool origin %v", o)
	}
	if n := c.Notes(); len(n) != 1 || !strings.Contains(n[0], "overrides.claude-code.pass_env (line 3) as passEnv, overrides.claude-code.pass_ssh_agent (line 4) as passSshAgent") {
		t.Errorf("notes %q", n)
	}
	if CanonicalTool("claude-code") != "claude" || CanonicalTool("python") != "python" {
		t.Error("CanonicalTool")
	}
	f.global(t, "[tool.claude-code]\nimage = \"node:22\"\n[tool.claude]\nimage = \"node:22\"\n")
	if _, err := f.load(f.project); err == nil || !strings.Contains(err.Error(), "config.toml:1:2: [tool.claude-code] and [tool.claude] (line 3) name one tool") {
		t.Errorf("claude and claude-code both defined: %v", err)
	}
}

// TestPerMountRows checks that config show lists each perMount bound with
// its origin.
func TestPerMountRows(t *testing.T) {
	f := newFixture(t)
	p := f.projectFile(t, "[cache.tools.perMount]\n\"rust/cargo\" = 8192\n")
	rows := mustLoad(t, f, f.project).Cache().CacheRows()
	found := false
	for _, r := range rows {
		if r.Key == "cache.tools.perMount.rust/cargo" {
			found = r.Value == "8192" && r.Source.File == p && r.Source.Line == 2
		}
	}
	if !found {
		t.Errorf("rows %+v", rows)
	}
}
