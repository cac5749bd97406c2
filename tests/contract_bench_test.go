package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// BenchmarkNamespaceRun measures a warm `silo run T true` on the namespace
// backend, median of 50, beside bare bwrap running /bin/true on the same
// rootfs directory entry, interleaved so that both see the same load. It
// reports silo with itself as the agent and with the lean silo-agent.
func BenchmarkNamespaceRun(b *testing.B) {
	if _, err := exec.LookPath("bwrap"); err != nil {
		b.Skip("bubblewrap is not installed")
	}
	s := newSandbox(b, "namespace")
	ws := s.project(b)
	agent := filepath.Join(b.TempDir(), "silo-agent")
	build := exec.Command("go", "build", "-trimpath", "-o", agent, "./cmd/silo-agent")
	build.Dir, build.Env = repoRoot, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build silo-agent: %v\n%s", err, out)
	}
	env := append(os.Environ(), "SILO_HOME="+s.home, "HOME="+s.userHome, "SILO_BACKEND=namespace")
	silo := func(extra ...string) *exec.Cmd {
		c := exec.Command(siloBin, "exec", "bb", "true")
		c.Dir, c.Env = ws, append(append([]string(nil), env...), extra...)
		return c
	}
	self := "SILO_AGENT=" + siloBin // silo-agent sits beside siloBin too
	timeRun(b, silo())              // warm: pull and unpack the image
	rootfs := rootfsDir(b, s.home)
	bare := func() *exec.Cmd {
		return exec.Command("bwrap", "--unshare-all", "--die-with-parent", "--as-pid-1", "--uid", "0", "--gid", "0",
			"--ro-bind", rootfs, "/", "/bin/true")
	}
	const n = 50
	var selfRuns, lean, bw, selfCPU, leanCPU, bwCPU []time.Duration
	for i := 0; i < b.N; i++ {
		for j := 0; j < n; j++ {
			add(b, bare(), &bw, &bwCPU)
			add(b, silo(self), &selfRuns, &selfCPU)
			add(b, silo("SILO_AGENT="+agent), &lean, &leanCPU)
		}
	}
	mb, ms, ml := medianMS(bw), medianMS(selfRuns), medianMS(lean)
	b.ReportMetric(ms, "silo-ms")
	b.ReportMetric(ml, "silo-lean-agent-ms")
	b.ReportMetric(mb, "bwrap-ms")
	b.ReportMetric(ms/mb, "silo/bwrap")
	b.ReportMetric(ml/mb, "silo-lean/bwrap")
	// CPU time (user + system, the process and what it waited for) is
	// steadier than wall-clock time on a shared machine.
	b.ReportMetric(medianMS(selfCPU), "silo-cpu-ms")
	b.ReportMetric(medianMS(leanCPU), "silo-lean-cpu-ms")
	b.ReportMetric(medianMS(bwCPU), "bwrap-cpu-ms")
	b.ReportMetric(0, "ns/op")
}

// add runs c and appends its wall-clock and CPU times.
func add(b *testing.B, c *exec.Cmd, wall, cpu *[]time.Duration) {
	b.Helper()
	*wall = append(*wall, timeRun(b, c))
	*cpu = append(*cpu, c.ProcessState.UserTime()+c.ProcessState.SystemTime())
}

// timeRun runs c and returns how long it took; it fails on a non-zero exit.
func timeRun(b *testing.B, c *exec.Cmd) time.Duration {
	b.Helper()
	t0 := time.Now()
	out, err := c.CombinedOutput()
	d := time.Since(t0)
	if err != nil {
		b.Fatalf("%s: %v\n%s", c.Args, err, out)
	}
	return d
}

// medianMS returns the median of ds in milliseconds.
func medianMS(ds []time.Duration) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[len(s)/2].Microseconds()) / 1000
}

// rootfsDir returns the unpacked rootfs directory entry in home's store.
func rootfsDir(b *testing.B, home string) string {
	b.Helper()
	matches, _ := filepath.Glob(filepath.Join(home, "store", "*-rootfs"))
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil && fi.IsDir() {
			return m
		}
	}
	b.Fatalf("no rootfs directory entry in %s/store", home)
	return ""
}
