package sandbox

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/silo-dev/silo/lock"
	"github.com/silo-dev/silo/vm"
)

func TestCheckWorkspace(t *testing.T) {
	base := t.TempDir()
	home := filepath.Join(base, "home", "me")
	project := filepath.Join(home, "src", "app")
	if err := os.MkdirAll(project, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link-to-home")
	if err := os.Symlink(home, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ws, want string
	}{
		{project, ""},
		{filepath.Join(base, "elsewhere"), ""},
		{home, "holds your home directory"},
		{filepath.Dir(home), "holds your home directory"},
		{link, "holds your home directory"},
		{"/", "the whole system"},
	}
	for _, tt := range tests {
		err := checkWorkspace(tt.ws, home)
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("checkWorkspace(%s) = %v, want %q", tt.ws, err, tt.want)
		}
	}
}

func TestRelativeCwd(t *testing.T) {
	ws := t.TempDir()
	sub := filepath.Join(ws, "a", "b c")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := relativeCwd(ws, sub); err != nil || got != "a/b c" {
		t.Errorf("relativeCwd = %q, %v", got, err)
	}
	if got, err := relativeCwd(ws, ws); err != nil || got != "." {
		t.Errorf("relativeCwd(ws) = %q, %v", got, err)
	}
	if _, err := relativeCwd(sub, ws); err == nil {
		t.Error("a cwd outside the workspace was accepted")
	}
}

// TestPlan is the table from a tool definition and a request to the spec
// a backend gets: pure planning, no store, no backend, no binary.
func TestPlan(t *testing.T) {
	home, userHome := t.TempDir(), t.TempDir()
	proj := filepath.Join(t.TempDir(), "proj")
	write(t, filepath.Join(home, "config.toml"), `[tool.bb]
image = "example.org/bb:1"
shims = ["sh", "py:python3"]
env = { COLOR = "1" }
cpus = 2
memoryMB = 512
[tool.bb.network]
proxy.allow = ["pypi.org"]
`)
	// The user-wide silo.toml is the user's own: its grants need no trust.
	write(t, filepath.Join(home, "silo.toml"), `passEnv = ["API_TOKEN"]
passFiles = ["~/.netrc"]
[overrides.bb]
ports = [{ host = 8080, guest = 80 }]
`)
	write(t, filepath.Join(userHome, ".netrc"), "machine x\n")
	write(t, filepath.Join(proj, "silo.toml"), "tools = [\"bb\"]\n[mount]\nexclude = [\"node_modules\"]\n")
	write(t, filepath.Join(proj, "src", "a.py"), "")
	cfg, err := lock.Load(lock.Options{Home: home, Dir: filepath.Join(proj, "src"), UserHome: userHome})
	if err != nil {
		t.Fatal(err)
	}
	hostEnv := func(k string) (string, bool) {
		v, ok := map[string]string{"API_TOKEN": "tok", "AWS_SECRET_ACCESS_KEY": "no", "TERM": "dumb"}[k]
		return v, ok
	}
	base := Request{Tool: "bb", Dir: filepath.Join(proj, "src"), UserHome: userHome, HostEnv: hostEnv}
	tests := []struct {
		name  string
		req   func(Request) Request
		check func(t *testing.T, p *Plan)
	}{
		{"default command is the first shim", func(r Request) Request { return r }, func(t *testing.T, p *Plan) {
			want(t, "argv", p.Spec.Argv, []string{"sh"})
			want(t, "image", p.Image, "example.org/bb:1")
			want(t, "cwd", p.Spec.Cwd, "src")
			want(t, "workspace", p.Spec.Workspace, proj)
		}},
		{"exec: args after -- are the command", func(r Request) Request { r.Exec, r.Args = true, []string{"--", "ls", "-l"}; return r }, func(t *testing.T, p *Plan) {
			want(t, "argv", p.Spec.Argv, []string{"ls", "-l"})
		}},
		{"run: args go to the main command", func(r Request) Request { r.Args = []string{"--", "x.py", "-v"}; return r }, func(t *testing.T, p *Plan) {
			want(t, "argv", p.Spec.Argv, []string{"sh", "x.py", "-v"})
		}},
		{"run: a first word that is a shim runs that shim", func(r Request) Request { r.Args = []string{"py", "-c", "1"}; return r }, func(t *testing.T, p *Plan) {
			want(t, "argv", p.Spec.Argv, []string{"python3", "-c", "1"})
		}},
		{"run --shim", func(r Request) Request { r.Shim, r.Args = "py", []string{"sh"}; return r }, func(t *testing.T, p *Plan) {
			want(t, "argv", p.Spec.Argv, []string{"python3", "sh"})
		}},
		{"run --image: args replace the image's command", func(r Request) Request {
			r.Tool, r.Image, r.Args = "", "oci-layout:/img", []string{"echo", "hi"}
			return r
		}, func(t *testing.T, p *Plan) {
			want(t, "argv", len(p.Spec.Argv), 0)
			want(t, "image args", p.ImageArgs, []string{"echo", "hi"})
			want(t, "exclude", p.Spec.Exclude, []string{"node_modules"})
			want(t, "pass env", p.env.Pass, []string{"API_TOKEN"})
		}},
		{"shell", func(r Request) Request { r.Shell = true; return r }, func(t *testing.T, p *Plan) {
			want(t, "argv", p.Spec.Argv, []string{"/bin/sh"})
		}},
		{"resources, ports, excludes, network", func(r Request) Request { return r }, func(t *testing.T, p *Plan) {
			want(t, "cpus", p.Spec.CPUs, 2)
			want(t, "memory", p.Spec.MemoryMB, 512)
			want(t, "ports", p.Spec.Ports, []vm.Port{{Host: 8080, Guest: 80}})
			want(t, "exclude", p.Spec.Exclude, []string{"node_modules"})
			want(t, "allow", p.Network.Allow, []string{"pypi.org"})
			want(t, "pass files", p.Spec.PassFiles, []vm.PassFile{{Host: filepath.Join(userHome, ".netrc"), Guest: vm.GuestHome + "/.netrc"}})
		}},
		{"environment: the tool's and passEnv only", func(r Request) Request { return r }, func(t *testing.T, p *Plan) {
			env := ComposeEnv(p.env)
			for _, kv := range []string{"COLOR=1", "API_TOKEN=tok", "TERM=dumb", "HOME=" + vm.GuestHome} {
				if !slices.Contains(env, kv) {
					t.Errorf("env lacks %s: %v", kv, env)
				}
			}
			for _, kv := range env {
				if strings.HasPrefix(kv, "AWS_") {
					t.Errorf("env has %s", kv)
				}
			}
		}},
		{"--image runs its command without a tool", func(r Request) Request {
			r.Tool, r.Image, r.Args, r.Exec = "", "oci-layout:/img", []string{"true"}, true
			return r
		}, func(t *testing.T, p *Plan) {
			want(t, "image", p.Image, "oci-layout:/img")
			want(t, "argv", p.Spec.Argv, []string{"true"})
			if p.Tool != nil || p.Network.Enabled(false) {
				t.Errorf("an image run got the tool's settings: %+v", p.Tool)
			}
		}},
		{"ssh agent without passSshAgent", func(r Request) Request { r.SSHAuthSock = "/tmp/agent.sock"; return r }, func(t *testing.T, p *Plan) {
			want(t, "ssh agent", p.Spec.SSHAgent, "")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPlan(cfg, tt.req(base))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, p)
		})
	}
	for _, bad := range []Request{{Tool: "nope", Dir: proj}, {Dir: proj}, {Tool: "bb", Dir: t.TempDir()}, {Tool: "bb", Dir: proj, Shim: "nope"}} {
		if _, err := NewPlan(cfg, bad); err == nil {
			t.Errorf("NewPlan(%+v) accepted", bad)
		}
	}
}

func want[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
