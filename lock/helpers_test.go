package lock

import (
	"os"
	"path/filepath"
	"testing"
)

// fixture is a throwaway user: $HOME, $SILO_HOME inside it and a project.
type fixture struct {
	top      string // parent of the user's home
	userHome string
	home     string // $SILO_HOME
	project  string // a project directory under the user's home
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	top := t.TempDir()
	f := &fixture{
		top:      top,
		userHome: filepath.Join(top, "home"),
		home:     filepath.Join(top, "home", ".silo"),
		project:  filepath.Join(top, "home", "proj"),
	}
	for _, d := range []string{f.home, f.project} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// write writes content to path (relative to the fixture's top) and returns
// the absolute path.
func (f *fixture) write(t testing.TB, path, content string) string {
	t.Helper()
	p := filepath.Join(f.top, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// global, user and projectFile write the three kinds of file.
func (f *fixture) global(t testing.TB, s string) string {
	return f.write(t, "home/.silo/config.toml", s)
}
func (f *fixture) user(t testing.TB, s string) string {
	return f.write(t, "home/.silo/silo.toml", s)
}

// projectFile writes the project's silo.toml as trusted: the tests of
// merging and validation are not about trust (trust_test.go is).
func (f *fixture) projectFile(t testing.TB, s string) string {
	t.Helper()
	p := filepath.Join(f.project, ProjectFileName)
	if err := WriteTrusted(f.home, p, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return p
}

// load loads the configuration as seen from dir.
func (f *fixture) load(dir string) (*Config, error) {
	return Load(Options{Home: f.home, Dir: dir, UserHome: f.userHome})
}

// mustTool loads from the project and returns the named tool.
func (f *fixture) mustTool(t testing.TB, name string) *Tool {
	t.Helper()
	c, err := f.load(f.project)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	tl, err := c.Tool(name)
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

// trust reviews the project file at path and trusts the bytes reviewed,
// as `silo config trust` does.
func (f *fixture) trust(path string) error {
	r, err := ReviewFile(Options{Home: f.home, UserHome: f.userHome}, path)
	if err != nil {
		return err
	}
	return r.Trust(f.home)
}
