package tests

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// leftBehind fails the test if the project has a silo.lock or the store
// holds a step layer: a failed build keeps nothing.
func (p *buildProject) leftBehind(t *testing.T, what string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(p.ws, "silo.lock")); err == nil {
		t.Errorf("%s left a silo.lock:\n%s", what, readFile(filepath.Join(p.ws, "silo.lock")))
	}
	if l := stepEntries(t, p.s.home); len(l) != 0 {
		t.Errorf("%s left step layers in the store: %v", what, l)
	}
}

// TestBuildErrors: bad input gets a clear error, and leaves nothing
// behind.
func TestBuildErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		p := newBuildProject(t, s.backend)
		// A failing step: its exit status is silo's.
		r := p.s.silo(t, p.ws, nil, nil, "build", "bb", "sh", "-c", "mkdir -p /opt && echo x > /opt/x && exit 7")
		if r.Code != 7 || !strings.Contains(r.Stderr, "exited with status 7") {
			t.Errorf("a failing step: code %d, stderr %s", r.Code, r.Stderr)
		}
		p.leftBehind(t, "a failing step")
		// An input that does not exist.
		r = p.s.silo(t, p.ws, nil, nil, "build", "--input", "no-such-file.txt", "bb", "true")
		if r.Code == 0 || !strings.Contains(r.Stderr, "no-such-file.txt does not exist") {
			t.Errorf("a missing input: code %d, stderr %s", r.Code, r.Stderr)
		}
		p.leftBehind(t, "a missing input")
		// Removing a build that does not exist.
		r = p.s.silo(t, p.ws, nil, nil, "build", "--remove", "bb")
		if r.Code == 0 || !strings.Contains(r.Stderr, "no build in this project") {
			t.Errorf("--remove of no build: code %d, stderr %s", r.Code, r.Stderr)
		}
		r = p.s.silo(t, p.ws, nil, nil, "build", "--global", "--remove", "bb")
		if r.Code == 0 || !strings.Contains(r.Stderr, "no global build") {
			t.Errorf("--global --remove of no build: code %d, stderr %s", r.Code, r.Stderr)
		}
		p.leftBehind(t, "--remove")
		// A project build needs a project.
		r = p.s.silo(t, t.TempDir(), nil, nil, "build", "bb", "true")
		if r.Code == 0 || !strings.Contains(r.Stderr, "--global") {
			t.Errorf("a build outside a project: code %d, stderr %s", r.Code, r.Stderr)
		}
		// A step that fills its rootfsSizeMB.
		writeFile(t, filepath.Join(p.s.home, "config.toml"), "[tool.bb]\nimage = \""+p.ref+"\"\nshims = [\"sh\"]\nrootfsSizeMB = 64\n")
		r = p.s.silo(t, p.ws, nil, nil, "build", "bb", "sh", "-c", "dd if=/dev/zero of=/big bs=1M count=200")
		if r.Code == 0 || !strings.Contains(strings.ToLower(r.Stderr), "no space left") {
			t.Errorf("a step over rootfsSizeMB: code %d, stderr %s", r.Code, r.Stderr)
		}
		p.leftBehind(t, "a step over rootfsSizeMB")
		// Ctrl-C during a build.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, siloBin, "build", "bb", "sh", "-c", "mkdir -p /opt && echo x > /opt/x && echo started && sleep 60")
		cmd.Dir = p.ws
		cmd.Env = append(os.Environ(), "SILO_HOME="+p.s.home, "HOME="+p.s.userHome, "SILO_BACKEND="+p.s.backend)
		errPipe, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(errPipe)
		var seen []string
		for sc.Scan() {
			seen = append(seen, sc.Text())
			if sc.Text() == "started" {
				break
			}
		}
		cmd.Process.Signal(syscall.SIGINT)
		for sc.Scan() {
			seen = append(seen, sc.Text())
		}
		if code := exitCode(t, cmd); code == 0 {
			t.Errorf("an interrupted build exited 0: %q", seen)
		}
		p.leftBehind(t, "Ctrl-C")
	})
}
