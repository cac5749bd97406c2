package tests

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildGlobalAndSetup: a tool's setup is a global step below the
// user's global build (silo build --global), which every project's build
// stacks on; runs outside a project see the global build; --global
// --remove drops it from the project's lock too.
func TestBuildGlobalAndSetup(t *testing.T) {
	forEachBackend(t, func(t *testing.T, fs *sandbox) {
		p := newBuildProject(t, fs.backend)
		s := p.s
		writeFile(t, filepath.Join(s.home, "config.toml"), "[tool.bb]\nimage = \""+p.ref+"\"\nshims = [\"sh\"]\nsetup = \"mkdir -p /opt && echo setup > /opt/setup\"\n")
		elsewhere := t.TempDir()
		r := s.silo(t, elsewhere, nil, nil, "build", "--global", "bb", "sh", "-c", "echo global > /opt/global")
		if r.Code != 0 {
			t.Fatalf("build --global: %d %s", r.Code, r.Stderr)
		}
		r = s.silo(t, elsewhere, nil, nil, "exec", "bb", "cat", "/opt/setup", "/opt/global")
		if r.Code != 0 || r.Stdout != "setup\nglobal\n" {
			t.Errorf("a run outside a project: %d %q %s", r.Code, r.Stdout, r.Stderr)
		}
		p.must(t, "build", "bb", "sh", "-c", "cat /opt/setup /opt/global > /opt/project 2>/dev/null; true")
		lock := readFile(filepath.Join(p.ws, "silo.lock"))
		if strings.Count(lock, `scope = "global"`) != 2 || strings.Count(lock, `scope = "project"`) != 1 {
			t.Errorf("the project's lock does not hold the setup and global steps below its own:\n%s", lock)
		}
		if r := p.must(t, "exec", "bb", "cat", "/opt/project"); r.Stdout != "setup\nglobal\n" {
			t.Errorf("the project's build did not stack on the global one: %q", r.Stdout)
		}
		p.must(t, "build", "--global", "--remove", "bb")
		lock = readFile(filepath.Join(p.ws, "silo.lock"))
		if strings.Count(lock, `scope = "global"`) != 1 || strings.Contains(lock, "echo global") {
			t.Errorf("after --global --remove the project's lock still holds the global step:\n%s", lock)
		}
		if r := p.must(t, "exec", "bb", "sh", "-c", "ls /opt"); strings.Contains(r.Stdout, "global") {
			t.Errorf("the removed global build is still there: %q", r.Stdout)
		}
		p.must(t, "build", "--remove", "bb")
		if r := p.must(t, "exec", "bb", "sh", "-c", "ls /opt; true"); strings.Contains(r.Stdout, "project") {
			t.Errorf("the removed project build is still there: %q", r.Stdout)
		}
	})
}
