//go:build linux

package agent

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchFiles is the size of the benchmark's tree: 20,000 files, or
// $SILO_BENCH_FILES.
func benchFiles() int {
	if n, err := strconv.Atoi(os.Getenv("SILO_BENCH_FILES")); err == nil && n > 0 {
		return n
	}
	return 20000
}

// benchTree makes a git repository of benchFiles files (200 directories
// of 100, 1 to 4 KiB each), committed and packed, and returns a tar of
// its files and one of its .git.
func benchTree(b *testing.B) (files, gitDir string) {
	b.Helper()
	src := b.TempDir()
	for i, n := 0, benchFiles(); i < n; i++ {
		dir := filepath.Join(src, fmt.Sprintf("pkg%03d", i/100))
		if i%100 == 0 {
			if err := os.Mkdir(dir, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		body := strings.Repeat(fmt.Sprintf("line %d of file %d\n", i%7, i), 1+(i%4)*50)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d.txt", i%100)), []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	mustGit(b, src, "init", "-q", "-b", "main")
	mustGit(b, src, "add", "-A")
	mustGit(b, src, "-c", "gc.auto=0", "commit", "-q", "-m", "tree")
	mustGit(b, src, "gc", "-q")
	files, gitDir = filepath.Join(b.TempDir(), "tree.tar"), filepath.Join(b.TempDir(), "git.tar")
	for _, args := range [][]string{{"-cf", files, "-C", src, "--exclude=./.git", "."}, {"-cf", gitDir, "-C", src, ".git"}} {
		if out, err := exec.Command("tar", args...).CombinedOutput(); err != nil {
			b.Fatalf("tar: %v %s", err, out)
		}
	}
	return files, gitDir
}

// benchPhases are the timed steps, run in the workspace dir.
var benchPhases = []struct {
	name string
	cmd  func(tarball string) []string
}{
	{"untar", func(tarball string) []string { return []string{"tar", "-xf", tarball} }},
	{"find-cat", func(string) []string {
		return []string{"sh", "-c", "find . -type f -print0 | xargs -0 cat > /dev/null"}
	}},
	{"git-status", func(string) []string { return []string{"git", "status", "--porcelain"} }},
}

// BenchmarkWorkspaceFilter untars a 20,000-file tree into a workspace
// that holds its repository's .git (the project's own, untimed), reads every file (find | xargs cat) and runs git status, once
// on a plain directory (what a bind mount gives) and once through the
// workspace filter, in the same run, and reports each phase's time
// through the filter as a multiple of the plain one (x-untar,
// x-find-cat, x-git-status; the goal is ≤ 1.5). The filter runs without
// FUSE passthrough, as it does in the sandboxes.
func BenchmarkWorkspaceFilter(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("mounting FUSE needs root")
	}
	if _, err := exec.LookPath("git"); err != nil {
		b.Skip("no git")
	}
	tarball, gitDir := benchTree(b)
	plain := map[string]time.Duration{}
	filtered := map[string]time.Duration{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Alternate which goes first, so that neither always gets the
		// warmer cache.
		for _, viaFilter := range [][]bool{{false, true}, {true, false}}[i%2] {
			ws := b.TempDir()
			if out, err := exec.Command("tar", "-xf", gitDir, "-C", ws).CombinedOutput(); err != nil {
				b.Fatalf("untar .git: %v %s", err, out)
			}
			dir, into := ws, plain
			if viaFilter {
				// Without passthrough, as in every sandbox here: the
				// benchmark runs as root on the host, where the kernel
				// would pass reads and writes to the backing files.
				dir, into = mountFilterFor(b, ws, filterOptions{noPassthrough: true}), filtered
			}
			for _, p := range benchPhases {
				cmd := exec.Command(p.cmd(tarball)[0], p.cmd(tarball)[1:]...)
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
				start := time.Now()
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%s (filter %v): %v\n%s", p.name, viaFilter, err, out)
				}
				into[p.name] += time.Since(start)
			}
		}
	}
	b.StopTimer()
	for _, p := range benchPhases {
		b.ReportMetric(float64(filtered[p.name])/float64(plain[p.name]), "x-"+p.name)
		b.ReportMetric(float64(plain[p.name].Milliseconds())/float64(b.N), "ms-plain-"+p.name)
		b.ReportMetric(float64(filtered[p.name].Milliseconds())/float64(b.N), "ms-filter-"+p.name)
	}
}
