package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/silo-dev/silo/lock"
)

// siloUser is a user arriving from Silo: a $HOME, an empty $SILO_HOME and
// a project whose silo.toml is one of Silo's documented examples.
type siloUser struct {
	userHome, home, project string
	env                     []string
}

func newSiloUser(t *testing.T) *siloUser {
	t.Helper()
	top := t.TempDir()
	u := &siloUser{userHome: filepath.Join(top, "home"), home: filepath.Join(top, "home", ".silo"), project: filepath.Join(top, "home", "proj")}
	u.env = []string{"HOME=" + u.userHome}
	for _, d := range []string{u.home, u.project} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return u
}

// writeProject writes the project's silo.toml, trusted: these are the
// user's own files, and what they grant is not the point here.
func (u *siloUser) writeProject(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(u.project, "silo.toml")
	if err := lock.WriteTrusted(u.home, p, []byte(content)); err != nil {
		t.Fatal(err)
	}
	return p
}

// tools runs `silo config show --json` in the project and returns every
// tool by name.
func (u *siloUser) tools(t *testing.T) (map[string]lock.Tool, result) {
	t.Helper()
	r := silo(t, u.home, u.project, u.env, nil, "config", "show", "--json")
	if r.Code != 0 {
		t.Fatalf("config show --json: exit %d: %s", r.Code, r.Stderr)
	}
	var list []lock.Tool
	if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil {
		t.Fatalf("config show --json: %v\n%s", err, r.Stdout)
	}
	out := map[string]lock.Tool{}
	for _, tl := range list {
		out[tl.Name] = tl
	}
	return out, r
}

// siloExamples are the silo.toml files of Silo's README and docs, written
// anew for this test with their keys and values, and what each key must
// mean here.
var siloExamples = []struct {
	name  string
	toml  string
	check func(t *testing.T, u *siloUser, tools map[string]lock.Tool)
}{
	{"claude code setup", `passEnv = ["ANTHROPIC_API_KEY", "GITHUB_TOKEN"]
`, func(t *testing.T, u *siloUser, tools map[string]lock.Tool) {
		want(t, "claude passEnv", tools["claude"].PassEnv, []string{"ANTHROPIC_API_KEY", "GITHUB_TOKEN"})
	}},
	{"claude code network", `# the agent may reach the host and these domains, nothing else
[overrides.claude-code.network]
hostAccess = true

[overrides.claude-code.network.proxy]
allow = [
  "api.anthropic.com",
  "*.github.com",
  "registry.npmjs.org",
  "api.mycompany.com",
  "internal-registry.mycompany.com",
]
deny = ["*"]
`, func(t *testing.T, u *siloUser, tools map[string]lock.Tool) {
		if _, dup := tools["claude-code"]; dup {
			t.Errorf("config show lists claude-code beside claude: one tool, two names")
		}
		c := tools["claude"]
		want(t, "claude hostAccess", c.Network.HostAccess, true)
		want(t, "claude allow", c.Network.Allow, []string{"api.anthropic.com", "statsig.anthropic.com", "*.github.com",
			"registry.npmjs.org", "api.mycompany.com", "internal-registry.mycompany.com"})
		want(t, "claude deny", c.Network.Deny, []string{"*"})
		want(t, "claude hostAccess origin", c.Origins["network.hostAccess"].Line, 3)
	}},
	{"version pin", `[overrides.python]
image = "docker.io/library/python:3.11-slim"
`, func(t *testing.T, u *siloUser, tools map[string]lock.Tool) {
		want(t, "python image", tools["python"].Image, "docker.io/library/python:3.11-slim")
		want(t, "node image", tools["node"].Image, "node:22-slim")
	}},
	{"manual configuration", `# variables passed in
passEnv = ["GITHUB_TOKEN", "DATABASE_URL"]
# host files, read-only
passFiles = [".npmrc", ".pypirc"]

[mount]
exclude = ["node_modules", ".venv"]

[overrides.node.network]
hostAccess = true

[[overrides.node.ports]]
host = 3000
guest = 3000

[overrides.python]
env = { PYTHONPATH = "/workspace/src" }
`, func(t *testing.T, u *siloUser, tools map[string]lock.Tool) {
		for _, n := range []string{"node", "python", "go"} {
			want(t, n+" passEnv", tools[n].PassEnv, []string{"GITHUB_TOKEN", "DATABASE_URL"})
			want(t, n+" passFiles", tools[n].PassFiles, []string{filepath.Join(u.project, ".npmrc"), filepath.Join(u.project, ".pypirc")})
			want(t, n+" exclude", tools[n].Exclude, []string{"node_modules", ".venv"})
		}
		want(t, "node hostAccess", tools["node"].Network.HostAccess, true)
		want(t, "python hostAccess", tools["python"].Network.HostAccess, false)
		want(t, "node ports", tools["node"].Ports, []lock.Port{{Host: 3000, Guest: 3000}})
		want(t, "python ports", tools["python"].Ports, []lock.Port{})
		want(t, "python PYTHONPATH", tools["python"].Env["PYTHONPATH"], "/workspace/src")
		want(t, "node PYTHONPATH", tools["node"].Env["PYTHONPATH"], "")
	}},
	{"web application", `passEnv = ["GITHUB_TOKEN", "DATABASE_URL"]
passFiles = [".npmrc"]

[mount]
exclude = ["node_modules", ".venv", "__pycache__"]

[overrides.node.network]
hostAccess = true   # the host's database through host.silo.internal

[[overrides.node.ports]]
host = 3000   # the dev server
guest = 3000

[[overrides.node.ports]]
host = 5173   # vite
guest = 5173

[overrides.python]
env = { PYTHONPATH = "/workspace/src" }
`, func(t *testing.T, u *siloUser, tools map[string]lock.Tool) {
		want(t, "node ports", tools["node"].Ports, []lock.Port{{Host: 3000, Guest: 3000}, {Host: 5173, Guest: 5173}})
		want(t, "exclude", tools["python"].Exclude, []string{"node_modules", ".venv", "__pycache__"})
		want(t, "passFiles", tools["node"].PassFiles, []string{filepath.Join(u.project, ".npmrc")})
		want(t, "python env", tools["python"].Env["PYTHONPATH"], "/workspace/src")
	}},
	{"data science", `[overrides.python]
image = "docker.io/library/python:3.11-slim"   # pinned
memoryMB = 2048
rootfsSizeMB = 4096

[overrides.python.network]
hostAccess = true

[[overrides.python.ports]]
host = 8888   # jupyter
guest = 8888
`, func(t *testing.T, u *siloUser, tools map[string]lock.Tool) {
		p := tools["python"]
		want(t, "image", p.Image, "docker.io/library/python:3.11-slim")
		want(t, "memoryMB", p.MemoryMB, 2048)
		want(t, "memoryMB origin", p.Origins["memoryMB"].Line, 3)
		want(t, "rootfsSizeMB", p.RootfsSizeMB, 4096)
		want(t, "rootfsSizeMB origin", p.Origins["rootfsSizeMB"].Line, 4)
		want(t, "hostAccess", p.Network.HostAccess, true)
		want(t, "ports", p.Ports, []lock.Port{{Host: 8888, Guest: 8888}})
	}},
	{"monorepo", `passEnv = ["AWS_PROFILE", "GITHUB_TOKEN"]

[overrides.node]
image = "docker.io/library/node:20-slim"

[overrides.node.network]
hostAccess = true

[[overrides.node.ports]]
host = 3000
guest = 3000

[overrides.python]
env = { PYTHONDONTWRITEBYTECODE = "1" }

[overrides.go.network]
hostAccess = true
`, func(t *testing.T, u *siloUser, tools map[string]lock.Tool) {
		want(t, "go passEnv", tools["go"].PassEnv, []string{"AWS_PROFILE", "GITHUB_TOKEN"})
		want(t, "node image", tools["node"].Image, "docker.io/library/node:20-slim")
		want(t, "node hostAccess", tools["node"].Network.HostAccess, true)
		want(t, "go hostAccess", tools["go"].Network.HostAccess, true)
		want(t, "rust hostAccess", tools["rust"].Network.HostAccess, false)
		want(t, "python env", tools["python"].Env["PYTHONDONTWRITEBYTECODE"], "1")
		want(t, "python env origin", tools["python"].Origins["env.PYTHONDONTWRITEBYTECODE"].Line, 14)
	}},
	{"node build", `[mount]
exclude = ["node_modules"]

[overrides.node.network]
hostAccess = true

[overrides.node.network.proxy]
allow = ["registry.npmjs.org", "*.github.com"]

[[overrides.node.ports]]
host = 5173
guest = 5173
`, func(t *testing.T, u *siloUser, tools map[string]lock.Tool) {
		want(t, "node allow", tools["node"].Network.Allow, []string{"registry.npmjs.org", "*.github.com"})
		want(t, "node ports", tools["node"].Ports, []lock.Port{{Host: 5173, Guest: 5173}})
		want(t, "exclude", tools["node"].Exclude, []string{"node_modules"})
	}},
	{"python build", `[overrides.python.network]
hostAccess = true

[overrides.python.network.proxy]
allow = ["pypi.org", "*.pythonhosted.org"]

[[overrides.python.ports]]
host = 8000
guest = 8000
`, func(t *testing.T, u *siloUser, tools map[string]lock.Tool) {
		want(t, "python allow", tools["python"].Network.Allow, []string{"pypi.org", "files.pythonhosted.org", "*.pythonhosted.org"})
		want(t, "python ports", tools["python"].Ports, []lock.Port{{Host: 8000, Guest: 8000}})
	}},
	{"cache policy", `[cache.rootfs]
maxSizeMB = 8192   # least recently used evicted past this
maxAgeDays = 60

[cache.tools]
maxSizeMB = 4096   # each mount
maxAgeDays = 30

[cache.tools.perMount]
"rust/cargo" = 8192
`, func(t *testing.T, u *siloUser, tools map[string]lock.Tool) {
		r := tools["rust"]
		want(t, "rust cache names", []string{r.Caches[0].Name, r.Caches[1].Name}, []string{"rust/cargo", "rust/cargo-git"})
		want(t, "rust/cargo bound", r.Caches[0].MaxSizeMB, 8192)
		want(t, "rust/cargo-git bound", r.Caches[1].MaxSizeMB, 4096)
		want(t, "pip bound", tools["python"].Caches[0].MaxSizeMB, 4096)
		show := silo(t, u.home, u.project, u.env, nil, "config", "show", "rust")
		for _, s := range []string{"/rust/cargo (this project's only, at most 8192 MiB, about 4 GiB)", "/rust/cargo-git (this project's only, at most 4096 MiB"} {
			if show.Code != 0 || !strings.Contains(show.Stdout, s) {
				t.Errorf("config show rust does not say %q: exit %d\n%s%s", s, show.Code, show.Stdout, show.Stderr)
			}
		}
	}},
	// Silo's docs beyond the README: postInstall as a list, the SSH agent
	// and the language server per tool.
	{"post-install list, per-tool agent and language server", `[overrides.node]
postInstall = ["npm ci", "npm run build"]
passSshAgent = true
lsp = ["typescript-language-server", "--stdio", "--log-level", "4"]

[overrides.python]
postInstall = "pip install -e ."
lspInstall = "pip install pyright"
lsp = ["pyright-langserver", "--stdio"]
`, func(t *testing.T, u *siloUser, tools map[string]lock.Tool) {
		want(t, "node postInstall", tools["node"].PostInstall, []string{"npm ci", "npm run build"})
		want(t, "python postInstall", tools["python"].PostInstall, []string{"pip install -e ."})
		want(t, "go postInstall", tools["go"].PostInstall, []string{})
		want(t, "node passSshAgent", tools["node"].PassSSHAgent, true)
		want(t, "python passSshAgent", tools["python"].PassSSHAgent, false)
		want(t, "node lsp", tools["node"].LSP, []string{"typescript-language-server", "--stdio", "--log-level", "4"})
		want(t, "node lspInstall", tools["node"].LSPInstall, "npm install -g typescript-language-server typescript")
		want(t, "python lsp", tools["python"].LSP, []string{"pyright-langserver", "--stdio"})
		want(t, "python lspInstall", tools["python"].LSPInstall, "pip install pyright")
		want(t, "go lsp", tools["go"].LSP, []string{"gopls"})
		want(t, "rust lsp", tools["rust"].LSP, []string{"rust-analyzer"})
	}},
	{"snake_case keys", `pass_env = ["GITHUB_TOKEN"]
pass_files = [".npmrc"]
`, func(t *testing.T, u *siloUser, tools map[string]lock.Tool) {
		want(t, "passEnv", tools["python"].PassEnv, []string{"GITHUB_TOKEN"})
		want(t, "passFiles", tools["python"].PassFiles, []string{filepath.Join(u.project, ".npmrc")})
		want(t, "passEnv origin", tools["python"].Origins["passEnv.0"].Line, 1)
		want(t, "passFiles origin", tools["python"].Origins["passFiles.0"].Line, 2)
	}},
}

// TestSiloExamples parses each silo.toml of Silo's README and docs and
// checks, through `silo config show --json`, what each key means.
func TestSiloExamples(t *testing.T) {
	for _, ex := range siloExamples {
		t.Run(ex.name, func(t *testing.T) {
			u := newSiloUser(t)
			u.writeProject(t, ex.toml)
			tools, r := u.tools(t)
			if strings.Contains(ex.name, "snake") {
				if lines := strings.Count(r.Stderr, "\n"); lines != 1 || !strings.Contains(r.Stderr, "pass_env (line 1) as passEnv, pass_files (line 2) as passFiles") {
					t.Errorf("want one line on stderr naming both keys, got %d:\n%s", lines, r.Stderr)
				}
			} else if r.Stderr != "" {
				t.Errorf("stderr: %s", r.Stderr)
			}
			ex.check(t, u, tools)
		})
	}
}

// TestSiloSpellings checks the names Silo's users type: claude-code is the
// claude tool wherever a tool is named, and a key written both ways in one
// file is an error naming both lines.
func TestSiloSpellings(t *testing.T) {
	u := newSiloUser(t)
	p := u.writeProject(t, "tools = [\"claude-code\"]\n[overrides.claude-code]\ncpus = 3\n")
	r := silo(t, u.home, u.project, u.env, nil, "config", "show", "claude-code", "--json")
	var c lock.Tool
	if err := json.Unmarshal([]byte(r.Stdout), &c); err != nil || c.Name != "claude" || c.CPUs != 3 {
		t.Errorf("config show claude-code --json: %v, name %q cpus %d: %s", err, c.Name, c.CPUs, r.Stderr)
	}
	r = silo(t, u.home, u.project, u.env, nil, "config", "show")
	if !strings.Contains(r.Stdout, "cache.tools.maxSizeMB") {
		t.Errorf("config show of the project's tools does not show the cache limits:\n%s", r.Stdout)
	}
	if r.Code != 0 || strings.Count(r.Stdout, "\nclaude\n")+boolInt(strings.HasPrefix(r.Stdout, "claude\n")) != 1 || strings.Contains(r.Stdout, "\nclaude-code\n") {
		t.Errorf("config show with tools = [claude-code] should show the claude tool once:\n%s%s", r.Stdout, r.Stderr)
	}

	u.writeProject(t, "pass_env = [\"A\"]\n")
	if r := silo(t, u.home, u.project, u.env, nil, "-q", "config", "show", "--json"); r.Code != 0 || r.Stderr != "" {
		t.Errorf("silo -q still prints the note on Silo's spelling: exit %d, %q", r.Code, r.Stderr)
	}

	for _, bad := range []struct{ toml, msg string }{
		{"passEnv = [\"A\"]\n\npass_env = [\"B\"]\n", p + ":3:1: `pass_env` (line 3) and `passEnv` (line 1) set the same thing"},
		{"[overrides.node]\npassEnv = [\"A\"]\npass_env = [\"B\"]\n", p + ":3:1: `pass_env` (line 3) and `passEnv` (line 2)"},
		{"[overrides.claude]\ncpus = 2\n[overrides.claude-code]\ncpus = 3\n", p + ":3:2: [overrides.claude-code] and [overrides.claude] (line 1) name one tool, claude"},
		{"[overrides.node]\npostInstall = 3\n", p + ":2:1: `postInstall` must be a command, or an array of commands"},
		{"[overrides.node]\npostInstall = [\"npm ci\", 3]\n", p + ":2:1: `postInstall` must be a command, or an array of commands such as [\"npm ci\", \"npm run build\"]; entry 2 is a number"},
		{"[overrides.node]\nlsp = []\n", p + ":2:1: lsp is empty"},
		{"[cache.tools]\nperMount = true\n", p + ":2:12: `cache.tools.perMount` must be a table"},
		{"[cache.tools.perMount]\ncargo = 10\n", p + ":2:1: cache.tools.perMount key \"cargo\" is not a mount name"},
	} {
		u.writeProject(t, bad.toml)
		r := silo(t, u.home, u.project, u.env, nil, "config", "show", "--json")
		if r.Code != 1 || !strings.Contains(r.Stderr, bad.msg) {
			t.Errorf("%q: exit %d, stderr %q; want it to say %q", bad.toml, r.Code, r.Stderr, bad.msg)
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// want reports got != wantV, naming what.
func want(t *testing.T, what string, got, wantV any) {
	t.Helper()
	if !reflect.DeepEqual(got, wantV) {
		t.Errorf("%s = %#v, want %#v", what, got, wantV)
	}
}
