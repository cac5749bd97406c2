package lock

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestMergeRules checks each merge rule of the package doc across the three
// layers: the tool definition, the user-wide silo.toml and the project's.
func TestMergeRules(t *testing.T) {
	const def = `[tool.x]
image = "alpine:3"
shims = ["x"]
cpus = 1
env = { A = "g", B = "g" }
[[tool.x.cache]]
guest = "/c1"
[[tool.x.cache]]
guest = "/c2"
sizeHint = "1GiB"
[tool.x.network.proxy]
allow = ["a.com"]
`
	tests := []struct {
		name          string
		user, project string
		got           func(*Tool) any
		want          any
		origin        string // key in Origins
		from          string // "global", "user", "project" or "built-in", and :line
	}{
		{"scalar: project over user over definition", "[overrides.x]\ncpus = 2\n", "[overrides.x]\ncpus = 3\n",
			func(t *Tool) any { return t.CPUs }, 3, "cpus", "project:2"},
		{"scalar: user over definition", "[overrides.x]\ncpus = 2\n", "",
			func(t *Tool) any { return t.CPUs }, 2, "cpus", "user:2"},
		{"scalar: definition when unset", "", "tools = [\"x\"]\n",
			func(t *Tool) any { return t.CPUs }, 1, "cpus", "global:4"},
		{"scalar: silo default when nobody sets it", "", "",
			func(t *Tool) any { return t.MemoryMB }, DefaultMemoryMB, "memoryMB", "built-in"},
		{"scalar: false overrides true", "passSshAgent = true\n", "passSshAgent = false\n",
			func(t *Tool) any { return t.PassSSHAgent }, false, "passSshAgent", "project:1"},
		{"scalar: mount mode", "[mount]\nmode = \"ro\"\n", "",
			func(t *Tool) any { return t.MountMode }, "ro", "mountMode", "user:2"},
		{"scalar: image", "", "[overrides.x]\nimage = \"alpine:3.20\"\n",
			func(t *Tool) any { return t.Image }, "alpine:3.20", "image", "project:2"},
		{"map: per key", "[overrides.x.env]\nB = \"u\"\nC = \"u\"\n", "[overrides.x]\nenv = { C = \"p\" }\n",
			func(t *Tool) any { return t.Env }, map[string]string{"A": "g", "B": "u", "C": "p"}, "env.B", "user:2"},
		{"map: project key origin", "[overrides.x.env]\nB = \"u\"\nC = \"u\"\n", "[overrides.x]\nenv = { C = \"p\" }\n",
			func(t *Tool) any { return t.Env["C"] }, "p", "env.C", "project:2"},
		{"list: union keeps order and drops duplicates", "passEnv = [\"X\", \"Y\"]\n[overrides.x]\npassEnv = [\"Y\", \"V\"]\n",
			"passEnv = [\"Y\", \"Z\"]\n[overrides.x]\npassEnv = [\"Z\", \"W\", \"X\"]\n",
			func(t *Tool) any { return t.PassEnv }, []string{"X", "Y", "V", "Z", "W"}, "passEnv.1", "user:1"},
		{"list: a duplicate keeps its first origin", "passEnv = [\"X\"]\n", "passEnv = [\"X\"]\n",
			func(t *Tool) any { return t.PassEnv }, []string{"X"}, "passEnv.0", "user:1"},
		{"list: proxy allow", "", "[overrides.x.network]\nproxy.allow = [\"b.com\", \"a.com\"]\nproxy.deny = [\"c.com\"]\n",
			func(t *Tool) any { return t.Network }, Network{Allow: []string{"a.com", "b.com"}, Deny: []string{"c.com"}, InstallAllow: []string{}},
			"network.allow.1", "project:2"},
		{"list: exclude cleaned", "[mount]\nexclude = [\"node_modules\"]\n", "[mount]\nexclude = [\"./.venv/\", \"node_modules/\", \"a//b\"]\n",
			func(t *Tool) any { return t.Exclude }, []string{"node_modules", ".venv", "a/b"}, "exclude.2", "project:2"},
		{"list: tools", "tools = [\"x\", \"python\"]\n", "tools = [\"node\", \"x\"]\n",
			nil, []string{"x", "python", "node"}, "", ""},
		{"cache: same guest replaces in place", "", "[[overrides.x.cache]]\nguest = \"/c1/\"\nhost = \"x/shared\"\nnoGC = true\n",
			func(t *Tool) any {
				return len(t.Caches) == 2 && t.Caches[0].Guest == "/c1" && t.Caches[0].NoGC && t.Caches[1].SizeHint == 1<<30
			},
			true, "caches.0", "project:1"},
		{"cache: new guest is added", "[[overrides.x.cache]]\nguest = \"/c3\"\n", "",
			func(t *Tool) any { return len(t.Caches) }, 3, "caches.2", "user:1"},
		{"ports: replaced whole", "[[overrides.x.ports]]\nhost = 8000\nguest = 80\n[[overrides.x.ports]]\nhost = 9000\nguest = 90\n",
			"[[overrides.x.ports]]\nhost = 7000\nguest = 70\n",
			func(t *Tool) any { return t.Ports }, []Port{{7000, 70}}, "ports.0", "project:1"},
		{"ports: empty list clears", "[[overrides.x.ports]]\nhost = 8000\nguest = 80\n", "[overrides.x]\nports = []\n",
			func(t *Tool) any { return t.Ports }, []Port{}, "ports", "project:2"},
		{"ports: kept when not set", "[[overrides.x.ports]]\nhost = 8000\nguest = 80\n", "[overrides.x]\ncpus = 1\n",
			func(t *Tool) any { return t.Ports }, []Port{{8000, 80}}, "ports.0", "user:1"},
		{"hostAccess overlay", "[overrides.x.network]\nhostAccess = true\n", "",
			func(t *Tool) any { return t.Network.HostAccess }, true, "network.hostAccess", "user:2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			files := map[string]string{"built-in": BuiltIn, "global": f.global(t, def)}
			if tt.user != "" {
				files["user"] = f.user(t, tt.user)
			}
			if tt.project != "" {
				files["project"] = f.projectFile(t, tt.project)
			}
			c, err := f.load(f.project)
			if err != nil {
				t.Fatal(err)
			}
			if tt.got == nil {
				if got := c.ProjectTools(); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("ProjectTools = %v, want %v", got, tt.want)
				}
				return
			}
			tl, err := c.Tool("x")
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.got(tl); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
			which, line, _ := strings.Cut(tt.from, ":")
			src, ok := tl.Origins[tt.origin]
			if !ok {
				t.Fatalf("no origin for %q in %v", tt.origin, tl.Origins)
			}
			if src.File != files[which] || (line != "" && src.String() != files[which]+":"+line+":"+itoa(src.Column)) {
				t.Errorf("origin of %s = %v, want %s line %s", tt.origin, src, files[which], line)
			}
		})
	}
}

func itoa(i int) string { return idx(i) }

// TestGlobalReplacesBuiltIn checks that a [tool.NAME] in config.toml
// replaces the built-in tool whole, and takes shims from built-in tools.
func TestGlobalReplacesBuiltIn(t *testing.T) {
	f := newFixture(t)
	f.global(t, "[tool.python]\nimage = \"python:3.11\"\nshims = [\"python\"]\n[tool.mytool]\nimage = \"alpine\"\nshims = [\"npm\", \"mt:mytool-cli\"]\n")
	c, err := f.load(f.project)
	if err != nil {
		t.Fatal(err)
	}
	py, _ := c.Tool("python")
	if py.Image != "python:3.11" || len(py.Env) != 0 || len(py.Caches) != 0 || len(py.Network.Allow) != 0 {
		t.Errorf("python kept built-in values: %+v", py)
	}
	for shim, want := range map[string]string{"python": "python/python", "pip": "", "npm": "mytool/npm", "node": "node/node", "npx": "node/npx", "mt": "mytool/mytool-cli"} {
		tool, cmd, ok := c.Shim(shim)
		got := tool + "/" + cmd
		if !ok {
			got = ""
		}
		if got != want {
			t.Errorf("Shim(%q) = %q, want %q", shim, got, want)
		}
	}
	node, _ := c.Tool("node")
	if len(node.Shims) != 2 || node.Shims[0].Name != "node" || node.Shims[1].Name != "npx" {
		t.Errorf("node shims = %v, want node, npx (npm taken by mytool)", node.Shims)
	}
	if _, ok := node.Origins["shims.2"]; ok {
		t.Errorf("node keeps the origin of a shim it lost: %v", node.Origins)
	}
}

// TestBuiltIns checks the built-in definitions: all valid, every shim
// unique, every origin "built-in".
func TestBuiltIns(t *testing.T) {
	var g globalFile
	if _, err := decodeStrict("defaults.toml", defaultsTOML, &g); err != nil {
		t.Fatalf("defaults.toml: %v", err)
	}
	f := newFixture(t)
	c, err := f.load(f.project)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"aws-cli", "bun", "busybox", "claude", "cypress", "deno", "go", "java", "jupyter", "node", "playwright", "psql", "python", "ruby", "rust", "uv"}
	if got := c.ToolNames(); !reflect.DeepEqual(got, want) {
		t.Errorf("ToolNames = %v, want %v", got, want)
	}
	shims := 0
	for _, n := range c.ToolNames() {
		tl, _ := c.Tool(n)
		shims += len(tl.Shims)
		if tl.Image == "" || len(tl.Shims) == 0 {
			t.Errorf("%s: no image or no shims", n)
		}
		for k, src := range tl.Origins {
			if src.String() != BuiltIn {
				t.Errorf("%s: origin of %s = %v", n, k, src)
			}
		}
	}
	if len(c.Shims()) != shims {
		t.Errorf("%d shims for %d tool shims: some built-in tools share a shim", len(c.Shims()), shims)
	}
	if tool, cmd, ok := c.Shim("pip"); tool != "python" || cmd != "pip" || !ok {
		t.Errorf("Shim(pip) = %q %q %v", tool, cmd, ok)
	}
	if _, err := c.Tool("pyton"); err == nil || !strings.Contains(err.Error(), `did you mean "python"?`) {
		t.Errorf("Tool(pyton) error = %v", err)
	}
}

// TestPathsResolved checks that the runtime receives absolute, cleaned
// paths: local images relative to their file, ~ expanded in the user-wide
// file, passFiles against the project root, cache hosts under $SILO_HOME.
func TestPathsResolved(t *testing.T) {
	f := newFixture(t)
	f.global(t, "[tool.bb]\nimage = \"oci-layout:images/../images/bb:v1\"\n[[tool.bb.cache]]\nguest = \"/var/cache//x/\"\n[tool.da]\nimage = \"docker-archive:~/imgs/da.tar\"\n")
	f.user(t, "passFiles = [\"~/.gitconfig\", \"/etc/ssl/certs/ca.pem\", \"rel.txt\"]\n")
	f.projectFile(t, "passFiles = [\"sub/../secrets/.netrc\"]\n[[overrides.bb.cache]]\nguest = \"/c\"\nhost = \"bb/pip\"\n[overrides.da]\nimage = \"oci-archive:dist/img.tar\"\n")
	sub := filepath.Join(f.project, "a", "b")
	c, err := f.load(sub)
	if err != nil {
		t.Fatal(err)
	}
	bb, _ := c.Tool("bb")
	da, _ := c.Tool("da")
	area := filepath.Dir(filepath.Dir(bb.Caches[0].Host))
	if filepath.Dir(area) != filepath.Join(f.home, "cache", "project") || !strings.HasPrefix(filepath.Base(area), "proj-") {
		t.Errorf("cache area %s is not $SILO_HOME/cache/project/proj-HASH", area)
	}
	checks := []struct{ name, got, want string }{
		{"oci-layout", bb.Image, "oci-layout:" + filepath.Join(f.home, "images/bb") + ":v1"},
		{"docker-archive ~", mustTool(t, c, "da").Image, "oci-archive:" + filepath.Join(f.project, "dist/img.tar")},
		{"cache default host", bb.Caches[0].Host, filepath.Join(area, "bb", "var-cache-x")},
		{"cache guest", bb.Caches[0].Guest, "/var/cache/x"},
		{"cache named host", bb.Caches[1].Host, filepath.Join(area, "bb/pip")},
		{"cache beneath", bb.Caches[1].Beneath(), filepath.Join("project", filepath.Base(area), "bb/pip")},
		{"passFiles", strings.Join(da.PassFiles, " "), strings.Join([]string{
			filepath.Join(f.userHome, ".gitconfig"), "/etc/ssl/certs/ca.pem",
			filepath.Join(f.project, "rel.txt"), filepath.Join(f.project, "secrets/.netrc")}, " ")},
		{"project root", bb.ProjectRoot, f.project},
		{"workspace", c.Workspace(), f.project},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.name, ch.got, ch.want)
		}
	}
	f.global(t, "[tool.da]\nimage = \"docker-archive:~/imgs/da.tar\"\n")
	f.projectFile(t, "")
	if got := mustTool(t, mustLoad(t, f, sub), "da").Image; got != "docker-archive:"+filepath.Join(f.userHome, "imgs/da.tar") {
		t.Errorf("docker-archive ~ = %q", got)
	}
}

func mustLoad(t *testing.T, f *fixture, dir string) *Config {
	t.Helper()
	c, err := f.load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustTool(t *testing.T, c *Config, name string) *Tool {
	t.Helper()
	tl, err := c.Tool(name)
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

// TestToolIsACopy checks that changing a returned Tool does not change the
// Config.
func TestToolIsACopy(t *testing.T) {
	f := newFixture(t)
	c := mustLoad(t, f, f.project)
	a := mustTool(t, c, "python")
	a.Env["X"] = "1"
	a.Shims[0].Name = "changed"
	a.Network.Allow[0] = "evil.com"
	a.Origins["image"] = Source{File: "x"}
	b := mustTool(t, c, "python")
	if _, ok := b.Env["X"]; ok || b.Shims[0].Name == "changed" || b.Network.Allow[0] == "evil.com" || b.Origins["image"].File == "x" {
		t.Errorf("a returned Tool shares state with the Config: %+v", b)
	}
}
