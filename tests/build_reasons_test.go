package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestPullReasons: when silo.toml changes what a locked step derives
// from, silo pull exits non-zero naming the key, and silo status says the
// same and changes nothing; a lock written without derivedFrom still
// reads in sync, and then gets the general wording.
func TestPullReasons(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		p := newBuildProject(t, s.backend)
		lockPath := filepath.Join(p.ws, "silo.lock")
		tomlPath := filepath.Join(p.ws, "silo.toml")
		base := readFile(tomlPath)
		p.must(t, "build", "bb", "sh", "-c", "mkdir -p /opt && echo built > /opt/x")
		if lock := readFile(lockPath); !strings.Contains(lock, "[tools.bb.derivedFrom]") {
			t.Fatalf("silo.lock has no derivedFrom:\n%s", lock)
		}

		stale := func(key string) {
			t.Helper()
			lock := readFile(lockPath)
			layers := stepEntries(t, p.s.home)
			r := p.s.silo(t, p.ws, nil, nil, "status")
			if !strings.Contains(r.Stdout, "out of sync") || !strings.Contains(r.Stdout, key) {
				t.Errorf("status does not name %s: code %d\nstdout: %s\nstderr: %s", key, r.Code, r.Stdout, r.Stderr)
			}
			r = p.s.silo(t, p.ws, nil, nil, "pull")
			if r.Code == 0 || !strings.Contains(r.Stdout, key) {
				t.Errorf("pull does not fail naming %s: code %d\nstdout: %s\nstderr: %s", key, r.Code, r.Stdout, r.Stderr)
			}
			if got := readFile(lockPath); got != lock {
				t.Errorf("status or pull changed silo.lock:\n%s", got)
			}
			if got := stepEntries(t, p.s.home); len(got) != len(layers) {
				t.Errorf("status or pull built a step: %v, was %v", got, layers)
			}
			r = p.must(t, "exec", "bb", "cat", "/opt/x")
			if !strings.Contains(r.Stderr, "silo.lock updated") || !strings.Contains(r.Stderr, key) {
				t.Errorf("the run that updates the lock does not name %s:\n%s", key, r.Stderr)
			}
			p.must(t, "pull")
		}

		// The tool's env.
		writeTrusted(t, p.s.home, tomlPath, base+"[overrides.bb]\nenv = { FOO = \"one\" }\n")
		stale("tool.bb.env.FOO changed (" + tomlPath + ":")
		writeTrusted(t, p.s.home, tomlPath, base+"[overrides.bb]\nenv = { FOO = \"two\" }\n")
		stale("tool.bb.env.FOO changed (" + tomlPath + ":")
		// The network a build runs with; moving a host from installAllow
		// to allow changes no step.
		withNet := base + "[overrides.bb]\nenv = { FOO = \"two\" }\n[overrides.bb.network]\nproxy.installAllow = [\"example.com\"]\n"
		writeTrusted(t, p.s.home, tomlPath, withNet)
		stale("tool.bb.network.installAllow changed (" + tomlPath + ":")
		writeTrusted(t, p.s.home, tomlPath, strings.Replace(withNet, "proxy.installAllow", "proxy.allow", 1))
		if r := p.s.silo(t, p.ws, nil, nil, "pull"); r.Code != 0 {
			t.Errorf("a host moved from installAllow to allow made the lock stale:\n%s%s", r.Stdout, r.Stderr)
		}
		writeTrusted(t, p.s.home, tomlPath, withNet)

		// A tool's setup command is a build step: a new one is named.
		cfg := filepath.Join(p.s.home, "config.toml")
		writeFile(t, cfg, readFile(cfg)+"setup = \"echo one > /etc/setup\"\n")
		p.must(t, "exec", "bb", "true")
		writeFile(t, cfg, strings.Replace(readFile(cfg), "echo one", "echo two", 1))
		stale("build step argv changed by tool.bb.setup (" + cfg + ":")

		// A lock written before derivedFrom existed: in sync as it was,
		// and a change gets the general wording.
		lock := regexp.MustCompile(`(?s)\n\[tools\.bb\.derivedFrom\]\n.*?\n\n`).ReplaceAllString(readFile(lockPath), "\n\n")
		if strings.Contains(lock, "derivedFrom") {
			t.Fatalf("could not strip derivedFrom:\n%s", lock)
		}
		if err := os.WriteFile(lockPath, []byte(lock), 0o644); err != nil {
			t.Fatal(err)
		}
		if r := p.s.silo(t, p.ws, nil, nil, "pull"); r.Code != 0 || !strings.Contains(r.Stdout, "bb: in sync") {
			t.Errorf("a lock without derivedFrom is not in sync: code %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
		}
		if got := readFile(lockPath); got != lock {
			t.Errorf("pull rewrote a lock without derivedFrom:\n%s", got)
		}
		writeTrusted(t, p.s.home, tomlPath, strings.Replace(withNet, "\"two\"", "\"three\"", 1))
		r := p.s.silo(t, p.ws, nil, nil, "pull")
		if r.Code == 0 || !strings.Contains(r.Stdout, "silo.toml (image, env or network) or a step below it") {
			t.Errorf("pull with a lock without derivedFrom: code %d\nstdout: %s", r.Code, r.Stdout)
		}
	})
}
