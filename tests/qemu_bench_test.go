package tests

import (
	"encoding/json"
	"fmt"
	"os"
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

// BenchmarkQemuRun measures a warm `silo exec bb true` on the qemu backend
// (TCG here), which restores the VM from its memory snapshot (made by the
// warm-up run), beside bare qemu-system-x86_64 booting the same vmlinux
// and initfs to power-off, median of 10 each, interleaved so that both see
// the same host load. Goal: ratio ≤ 0.3 (a booting run was 1.2–1.4).
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
	if r := silo(b, home, ws, env, nil, "exec", "bb", "true"); r.Code != 0 {
		b.Fatalf("warm-up run: exit %d: %s", r.Code, r.Stderr)
	}
	bin, err := qemu.New(qemu.Options{}).Binary()
	if err != nil {
		b.Fatal(err)
	}
	const n = 10
	for range b.N {
		var runs, bares, runCPU, bareCPU []time.Duration
		var pairs []float64
		for range n {
			run := exec.Command(siloBin, "exec", "bb", "true")
			run.Dir, run.Env = ws, append(os.Environ(), "SILO_HOME="+home, "SILO_BACKEND=qemu")
			wall, cpu := timeCmd(b, run, "")
			runs, runCPU = append(runs, wall), append(runCPU, cpu)
			// The same VM shape as the run's: the tool's default CPUs and memory.
			bare := qemu.ProbeCommand(bin, kernel, initfs, qemu.AccelTCG, lock.DefaultCPUs, lock.DefaultMemoryMB)
			wall, cpu = timeCmd(b, bare, guestinit.ProbeOK)
			bares, bareCPU = append(bares, wall), append(bareCPU, cpu)
			pairs = append(pairs, float64(runs[len(runs)-1])/float64(wall))
		}
		run, bare := medianDur(runs), medianDur(bares)
		sort.Float64s(pairs)
		b.ReportMetric(float64(run.Milliseconds()), "silo-run-ms")
		b.ReportMetric(float64(bare.Milliseconds()), "bare-qemu-ms")
		b.ReportMetric(float64(run)/float64(bare), "ratio")
		b.ReportMetric(pairs[len(pairs)/2], "pair-ratio")
		b.ReportMetric(float64(medianDur(runCPU))/float64(medianDur(bareCPU)), "cpu-ratio")
		b.Logf("wall: silo run median %v (min %v), bare qemu median %v (min %v); CPU: silo run %v, bare %v",
			run, minDur(runs), bare, minDur(bares), medianDur(runCPU), medianDur(bareCPU))
	}
}

// timeCmd runs cmd and returns its wall time and the CPU time it and its
// children used. want, if set, must appear in its output.
func timeCmd(b *testing.B, cmd *exec.Cmd, want string) (wall, cpu time.Duration) {
	b.Helper()
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	wall = time.Since(t0)
	if err != nil || !strings.Contains(string(out), want) {
		b.Fatalf("%s: %v\n%s", cmd.Args[0], err, out)
	}
	return wall, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
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
