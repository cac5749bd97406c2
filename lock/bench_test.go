package lock

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkLoad measures what every shim call pays: Load (discovery walking
// up three directories, a global config.toml with 11 tools, a project
// silo.toml, trusted), merge, validation and the trust check, then one
// Tool lookup. Besides wall time
// it reports the CPU time per load, which contention on a shared machine
// inflates less.
func BenchmarkLoad(b *testing.B) {
	f := newFixture(b)
	for _, c := range []struct{ from, to string }{
		{"testdata/config.toml", "home/.silo/config.toml"},
		{"testdata/silo.toml", "home/proj/silo.toml"},
	} {
		data, err := os.ReadFile(c.from)
		if err != nil {
			b.Fatal(err)
		}
		f.write(b, c.to, string(data))
	}
	// The project file grants: each load also reads its trust record.
	if err := f.trust(filepath.Join(f.project, ProjectFileName)); err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(f.project, "src", "pkg", "mod")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	o := Options{Home: f.home, Dir: dir, UserHome: f.userHome}
	builtins() // decoded once per process: see BenchmarkBuiltins
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for b.Loop() {
		c, err := Load(o)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Tool("python"); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/load")
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/load")
}

// BenchmarkBuiltins measures decoding the built-in defaults.toml, which a
// new process (a shim call) pays once on top of BenchmarkLoad.
func BenchmarkBuiltins(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		decodeBuiltins()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/decode")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
