package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkShimVsRun measures a shim call against `silo run` of the same
// command (the tool's sh, `true`), in a project claiming the tool, on the
// namespace backend, interleaved, median of 30 each: the goal is at most
// 1.05×.
func BenchmarkShimVsRun(b *testing.B) {
	e := newCLIEnv(b)
	if r := e.silo(b, e.work, nil, "install", "bb", "--image", e.reg+"/library/busybox:1.36", "--shim", "bbsh:sh"); r.Code != 0 {
		b.Fatal(r.Stderr)
	}
	ws := filepath.Join(e.work, "proj")
	writeTrusted(b, e.home, filepath.Join(ws, "silo.toml"), "tools = [\"bb\"]\n")
	env := append(append(os.Environ(), "SILO_HOME="+e.home, "PATH="+filepath.Join(e.home, "bin")+":/usr/bin:/bin"), e.env...)
	cmd := func(name string, args ...string) *exec.Cmd {
		c := exec.Command(name, args...)
		c.Dir, c.Env = ws, env
		return c
	}
	shim := func() *exec.Cmd { return cmd(filepath.Join(e.home, "bin", "bbsh"), "-c", "true") }
	run := func() *exec.Cmd { return cmd(siloBin, "run", "bb", "-c", "true") }
	timeRun(b, run()) // warm
	var sw, rw, sc, rc []time.Duration
	for i := 0; i < b.N; i++ {
		for j := 0; j < 30; j++ {
			add(b, shim(), &sw, &sc)
			add(b, run(), &rw, &rc)
		}
	}
	b.ReportMetric(medianMS(sw), "shim-ms")
	b.ReportMetric(medianMS(rw), "run-ms")
	b.ReportMetric(medianMS(sw)/medianMS(rw), "shim/run")
	b.ReportMetric(medianMS(sc)/medianMS(rc), "shim/run-cpu")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkListStatus20 measures `silo list` and `silo status` with 20
// tools installed against `silo version`, interleaved, median of 30
// each: the goal is at most 2×.
func BenchmarkListStatus20(b *testing.B) {
	e := newCLIEnv(b)
	ref := e.reg + "/library/busybox:1.36"
	if r := e.silo(b, e.work, nil, "install", "t0", "--image", ref); r.Code != 0 {
		b.Fatal(r.Stderr)
	}
	// The other 19 share the image: written as install writes them.
	var cfg strings.Builder
	data, _ := os.ReadFile(filepath.Join(e.home, "config.toml"))
	cfg.Write(data)
	for i := 1; i < 20; i++ {
		fmt.Fprintf(&cfg, "\n[tool.t%d]\nimage = %q\nshims = [\"t%d\"]\n", i, ref, i)
	}
	if err := os.WriteFile(filepath.Join(e.home, "config.toml"), []byte(cfg.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	if r := e.silo(b, e.work, nil, "list", "--json"); strings.Count(r.Stdout, `"pulled": true`) != 20 {
		b.Fatalf("silo list: %s %s", r.Stdout, r.Stderr)
	}
	env := append(append(os.Environ(), "SILO_HOME="+e.home), e.env...)
	cmd := func(args ...string) *exec.Cmd {
		c := exec.Command(siloBin, args...)
		c.Dir, c.Env = e.work, env
		return c
	}
	var vw, lw, sw, vc, lc, sc []time.Duration
	for i := 0; i < b.N; i++ {
		for j := 0; j < 30; j++ {
			add(b, cmd("version"), &vw, &vc)
			add(b, cmd("list"), &lw, &lc)
			add(b, cmd("status"), &sw, &sc)
		}
	}
	v := medianMS(vw)
	b.ReportMetric(v, "version-ms")
	b.ReportMetric(medianMS(lw), "list-ms")
	b.ReportMetric(medianMS(sw), "status-ms")
	b.ReportMetric(medianMS(lw)/v, "list/version")
	b.ReportMetric(medianMS(sw)/v, "status/version")
	b.ReportMetric(0, "ns/op")
}
