package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// buildProject is a project using the tool "bb" (busybox, from a loopback
// registry by tag) with requirements.txt and .venv excluded, on the
// namespace backend.
type buildProject struct {
	s   *sandbox
	ws  string
	ref string
}

func newBuildProject(t *testing.T, backend string) *buildProject {
	t.Helper()
	s := newSandbox(t, backend)
	host := startRegistry(t)
	pushImage(t, host, "bb", busyboxImage(t))
	ref := host + "/bb:latest"
	writeFile(t, filepath.Join(s.home, "config.toml"), "[tool.bb]\nimage = \""+ref+"\"\nshims = [\"sh\"]\n")
	ws := t.TempDir()
	writeTrusted(t, s.home, filepath.Join(ws, "silo.toml"), "tools = [\"bb\"]\n[mount]\nexclude = [\".venv\"]\n")
	writeFile(t, filepath.Join(ws, "requirements.txt"), "left-pad==1.0\n")
	writeFile(t, filepath.Join(ws, "secret.txt"), "undeclared\n")
	return &buildProject{s: s, ws: ws, ref: ref}
}

// must runs silo and fails the test unless it exits 0.
func (p *buildProject) must(t *testing.T, args ...string) result {
	t.Helper()
	r := p.s.silo(t, p.ws, nil, nil, args...)
	if r.Code != 0 {
		t.Fatalf("silo %q exited %d\nstdout: %s\nstderr: %s", args, r.Code, r.Stdout, r.Stderr)
	}
	return r
}

const buildScript = `mkdir -p /opt && cat requirements.txt > /opt/req && mkdir -p .venv/lib && echo venv > .venv/lib/marker && echo junk > dropped && rm -f /etc/motd`

// TestBuildLockPullGC is the walk through builds and silo.lock on
// the namespace backend.
func TestBuildLockPullGC(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		p := newBuildProject(t, s.backend)
		r := p.must(t, "build", "bb", "sh", "-c", buildScript)
		if !strings.Contains(r.Stderr, "inputs: requirements.txt") || !strings.Contains(r.Stderr, "dropped") {
			t.Errorf("build does not name its inputs and the dropped path:\n%s", r.Stderr)
		}
		lockPath := filepath.Join(p.ws, "silo.lock")
		lock1 := readFile(lockPath)
		for _, want := range []string{`image = "` + p.ref + `"`, `digest = "sha256:`, `path = "requirements.txt"`, `layer = "sha256:`, `scope = "project"`} {
			if !strings.Contains(lock1, want) {
				t.Errorf("silo.lock lacks %s:\n%s", want, lock1)
			}
		}
		check := func(home string) {
			t.Helper()
			r := p.s.silo(t, p.ws, []string{"SILO_HOME=" + home}, nil, "exec", "bb", "sh", "-c", "cat /opt/req; cat .venv/lib/marker; ls dropped 2>&1; true")
			if r.Code != 0 || !strings.Contains(r.Stdout, "left-pad==1.0\nvenv\n") || strings.Contains(r.Stdout, "junk") {
				t.Fatalf("a run does not see the build: code %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
			}
			if strings.Contains(r.Stderr, "build bb step") {
				t.Errorf("a run of a locked, built project built again:\n%s", r.Stderr)
			}
		}
		check(p.s.home)
		if _, err := os.Stat(filepath.Join(p.ws, ".venv")); err == nil {
			if ents, _ := os.ReadDir(filepath.Join(p.ws, ".venv")); len(ents) > 0 {
				t.Errorf("the build's .venv reached the host's project")
			}
		}
		p.must(t, "store", "gc")
		check(p.s.home)

		// A new home: pull realises the same outputs from the inputs.
		home2 := t.TempDir()
		writeFile(t, filepath.Join(home2, "config.toml"), readFile(filepath.Join(p.s.home, "config.toml")))
		writeTrusted(t, home2, filepath.Join(p.ws, "silo.toml"), readFile(filepath.Join(p.ws, "silo.toml")))
		r = p.s.silo(t, p.ws, []string{"SILO_HOME=" + home2}, nil, "pull")
		if r.Code != 0 || !strings.Contains(r.Stdout, "bb: in sync") {
			t.Fatalf("pull in a new home: code %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
		}
		if got := readFile(lockPath); got != lock1 {
			t.Errorf("pull changed silo.lock:\n%s\nwas:\n%s", got, lock1)
		}
		check(home2)

		// An input changes: pull names it, --locked refuses, run updates.
		writeFile(t, filepath.Join(p.ws, "requirements.txt"), "left-pad==2.0\n")
		r = p.s.silo(t, p.ws, nil, nil, "pull")
		if r.Code == 0 || !strings.Contains(r.Stdout, "requirements.txt") {
			t.Errorf("pull after an input changed: code %d\nstdout: %s", r.Code, r.Stdout)
		}
		r = p.s.silo(t, p.ws, nil, nil, "exec", "--locked", "bb", "cat", "/opt/req")
		if r.Code == 0 || !strings.Contains(r.Stderr, "requirements.txt") {
			t.Errorf("run --locked after an input changed: code %d\nstderr: %s", r.Code, r.Stderr)
		}
		r = p.s.silo(t, p.ws, []string{"SILO_LOCKED=1"}, nil, "exec", "bb", "cat", "/opt/req")
		if r.Code == 0 {
			t.Errorf("SILO_LOCKED=1 run after an input changed succeeded:\n%s", r.Stderr)
		}
		if readFile(lockPath) != lock1 {
			t.Errorf("a refused run changed silo.lock")
		}
		r = p.must(t, "exec", "bb", "cat", "/opt/req")
		if r.Stdout != "left-pad==2.0\n" || !strings.Contains(r.Stderr, "silo.lock updated") {
			t.Errorf("run after an input changed: stdout %q\nstderr: %s", r.Stdout, r.Stderr)
		}
		if !strings.Contains(r.Stderr, "the build's .venv changed: the old one is at") {
			t.Errorf("the run after a rebuild does not say where the old .venv went:\n%s", r.Stderr)
		}
		if readFile(lockPath) == lock1 {
			t.Errorf("run did not update silo.lock")
		}
		p.must(t, "pull")

		// An undeclared project file is not there for a step.
		r = p.s.silo(t, p.ws, nil, nil, "build", "bb", "cat", "secret.txt")
		if r.Code == 0 || !strings.Contains(r.Stderr, "secret.txt") {
			t.Errorf("a step read an undeclared file: code %d\nstderr: %s", r.Code, r.Stderr)
		}
		// A step that writes the date is not reproducible: --check names it.
		p.must(t, "build", "bb", "sh", "-c", "mkdir -p /opt && date +%s > /opt/stamp && sleep 1")
		r = p.s.silo(t, p.ws, nil, nil, "build", "--check", "bb")
		if r.Code != 1 || !strings.Contains(r.Stdout, "/opt/stamp") {
			t.Errorf("build --check of a date step: code %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
		}

		// A corrupted lock is refused with its line.
		good := readFile(lockPath)
		bad := regexp.MustCompile(`layer = "sha256:[0-9a-f]+"`).ReplaceAllString(good, `layer = "sha256:nothex"`)
		writeFile(t, lockPath, bad)
		r = p.s.silo(t, p.ws, nil, nil, "exec", "bb", "true")
		line := 1 + strings.Count(bad[:strings.Index(bad, "sha256:nothex")], "\n")
		if r.Code == 0 || !strings.Contains(r.Stderr, lockPath+":"+itoa(line)+":") || !strings.Contains(r.Stderr, "silo pull --update") {
			t.Errorf("a corrupted lock: code %d\nstderr: %s (want line %d)", r.Code, r.Stderr, line)
		}
		writeFile(t, lockPath, good)

		// Deleting the project frees its closure.
		layers := stepEntries(t, p.s.home)
		if len(layers) == 0 {
			t.Fatal("no step layer in the store")
		}
		if err := os.RemoveAll(p.ws); err != nil {
			t.Fatal(err)
		}
		p.s.silo(t, p.s.home, nil, nil, "store", "gc")
		if left := stepEntries(t, p.s.home); len(left) != 0 {
			t.Errorf("GC kept the deleted project's step layers: %v", left)
		}
	})
}

// stepEntries are the build step layers in the store of home.
func stepEntries(t *testing.T, home string) []string {
	m, _ := filepath.Glob(filepath.Join(home, "store", "*-step-layer.tar"))
	return m
}

func itoa(n int) string { return strconv.Itoa(n) }
