package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// benchProject is a built project (one step) on the namespace backend.
func benchProject(b *testing.B) (*sandbox, string, []string) {
	b.Helper()
	if _, err := exec.LookPath("bwrap"); err != nil {
		b.Skip("bubblewrap is not installed")
	}
	s := newSandbox(b, "namespace")
	host := startRegistry(b)
	pushImage(b, host, "bb", busyboxImage(b))
	writeFile(b, filepath.Join(s.home, "config.toml"), "[tool.bb]\nimage = \""+host+"/bb:latest\"\nshims = [\"sh\"]\n")
	ws := b.TempDir()
	writeTrusted(b, s.home, filepath.Join(ws, "silo.toml"), "tools = [\"bb\"]\n[mount]\nexclude = [\".venv\"]\n")
	writeFile(b, filepath.Join(ws, "requirements.txt"), "left-pad==1.0\n")
	env := append(os.Environ(), "SILO_HOME="+s.home, "HOME="+s.userHome, "SILO_BACKEND=namespace")
	return s, ws, env
}

// siloCmd is the binary run in ws with env.
func siloCmd(ws string, env []string, args ...string) *exec.Cmd {
	c := exec.Command(siloBin, args...)
	c.Dir, c.Env = ws, env
	return c
}

// BenchmarkBuildPullNoop measures a no-op `silo pull` on a synced project
// beside `silo config show --json` (both only read configuration),
// interleaved, median of 30. Goal: pull ≤ 2× config show.
func BenchmarkBuildPullNoop(b *testing.B) {
	_, ws, env := benchProject(b)
	timeRun(b, siloCmd(ws, env, "build", "bb", "sh", "-c", buildScript))
	timeRun(b, siloCmd(ws, env, "pull"))
	const n = 30
	var pull, show []time.Duration
	for i := 0; i < b.N; i++ {
		for j := 0; j < n; j++ {
			pull = append(pull, timeRun(b, siloCmd(ws, env, "pull")))
			show = append(show, timeRun(b, siloCmd(ws, env, "config", "show", "--json")))
		}
	}
	mp, ms := medianMS(pull), medianMS(show)
	b.ReportMetric(mp, "pull-ms")
	b.ReportMetric(ms, "config-show-ms")
	b.ReportMetric(mp/ms, "pull/config-show")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkBuildCapture measures `silo build T sh -c 'dd … count=100'`
// (100 MB written outside /workspace, captured, kept and assembled) beside
// `silo exec T` of the same command, interleaved, median of 5. Each build
// is a new derivation (the command differs by a comment) on a project
// without a lock, so that every one runs and captures. Goal: build ≤ 3×
// the run.
func BenchmarkBuildCapture(b *testing.B) {
	_, ws, env := benchProject(b)
	const dd = "dd if=/dev/urandom of=/opt/blob bs=1M count=100 2>/dev/null"
	timeRun(b, siloCmd(ws, env, "exec", "bb", "sh", "-c", "mkdir -p /opt && "+dd))
	const n = 5
	var build, run []time.Duration
	k := 0
	for i := 0; i < b.N; i++ {
		for j := 0; j < n; j++ {
			k++
			os.Remove(filepath.Join(ws, "silo.lock"))
			build = append(build, timeRun(b, siloCmd(ws, env, "build", "bb", "sh", "-c", fmt.Sprintf("mkdir -p /opt && %s # %d", dd, k))))
			run = append(run, timeRun(b, siloCmd(ws, env, "exec", "bb", "sh", "-c", "mkdir -p /opt && "+dd)))
		}
	}
	mb, mr := medianMS(build), medianMS(run)
	b.ReportMetric(mb, "build-ms")
	b.ReportMetric(mr, "run-ms")
	b.ReportMetric(mb/mr, "build/run")
	b.ReportMetric(0, "ns/op")
}
