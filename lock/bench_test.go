package lock

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkLoad measures what every shim call pays: Load (discovery walking
// up three directories, a global config with 11 tools, a project silo.toml),
// merge and validation, then one Tool lookup.
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
	dir := filepath.Join(f.project, "src", "pkg", "mod")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	o := Options{Home: f.home, Dir: dir, UserHome: f.userHome}
	b.ReportAllocs()
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
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/load")
}
