package tests

// The workspace filter, through the binary: what the sandbox plants for
// the host's git and tools, setuid files, and placeholders in the project.

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

func TestContractHostGitRunsNothingPlanted(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) { hostGitRunsNothingPlanted(t, s) })
}

func TestContractNoSetuidLeavesTheSandbox(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) { noSetuidLeaves(t, s) })
}

func TestContractGitWorksInside(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) { gitWorksInside(t, s) })
}

func TestContractNoPlaceholders(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		ws := s.project(t) // no silo.lock, .git, .envrc, .idea, .vscode, node_modules
		before := listAll(t, ws)
		long, out, stderr := s.start(t, ws, "sh", "-c", `echo up; while [ ! -e go ]; do sleep 0.05; done
			ls -A; echo > silo.lock && echo LOCK-WRITTEN; mkdir -p .git/hooks && echo HOOKS-MADE
			mkdir -p node_modules/a && echo x > node_modules/a/f; true`)
		expectLine(t, out, "up", stderr)
		// While it runs, and while a second run of the same project
		// comes and goes, the project holds only what the user wrote.
		if got := listAll(t, ws); got != before {
			t.Errorf("while a run is going, the project holds:\n%s\nwant:\n%s", got, before)
		}
		s.sh(t, ws, "true")
		if got := listAll(t, ws); got != before {
			t.Errorf("after a second run, the project holds:\n%s\nwant:\n%s", got, before)
		}
		writeFile(t, filepath.Join(ws, "go"), "")
		rest, _ := io.ReadAll(out)
		if code := exitCode(t, long); code != 0 {
			t.Errorf("the long run: exit %d, stderr %s", code, stderr)
		}
		if strings.Contains(string(rest), "WRITTEN") || strings.Contains(string(rest), "MADE") {
			t.Errorf("the run wrote a protected path: %s", rest)
		}
		// Inside, the project lists what the user wrote and the excluded
		// directory, nothing else.
		if !strings.HasPrefix(string(rest), "go\nnode_modules\nsilo.toml\n") {
			t.Errorf("inside, ls -A of the project: %q", rest)
		}
		os.Remove(filepath.Join(ws, "go"))
		if got := listAll(t, ws); got != before {
			t.Errorf("after the runs, the project holds:\n%s\nwant:\n%s", got, before)
		}
	})
}

// listAll lists every path under dir, sorted, one a line.
func listAll(t *testing.T, dir string) string {
	t.Helper()
	var paths []string
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			paths = append(paths, p[len(dir)+1:])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(paths)
	return strings.Join(paths, "\n")
}

// hostRepo makes ws a git repository with one commit, with git on the
// host, and returns the function that runs host git in a directory of it.
func hostRepo(t *testing.T, ws string) func(dir string, args ...string) (string, error) {
	t.Helper()
	git := func(dir string, args ...string) (string, error) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
			"GIT_AUTHOR_NAME=u", "GIT_AUTHOR_EMAIL=u@example.com", "GIT_COMMITTER_NAME=u", "GIT_COMMITTER_EMAIL=u@example.com")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "silo.toml"}, {"commit", "-q", "-m", "first"}} {
		if out, err := git(ws, args...); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return git
}

// hostGitRunsNothingPlanted has the sandbox try every way to make the
// host's git run a command (each would create a marker file), then runs
// git status and git commit on the host, and checks that none ran.
func hostGitRunsNothingPlanted(t *testing.T, s *sandbox) {
	ws := s.project(t)
	git := hostRepo(t, ws)
	marker := filepath.Join(t.TempDir(), "ran")
	// Host paths: the host's git reads what is planted.
	cfg := fmt.Sprintf(`[core]
	fsmonitor = "touch %[1]s.fsmonitor; false"
	hooksPath = %[2]s/evilhooks
`, marker, ws)
	hook := fmt.Sprintf("#!/bin/sh\ntouch %s.hook\n", marker)
	script := `export cfg="$1" hook="$2"
try() { if sh -c "$1" 2>/dev/null; then echo "PLANTED: $1"; fi; }
bare() { mkdir -p "$1/objects" "$1/refs" && echo 'ref: refs/heads/main' > "$1/HEAD" && printf '%s' "$cfg" > "$1/config"; }
try 'mkdir -p src/.git && cd src/.git && mkdir -p objects refs && echo "ref: refs/heads/main" > HEAD && printf "%s" "$cfg" > config'
try 'mkdir -p lib evil && echo "gitdir: ../evil" > lib/.git'
try 'bare evil'
try 'bare bare.git'
try 'printf "%s" "$cfg" >> .git/config'
try 'printf "%s" "$cfg" > .git/config.worktree'
try 'echo ../evil > .git/commondir'
try 'mkdir -p .git/worktrees/w && printf "%s" "$cfg" > .git/worktrees/w/config'
try 'mkdir -p .git/hooks && printf "%s" "$hook" > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit'
try 'mkdir -p evilhooks && printf "%s" "$hook" > evilhooks/pre-commit && chmod +x evilhooks/pre-commit && ln -s ../evilhooks .git/hooks2'
try 'mkdir -p x/hooks && printf "%s" "$hook" > x/hooks/pre-commit && mv x/hooks .git/hooks'
try 'printf "[submodule \"m\"]\n\tpath = m\n\turl = ../evil\n" > .gitmodules'
try 'printf "%s" "$hook" > .envrc'
try 'mkdir -p src/.vscode && echo {} > src/.vscode/tasks.json'
try 'mkdir -p a/.devcontainer && echo {} > a/.devcontainer/devcontainer.json'
try 'mkdir -p a/.claude && echo {} > a/.claude/settings.json'
try 'echo {} > a/.mcp.json'
try 'cp -a .git .git-new && mkdir -p .git-new/hooks && printf "%s" "$hook" > .git-new/hooks/pre-commit && chmod +x .git-new/hooks/pre-commit && mv .git .git-old && mv .git-new .git'
echo done`
	r := s.run(t, ws, nil, nil, "sh", "-c", script, "sh", cfg, hook)
	if r.Code != 0 || !strings.HasSuffix(r.Stdout, "done\n") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	if strings.Contains(r.Stdout, "PLANTED") {
		t.Errorf("the sandbox planted:\n%s", r.Stdout)
	}
	for _, dir := range []string{"", "src", "lib", "evil", "bare.git", "a"} {
		if st, err := os.Stat(filepath.Join(ws, dir)); err != nil || !st.IsDir() {
			continue
		}
		for _, args := range [][]string{{"status"}, {"commit", "--allow-empty", "-q", "-m", "host"}} {
			out, err := git(filepath.Join(ws, dir), args...)
			t.Logf("host git %s in %q: %v\n%s", args[0], dir, err, out)
		}
	}
	matches, _ := filepath.Glob(marker + "*")
	if len(matches) > 0 {
		t.Errorf("host git ran what the sandbox planted: %v", matches)
	}
	for _, p := range []string{"src/.git", "lib/.git", "evil/HEAD", "bare.git/HEAD", ".git/commondir", ".git/config.worktree", ".git/hooks/pre-commit", ".gitmodules", ".envrc"} {
		if _, err := os.Lstat(filepath.Join(ws, p)); err == nil {
			t.Errorf("%s is in the project", p)
		}
	}
}

// noSetuidLeaves has the sandbox make setuid and setgid files every way it
// can, and checks that none has those bits in the project.
func noSetuidLeaves(t *testing.T, s *sandbox) {
	ws := s.project(t)
	out := s.sh(t, ws, `cp /bin/busybox e && chmod 4755 e; cp /bin/busybox g && chmod g+s g
		mkdir d && chmod 2755 d; touch f && chmod u+s,g+s f; install -m 6755 /bin/busybox i 2>/dev/null || cp /bin/busybox i
		ls -l e g f | cut -c1-10`)
	t.Logf("inside:\n%s", out)
	for _, name := range []string{"e", "g", "d", "f", "i"} {
		st, err := os.Lstat(filepath.Join(ws, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if st.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0 {
			t.Errorf("%s left the sandbox as %v", name, st.Mode())
		}
	}
}

// gitImageEntries are the host's git and the libraries it links, for an
// image layer above busybox.
func gitImageEntries(t testing.TB) []tarEntry {
	t.Helper()
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Skip("no git on the host to put in the image")
	}
	out, err := exec.Command("ldd", gitBin).Output()
	if err != nil {
		t.Skipf("ldd %s: %v", gitBin, err)
	}
	files := []string{gitBin}
	for _, m := range regexp.MustCompile(`(/\S+) \(0x`).FindAllStringSubmatch(string(out), -1) {
		files = append(files, m[1])
	}
	var entries []tarEntry
	dirs := map[string]bool{"bin/": true}
	for _, f := range files {
		real, err := filepath.EvalSymlinks(f)
		if err != nil {
			t.Fatal(err)
		}
		body, err := os.ReadFile(real)
		if err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(f, "/")
		for d := filepath.Dir(rel); d != "."; d = filepath.Dir(d) {
			if !dirs[d+"/"] {
				dirs[d+"/"] = true
				entries = append(entries, tarEntry{Name: d + "/", Type: tar.TypeDir})
			}
		}
		entries = append(entries, tarEntry{Name: rel, Mode: 0o755, Body: body})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	return entries
}

// gitWorksInside runs git add, commit, stash and checkout inside, with the
// host's git in the image, and reads the result with git on the host.
func gitWorksInside(t *testing.T, s *sandbox) {
	img := imageFromLayers(t, tarLayer(t, busyboxEntries(t)), tarLayer(t, gitImageEntries(t)))
	s.image = "oci-layout:" + ociLayout(t, img)
	writeFile(t, filepath.Join(s.home, "config.toml"), fmt.Sprintf("[tool.bb]\nimage = %q\nshims = [\"sh\"]\n", s.image))
	ws := s.project(t)
	git := hostRepo(t, ws)
	out := s.sh(t, ws, `export GIT_AUTHOR_NAME=s GIT_AUTHOR_EMAIL=s@example.com GIT_COMMITTER_NAME=s GIT_COMMITTER_EMAIL=s@example.com
		set -e; echo inside > a.txt; git add a.txt; git commit -q -m inside
		echo more >> a.txt; git stash -q; git checkout -q -b topic; git stash pop -q; git commit -q -am topic
		git checkout -q main; git status --porcelain; echo ok`)
	if out != "ok\n" {
		t.Errorf("git inside: %q", out)
	}
	log, err := git(ws, "log", "--format=%s", "topic")
	if err != nil || log != "topic\ninside\nfirst\n" {
		t.Errorf("host git log: %q, %v", log, err)
	}
	if st, err := git(ws, "status", "--porcelain"); err != nil || st != "" {
		t.Errorf("host git status: %q, %v", st, err)
	}
}
