package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/silo-dev/silo/lock"
)

// The package caches, attacked from inside as a hostile package would:
// a cache directory a sandbox replaced with a symlink, caches that nest,
// another tool's cache, and a cache another project's sandbox poisoned.

// hostSecret makes a host directory, outside every cache, holding a
// secret: what a planted link points the next run at (standing in for
// ~/.ssh or /).
func hostSecret(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "id_rsa"), "host secret\n")
	return dir
}

// checkUntouched fails if a sandbox read or wrote the host directory.
func checkUntouched(t *testing.T, dir string, r result) {
	t.Helper()
	if strings.Contains(r.Stdout, "host secret") {
		t.Errorf("the sandbox read the host secret through the cache:\n%s", r.Stdout)
	}
	if _, err := os.Lstat(filepath.Join(dir, "planted")); err == nil {
		t.Errorf("the sandbox wrote into the host directory %s through the cache", dir)
	}
}

// TestCacheLinkTrailingSlash is issue 16's critical case: run 1 mounts a
// cache and the sandbox leaves a symlink to a host directory inside it;
// run 2 asks for a cache at that link's path, written with a trailing
// slash. Silo must refuse to bind through the link.
func TestCacheLinkTrailingSlash(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		secret := hostSecret(t)
		ws := s.project(t)
		conf := filepath.Join(ws, "silo.toml")
		writeTrusted(t, s.home, conf, "tools = [\"bb\"]\n[[overrides.bb.cache]]\nguest = \"/c\"\nhost = \"bb/x\"\n")
		s.sh(t, ws, "ln -s "+secret+" /c/l && ls -l /c/l")

		writeTrusted(t, s.home, conf, "tools = [\"bb\"]\n[[overrides.bb.cache]]\nguest = \"/c\"\nhost = \"bb/x/l/\"\n")
		r := s.run(t, ws, nil, nil, "sh", "-c", "cat /c/id_rsa; echo pwned > /c/planted")
		checkUntouched(t, secret, r)
		if r.Code == 0 || !strings.Contains(r.Stderr, "is a symlink") || !strings.Contains(r.Stderr, "silo does not follow it") {
			t.Errorf("run 2: exit %d, stderr %q; want a refusal naming the link", r.Code, r.Stderr)
		}
	})
}

// TestCacheNestedRefused is the security review's first case: two caches
// of one project whose directories nest. The first run would replace the
// inner directory with a link to a host directory that the next run
// binds; silo refuses the file at load, with file:line, before any run.
func TestCacheNestedRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		secret := hostSecret(t)
		ws := s.project(t)
		conf := filepath.Join(ws, "silo.toml")
		writeTrusted(t, s.home, conf, "tools = [\"bb\"]\n[[overrides.bb.cache]]\nguest = \"/a\"\nhost = \"bb/evil\"\n[[overrides.bb.cache]]\nguest = \"/b\"\nhost = \"bb/evil/link\"\n")
		plant := "rm -rf /a/link && ln -s " + secret + " /a/link"
		r1 := s.run(t, ws, nil, nil, "sh", "-c", plant)
		r2 := s.run(t, ws, nil, nil, "sh", "-c", "cat /b/id_rsa; echo pwned > /b/planted")
		checkUntouched(t, secret, r2)
		for i, r := range []result{r1, r2} {
			if r.Code == 0 || !strings.Contains(r.Stderr, conf+":5:3: cache /b of tool bb (bb/evil/link) lies inside cache /a of tool bb") {
				t.Errorf("run %d: exit %d, stderr %q; want the file refused at its line", i+1, r.Code, r.Stderr)
			}
		}
	})
}

// TestCacheOtherToolRefused is issue 16's third case: a project's file
// names the claude tool's cache, where the user's Claude credentials
// live, as busybox's. Silo refuses the file, naming the line.
func TestCacheOtherToolRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		ws := s.project(t)
		claude := silo(t, s.home, ws, []string{"HOME=" + s.userHome}, nil, "config", "show", "claude", "--json")
		var tool lock.Tool
		if err := json.Unmarshal([]byte(claude.Stdout), &tool); err != nil || len(tool.Caches) == 0 {
			t.Fatalf("config show claude: %v: %s", err, claude.Stderr)
		}
		writeFile(t, filepath.Join(tool.Caches[0].Host, ".credentials.json"), "host secret\n")

		conf := filepath.Join(ws, "silo.toml")
		for _, host := range []string{"claude/root-.claude", "bb/../claude/root-.claude", "../cache/claude", tool.Caches[0].Host} {
			writeTrusted(t, s.home, conf, fmt.Sprintf("tools = [\"bb\"]\n[[overrides.bb.cache]]\nguest = \"/c\"\nhost = %q\n", host))
			r := s.run(t, ws, nil, nil, "sh", "-c", "cat /c/.credentials.json")
			if strings.Contains(r.Stdout, "host secret") || r.Code == 0 || !strings.Contains(r.Stderr, conf+":4:") {
				t.Errorf("host = %q: exit %d, stdout %q, stderr %q; want the file refused at line 4", host, r.Code, r.Stdout, r.Stderr)
			}
		}
	})
}

// TestCachePerProject is the review's eighth case: a sandbox of project A
// poisons the package cache, and project B's sandbox, with B's secrets,
// must not see it. The user's own silo.toml may share a cache, config
// show says so, and a project's file may not.
func TestCachePerProject(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		f, err := os.OpenFile(filepath.Join(s.home, "config.toml"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "[[tool.bb.cache]]\nguest = \"/root/.cache/pip\"\n")
		f.Close()
		a, b := s.project(t), s.project(t)
		s.sh(t, a, "echo 'import os; steal()' > /root/.cache/pip/wheel.py")
		if got := s.sh(t, b, "cat /root/.cache/pip/wheel.py 2>&1 || echo CLEAN"); !strings.Contains(got, "CLEAN") {
			t.Errorf("project B's sandbox sees what project A's left in the pip cache: %q", got)
		}
		if got := s.sh(t, a, "cat /root/.cache/pip/wheel.py"); !strings.Contains(got, "steal()") {
			t.Errorf("project A's own cache did not survive its runs: %q", got)
		}

		// Shared at the user's word.
		writeFile(t, filepath.Join(s.home, "silo.toml"), "[[overrides.bb.cache]]\nguest = \"/root/.cache/pip\"\nshared = true\n")
		s.sh(t, a, "echo shared > /root/.cache/pip/both")
		if got := s.sh(t, b, "cat /root/.cache/pip/both"); got != "shared\n" {
			t.Errorf("a cache the user shares is not shared: %q", got)
		}
		show := s.silo(t, b, nil, nil, "config", "show", "bb")
		if !strings.Contains(show.Stdout, "/root/.cache/pip ← "+filepath.Join(s.home, "cache", "shared", "bb", "root-.cache-pip")+" (shared between projects)") {
			t.Errorf("config show does not say the cache is shared:\n%s", show.Stdout)
		}

		// Never at a project's.
		os.Remove(filepath.Join(s.home, "silo.toml"))
		conf := filepath.Join(b, "silo.toml")
		writeTrusted(t, s.home, conf, "tools = [\"bb\"]\n[[overrides.bb.cache]]\nguest = \"/root/.cache/pip\"\nshared = true\n")
		r := s.run(t, b, nil, nil, "sh", "-c", "ls /root/.cache/pip")
		if r.Code == 0 || !strings.Contains(r.Stderr, conf+":4:1: a project's silo.toml cannot share a cache") {
			t.Errorf("a project sharing its cache: exit %d, stderr %q", r.Code, r.Stderr)
		}
	})
}
