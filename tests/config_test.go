package tests

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/silo-dev/silo/lock"
)

// configFixture is a user with a global config, a user-wide silo.toml and a
// project, on disk.
type configFixture struct {
	userHome, home, project, nested string
	env                             []string
}

func newConfigFixture(t *testing.T) *configFixture {
	t.Helper()
	top := t.TempDir()
	f := &configFixture{
		userHome: filepath.Join(top, "home"),
		home:     filepath.Join(top, "home", ".silo"),
		project:  filepath.Join(top, "home", "proj"),
	}
	f.nested = filepath.Join(f.project, "src", "pkg")
	f.env = []string{"HOME=" + f.userHome}
	for _, d := range []string{f.home, f.nested} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f.write(t, filepath.Join(f.home, "config.toml"), `[tool.bb]
image = "oci-layout:layouts/bb:v1"
shims = ["bb:busybox", "sh"]
env = { A = "global" }
`)
	f.write(t, filepath.Join(f.home, "silo.toml"), `passEnv = ["GITHUB_TOKEN"]
passFiles = ["~/.gitconfig"]
[overrides.python]
cpus = 3
`)
	writeTrusted(t, f.home, filepath.Join(f.project, "silo.toml"), `tools = ["python", "bb"]
passEnv = ["NPM_TOKEN", "GITHUB_TOKEN"]
[mount]
exclude = ["node_modules"]
[overrides.python]
env = { DJANGO = "1" }
[[overrides.python.ports]]
host = 8000
guest = 8000
[overrides.python.network]
proxy.allow = ["example.com"]
`)
	return f
}

func (f *configFixture) write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestConfigShowJSONRoundTrip checks that `silo config show TOOL --json`
// decodes into exactly the Tool lock.Load gives in-process, and encodes back
// to the same bytes.
func TestConfigShowJSONRoundTrip(t *testing.T) {
	f := newConfigFixture(t)
	cfg, err := lock.Load(lock.Options{Home: f.home, Dir: f.nested, UserHome: f.userHome})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"python", "bb", "node"} {
		r := silo(t, f.home, f.nested, f.env, nil, "config", "show", name, "--json")
		if r.Code != 0 {
			t.Fatalf("config show %s --json: exit %d: %s", name, r.Code, r.Stderr)
		}
		var got lock.Tool
		dec := json.NewDecoder(strings.NewReader(r.Stdout))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("decode %s: %v\n%s", name, err, r.Stdout)
		}
		want, err := cfg.Tool(name)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(&got, want) {
			t.Errorf("%s: the JSON decodes to\n%+v\nwant\n%+v", name, got, *want)
		}
		var again bytes.Buffer
		enc := json.NewEncoder(&again)
		enc.SetIndent("", "  ")
		if err := enc.Encode(&got); err != nil {
			t.Fatal(err)
		}
		if again.String() != r.Stdout {
			t.Errorf("%s: re-encoding the decoded JSON changed it:\n%s\nvs\n%s", name, again.String(), r.Stdout)
		}
	}
	py, _ := cfg.Tool("python")
	checks := map[string]string{
		"cpus":            filepath.Join(f.home, "silo.toml") + ":4:1",
		"env.DJANGO":      filepath.Join(f.project, "silo.toml") + ":6:9",
		"passEnv.0":       filepath.Join(f.home, "silo.toml") + ":1:12",
		"passEnv.1":       filepath.Join(f.project, "silo.toml") + ":2:12",
		"ports.0":         filepath.Join(f.project, "silo.toml") + ":7:3",
		"image":           "built-in",
		"passFiles.0":     filepath.Join(f.home, "silo.toml") + ":2:14",
		"network.allow.2": filepath.Join(f.project, "silo.toml") + ":11:16",
	}
	for k, want := range checks {
		if got := py.Origins[k].String(); got != want {
			t.Errorf("origin of %s = %s, want %s", k, got, want)
		}
	}
	if want := []string{"GITHUB_TOKEN", "NPM_TOKEN"}; !reflect.DeepEqual(py.PassEnv, want) {
		t.Errorf("PassEnv = %v, want %v", py.PassEnv, want)
	}
	bb, _ := cfg.Tool("bb")
	if want := "oci-layout:" + filepath.Join(f.home, "layouts/bb") + ":v1"; bb.Image != want {
		t.Errorf("bb image = %q, want %q", bb.Image, want)
	}
}

// TestConfigShowText checks the human output names the value and its origin.
func TestConfigShowText(t *testing.T) {
	f := newConfigFixture(t)
	r := silo(t, f.home, f.nested, f.env, nil, "config", "show", "python")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	for _, re := range []string{
		`(?m)^  cpus +3 +` + regexp.QuoteMeta(filepath.Join(f.home, "silo.toml")+":4:1") + `$`,
		`(?m)^  env\.DJANGO +1 +` + regexp.QuoteMeta(filepath.Join(f.project, "silo.toml")+":6:9") + `$`,
		`(?m)^  image +python:3\.12-slim +built-in$`,
		`(?m)^  ports\.0 +host 8000 → guest 8000 +` + regexp.QuoteMeta(filepath.Join(f.project, "silo.toml")+":7:3") + `$`,
		`(?m)^  projectRoot +` + regexp.QuoteMeta(f.project) + ` `,
		`(?m)^  passFiles\.0 +` + regexp.QuoteMeta(filepath.Join(f.userHome, ".gitconfig")) + ` `,
	} {
		if !cfgMatches(re, r.Stdout) {
			t.Errorf("output does not match %s:\n%s", re, r.Stdout)
		}
	}

	all := silo(t, f.home, f.nested, f.env, nil, "config", "show", "--json")
	var tools []lock.Tool
	if err := json.Unmarshal([]byte(all.Stdout), &tools); err != nil || all.Code != 0 {
		t.Fatalf("config show --json: %v, exit %d: %s", err, all.Code, all.Stderr)
	}
	if len(tools) != 2 || tools[0].Name != "python" || tools[1].Name != "bb" {
		t.Errorf("config show --json without TOOL gave %d tools, want the project's python and bb", len(tools))
	}

	outside := t.TempDir()
	sum := silo(t, f.home, outside, f.env, nil, "config", "show")
	if sum.Code != 0 || !cfgMatches(`(?m)^bb +oci-layout:\S+ +bb,sh +`+regexp.QuoteMeta(filepath.Join(f.home, "config.toml"))+`:1:2$`, sum.Stdout) ||
		!cfgMatches(`(?m)^python +python:3\.12-slim +python,python3,pip,pip3 +built-in$`, sum.Stdout) {
		t.Errorf("summary outside a project:\n%s%s", sum.Stdout, sum.Stderr)
	}
}

// TestConfigPath checks which files are reported as read.
func TestConfigPath(t *testing.T) {
	f := newConfigFixture(t)
	r := silo(t, f.home, f.nested, f.env, nil, "config", "path")
	want := strings.Join([]string{
		filepath.Join(f.home, "config.toml"), filepath.Join(f.home, "silo.toml"), filepath.Join(f.project, "silo.toml"),
	}, "\n") + "\n"
	if r.Code != 0 || r.Stdout != want {
		t.Errorf("config path: exit %d, stdout\n%s\nwant\n%s\nstderr %s", r.Code, r.Stdout, want, r.Stderr)
	}
	var j struct {
		Files       []string `json:"files"`
		ProjectRoot string   `json:"projectRoot"`
		Workspace   string   `json:"workspace"`
	}
	r = silo(t, f.home, f.nested, f.env, nil, "config", "path", "--json")
	if err := json.Unmarshal([]byte(r.Stdout), &j); err != nil || j.ProjectRoot != f.project || j.Workspace != f.project || len(j.Files) != 3 {
		t.Errorf("config path --json = %+v, %v: %s", j, err, r.Stdout)
	}

	// Outside any project, with no global files: nothing read, and --all
	// says where silo looked.
	empty := t.TempDir()
	dir := t.TempDir()
	r = silo(t, empty, dir, []string{"HOME=" + dir}, nil, "config", "path")
	if r.Code != 0 || r.Stdout != "" {
		t.Errorf("config path with nothing to read: exit %d, %q", r.Code, r.Stdout)
	}
	r = silo(t, empty, dir, []string{"HOME=" + dir}, nil, "config", "path", "--all")
	for _, want := range []string{filepath.Join(empty, "config.toml") + "  not found", "silo.toml", "not found", "project: none from " + dir} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("config path --all does not say %q:\n%s", want, r.Stdout)
		}
	}
}

// TestConfigBadFile checks that a bad file stops the command with the
// file, line and column, and prints nothing on stdout.
func TestConfigBadFile(t *testing.T) {
	f := newConfigFixture(t)
	p := filepath.Join(f.project, "silo.toml")
	f.write(t, p, "passenv = [\"X\"]\npassFiles = [\"../../.ssh/id_rsa\"]\n")
	for _, args := range [][]string{{"config", "show", "python"}, {"config", "path"}, {"config", "show", "--json"}} {
		r := silo(t, f.home, f.nested, f.env, nil, args...)
		if r.Code != 1 || r.Stdout != "" {
			t.Errorf("%v: exit %d, stdout %q; want 1 and nothing", args, r.Code, r.Stdout)
		}
		for _, want := range []string{
			p + ":1:1: unknown key `passenv` — did you mean `passEnv`?",
			p + ":2:14: passFiles entry \"../../.ssh/id_rsa\" escapes",
		} {
			if !strings.Contains(r.Stderr, want) {
				t.Errorf("%v: stderr %q does not contain %q", args, r.Stderr, want)
			}
		}
	}
	f.write(t, p, "tools = []\n")
	r := silo(t, f.home, f.nested, f.env, nil, "config", "show", "pyton")
	if r.Code != 1 || !strings.Contains(r.Stderr, `no tool named "pyton" — did you mean "python"?`) {
		t.Errorf("unknown tool: exit %d, stderr %q", r.Code, r.Stderr)
	}
}

// cfgMatches reports whether the regular expression re matches s.
func cfgMatches(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }
