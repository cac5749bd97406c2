package tests

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/silo-dev/silo/lock"
	"github.com/silo-dev/silo/vm/guestinit"
	"github.com/silo-dev/silo/vm/qemu"
)

// BenchmarkQemuRun measures a warm `silo run bb true` on the qemu backend
// (TCG here) beside bare qemu-system-x86_64 booting the same vmlinux and
// initfs to power-off, median of 10 each, interleaved so that both see
// the same host load. Goal: ratio ≤ 1.15.
func BenchmarkQemuRun(b *testing.B) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		b.Skip(err)
	}
	vmlinuz, mods := debianKernel(b)
	home, ws := b.TempDir(), b.TempDir()
	image := "oci-layout:" + ociLayout(b, busyboxImage(b))
	writeFile(b, filepath.Join(home, "config.toml"), fmt.Sprintf("[tool.bb]\nimage = %q\n", image))
	writeFile(b, filepath.Join(ws, "silo.toml"), "tools = [\"bb\"]\n")
	env := []string{"SILO_BACKEND=qemu"}
	if r := silo(b, home, ws, env, nil, "runtime", "import-kernel", vmlinuz, "--modules", mods); r.Code != 0 {
		b.Fatalf("import-kernel: %s", r.Stderr)
	}
	kernel, initfs := runtimePaths(b, home)
	if r := silo(b, home, ws, env, nil, "run", "bb", "true"); r.Code != 0 {
		b.Fatalf("warm-up run: exit %d: %s", r.Code, r.Stderr)
	}
	bin, err := qemu.New(qemu.Options{}).Binary()
	if err != nil {
		b.Fatal(err)
	}
	const n = 10
	for range b.N {
		var runs, bares []time.Duration
		for range n {
			t0 := time.Now()
			if r := silo(b, home, ws, env, nil, "run", "bb", "true"); r.Code != 0 {
				b.Fatalf("silo run: exit %d: %s", r.Code, r.Stderr)
			}
			runs = append(runs, time.Since(t0))
			// The same VM shape as the run's: the tool's default CPUs and memory.
			cmd := qemu.ProbeCommand(bin, kernel, initfs, qemu.AccelTCG, lock.DefaultCPUs, lock.DefaultMemoryMB)
			t0 = time.Now()
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), guestinit.ProbeOK) {
				b.Fatalf("bare boot: %v\n%s", err, out)
			}
			bares = append(bares, time.Since(t0))
		}
		run, bare := medianDur(runs), medianDur(bares)
		b.ReportMetric(float64(run.Milliseconds()), "silo-run-ms")
		b.ReportMetric(float64(bare.Milliseconds()), "bare-qemu-ms")
		b.ReportMetric(float64(run)/float64(bare), "ratio")
		b.Logf("silo run median %v (min %v), bare qemu median %v (min %v)", run, minDur(runs), bare, minDur(bares))
	}
}

// runtimePaths returns the vmlinux and initfs the runtime status names.
func runtimePaths(tb testing.TB, home string) (kernel, initfs string) {
	tb.Helper()
	r := silo(tb, home, tb.TempDir(), nil, nil, "runtime", "status", "--json")
	var st struct {
		Kernel struct{ Name string }
		Initfs string
	}
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil || st.Kernel.Name == "" || st.Initfs == "" {
		tb.Fatalf("runtime status: %v\n%s%s", err, r.Stdout, r.Stderr)
	}
	return filepath.Join(home, "store", st.Kernel.Name, "vmlinux"), filepath.Join(home, "store", st.Initfs)
}

func medianDur(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func minDur(d []time.Duration) time.Duration {
	m := d[0]
	for _, x := range d {
		m = min(m, x)
	}
	return m
}
