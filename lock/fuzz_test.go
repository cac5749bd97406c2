package lock

import (
	"errors"
	"fmt"
	"github.com/silo-dev/silo/internal/fsutil"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzLoad feeds arbitrary bytes to the loader as each kind of file, and
// checks that it never panics and that what it accepts is whole and sane.
// `make fuzz` runs it for a minute.
func FuzzLoad(f *testing.F) {
	// Small seeds: the fuzzer minimises every new input it finds for up to
	// a minute, and a large seed would spend `make fuzz`'s minute on that.
	data, err := os.ReadFile("testdata/silo.toml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data, uint8(0))
	f.Add(data, uint8(1))
	for _, s := range []string{
		"[tool.x]\nimage = \"alpine:3\"\nshims = [\"x\", \"y:z\"]\nenv = { A = \"1\" }\ncpus = 2\n[[tool.x.cache]]\nguest = \"/c\"\nsizeHint = \"1G\"\n[tool.x.network.proxy]\nallow = [\"a.com\"]\n",
		"passenv = [\"X\"]\n", "[[overrides.python.ports]]\nhost = 70000\n",
		"passFiles = [\"../../.ssh/id_rsa\"]\n", "[tool.x]\nimage = \"oci-layout:d:t\"\nshims = [\"a:b\"]\n",
		"[overrides.python]\nports = [{host = 1, guest = 1}, {host = 1, guest = 2}]\n",
		"[Overrides.Python]\nCPUS = 1\n", "a = [[[[[[[[1]]]]]]]]\n", "[mount]\nexclude = [\"a/../..\"]\n",
		"[a.b.c.d.e.f.g.h]\nk1 = 1\nk2 = 2\n", "[[a.b]]\n[[a.b]]\n[[a.b.c]]\n[a.b.c.d]\n", "a.b.c.d.e = 1\n",
	} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(2))
	}
	o := Options{Home: "/nonexistent-silo-fuzz/home/.silo", Dir: "/nonexistent-silo-fuzz/home/proj/sub", UserHome: "/nonexistent-silo-fuzz/home"}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		var in inputs
		file := &input{data: data}
		switch which % 3 {
		case 0:
			file.path, in.project = "/nonexistent-silo-fuzz/home/proj/silo.toml", file
		case 1:
			file.path, in.user = o.Home+"/silo.toml", file
		default:
			file.path, in.global = o.Home+"/config.toml", file
		}
		c, err := build(o, in)
		if err != nil {
			checkFuzzError(t, err, file.path)
			return
		}
		if c == nil {
			t.Fatal("no Config and no error")
		}
		for _, n := range c.ToolNames() {
			tl, err := c.Tool(n)
			if err != nil {
				t.Fatal(err)
			}
			checkFuzzTool(t, tl, c.Workspace())
		}
		for _, g := range c.grants(file.path) {
			if g.Source.File != file.path || g.Source.Line < 1 || g.Key == "" {
				t.Fatalf("grant %+v", g)
			}
		}
	})
}

// checkFuzzError checks every problem names the file with a position.
func checkFuzzError(t *testing.T, err error, path string) {
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error of type %T: %v", err, err)
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if !strings.HasPrefix(line, path+":") {
			t.Fatalf("problem does not start with the file's path: %q", line)
		}
	}
}

// checkFuzzTool checks the invariants the runtime relies on.
func checkFuzzTool(t *testing.T, tl *Tool, workspace string) {
	for _, p := range tl.PassFiles {
		if !filepath.IsAbs(p) || filepath.Clean(p) != p {
			t.Fatalf("passFiles entry %q is not absolute and clean", p)
		}
		if tl.Origins != nil && strings.HasSuffix(originOf(tl, "passFiles", p).File, "proj/silo.toml") && !fsutil.Within(p, workspace) {
			t.Fatalf("the project passed %q from outside %s", p, workspace)
		}
	}
	for _, e := range tl.Exclude {
		if filepath.IsAbs(e) || e == ".." || strings.HasPrefix(e, "../") || filepath.Clean(e) != e {
			t.Fatalf("exclude %q escapes or is not clean", e)
		}
	}
	seen := map[int]bool{}
	for _, p := range tl.Ports {
		if p.Host < 1 || p.Host > 65535 || p.Guest < 1 || p.Guest > 65535 || seen[p.Host] {
			t.Fatalf("bad ports %v", tl.Ports)
		}
		seen[p.Host] = true
	}
	for _, c := range tl.Caches {
		if !filepath.IsAbs(c.Guest) || !fsutil.Within(c.Host, "/nonexistent-silo-fuzz/home/.silo/cache") {
			t.Fatalf("bad cache %+v", c)
		}
	}
	if tl.Origins != nil && strings.HasSuffix(tl.Origins["image"].File, "proj/silo.toml") && isLocalImage(tl.Image) &&
		checkProjectImage(tl.Image, workspace) != "" {
		t.Fatalf("the project named the local image %q outside %s", tl.Image, workspace)
	}
	if tl.CPUs < 1 || tl.MemoryMB < minMemoryMB || tl.RootfsSizeMB < minRootfsSizeMB || !strings.HasPrefix(tl.Workdir, "/") {
		t.Fatalf("bad resources %+v", tl)
	}
}

// originOf returns the source of the list element equal to v.
func originOf(tl *Tool, list string, v string) Source {
	for i, p := range tl.PassFiles {
		if p == v {
			return tl.Origins[list+"."+idx(i)]
		}
	}
	return Source{}
}

// bigFiles are files near the 1 MiB limit whose keys once cost the square of
// their size: a table header of many dotted parts (position.go built its
// path one part at a time), a long header followed by many keys (every key
// recorded with the whole header), and many keys in one table (the TOML
// decoder compares each with every other). Each maps a name to the file and
// the message its load must fail with.
func bigFiles() map[string][2]string {
	const mb = 1<<20 - 64
	many := func(prefix string, n int) string {
		var b strings.Builder
		b.WriteString(prefix)
		for i := 0; b.Len() < n; i++ {
			fmt.Fprintf(&b, "k%d = \"1\"\n", i)
		}
		return b.String()
	}
	unknown, tooMany := "unknown key `a`", "at most 4096 keys"
	return map[string][2]string{
		"200000-part header": {"[" + strings.Repeat("a.", 199999) + "a]\n", unknown},
		"1 MB header":        {"[" + strings.Repeat("a.", mb/2-2) + "a]\n", unknown},
		"1 MB dotted key":    {strings.Repeat("a.", mb/2-4) + "a = 1\n", unknown},
		"1 MB quoted header": {"[" + strings.Repeat(`"a".`, mb/4-2) + "a]\n", unknown},
		"long header, keys":  {many("["+strings.Repeat("a.", mb/4)+"a]\n", mb), tooMany},
		"1 MB of keys":       {many("[overrides.x.env]\n", mb), tooMany},
		"1 MB array tables":  {strings.Repeat("[[a]]\n", mb/6), tooMany},
	}
}

// TestLoadBigFilesLinear loads each of bigFiles: each fails with its
// file:line:col message, and does so in linear time (this test took minutes
// before: 18 s for the 200000-part header alone).
func TestLoadBigFilesLinear(t *testing.T) {
	for name, c := range bigFiles() {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			path := f.projectFile(t, c[0])
			_, err := f.load(f.project)
			if err == nil || !strings.HasPrefix(err.Error(), path+":") || !strings.Contains(err.Error(), c[1]) {
				t.Fatalf("load: %.300v; want %s:LINE:COL: …%s", err, path, c[1])
			}
		})
	}
	// A large file of a real shape still loads: 4000 variables in one env.
	f := newFixture(t)
	var b strings.Builder
	b.WriteString("[overrides.python.env]\n")
	for i := range 4000 {
		fmt.Fprintf(&b, "VAR_%d = \"%d\"\n", i, i)
	}
	f.projectFile(t, b.String())
	if tl := f.mustTool(t, "python"); tl.Env["VAR_3999"] != "3999" {
		t.Fatalf("env of 4000 variables: VAR_3999 = %q", tl.Env["VAR_3999"])
	}
}

// BenchmarkLoadLongHeader loads a table header of N dotted parts and one of
// 4N, and reports the ratio of their times: about 4 when loading is linear,
// 16 when it is quadratic (as it was).
func BenchmarkLoadLongHeader(b *testing.B) {
	const n = 50000
	f := newFixture(b)
	load := func(parts int) time.Duration {
		f.projectFile(b, "["+strings.Repeat("a.", parts-1)+"a]\n")
		t0 := time.Now()
		if _, err := f.load(f.project); err == nil {
			b.Fatal("an unknown table loaded")
		}
		return time.Since(t0)
	}
	var small, big time.Duration
	for b.Loop() {
		small += load(n)
		big += load(4 * n)
	}
	b.ReportMetric(float64(big)/float64(small), "4x-parts-time-ratio")
	b.ReportMetric(float64(big.Microseconds())/float64(b.N), "µs/200000-part-load")
}
