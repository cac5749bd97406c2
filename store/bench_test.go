package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// fixture fills s with n small file entries, the fast way (no fsync): every
// fourth one a rootfs that references the three before it. The first
// roots rootfs entries get a direct root each. It returns the names.
func fixture(b testing.TB, s *Store, n, roots int) []string {
	b.Helper()
	names := make([]string, n)
	now := time.Now()
	for i := range n {
		data := []byte(strconv.Itoa(i))
		h := HashBytes(data)
		m := &metaFile{Version: metaVersion, Mode: 0o444, Entry: Entry{
			Kind: KindLayer, ContentHash: h, Size: int64(len(data)), DiskSize: 4096, RawDiskSize: 4096, Created: now,
		}}
		if i%4 == 3 {
			m.Kind = KindRootfs
			m.References = names[i-3 : i]
			m.Rebuildable = true
		}
		m.Name = storeName(h, string(m.Kind))
		names[i] = m.Name
		if err := os.WriteFile(s.entryPath(m.Name), data, 0o444); err != nil {
			b.Fatal(err)
		}
		js, _ := jsonMarshal(m)
		if err := os.WriteFile(s.metaPath(m.Name), js, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for r := range roots {
		if err := os.Symlink(filepath.Join("..", "store", names[r*4+3]), filepath.Join(s.roots, "root-"+strconv.Itoa(r))); err != nil {
			b.Fatal(err)
		}
	}
	return names
}

// BenchmarkGC collects a store of 100k entries with 10k roots (each
// rooting a rootfs and its 3 layers: 40k live, 60k garbage).
func BenchmarkGC(b *testing.B) {
	n, roots := 100_000, 10_000
	if testing.Short() {
		n, roots = 10_000, 1_000
	}
	for b.Loop() {
		b.StopTimer()
		s := open(b)
		fixture(b, s, n, roots)
		s.Close()
		s, err := Open(s.Home())
		if err != nil {
			b.Fatal(err)
		}
		// Flush the fixture so that its writeback does not land in the
		// measured GC.
		if err := syncFS(s.Dir()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		rep, err := s.GC(GCOptions{})
		sweep := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		rep2, err := s.GC(GCOptions{})
		steady := time.Since(start)
		b.StopTimer()
		if err != nil || rep.Live != 4*roots || len(rep.Removed) != n-4*roots || len(rep2.Removed) != 0 {
			b.Fatalf("GC: live %d removed %d, then %d: %v", rep.Live, len(rep.Removed), len(rep2.Removed), err)
		}
		b.ReportMetric(float64(sweep.Microseconds())/float64(len(rep.Removed)), "µs/removed-entry")
		b.ReportMetric(unlinkBaseline(b, s.Home()), "µs/unlink-baseline")
		b.ReportMetric(sweep.Seconds(), "s/gc-sweeping")
		b.ReportMetric(rep.Locked.Seconds(), "s/gc-sweeping-locked")
		b.ReportMetric(steady.Seconds(), "s/gc-nothing-to-do")
		s.Close()
		b.StartTimer()
	}
}

// unlinkBaseline returns what unlinking one small, synced file costs here
// right now: the floor under a GC's per-entry sweep cost.
func unlinkBaseline(b *testing.B, dir string) float64 {
	d := filepath.Join(dir, "baseline")
	os.Mkdir(d, 0o755)
	const n = 5000
	for i := range n {
		os.WriteFile(filepath.Join(d, strconv.Itoa(i)), []byte("x"), 0o644)
	}
	syncFS(d)
	start := time.Now()
	for i := range n {
		if err := os.Remove(filepath.Join(d, strconv.Itoa(i))); err != nil {
			b.Fatal(err)
		}
	}
	return float64(time.Since(start).Microseconds()) / n
}

// BenchmarkGet looks up a warm entry by name, 10,000 times per iteration
// (make bench runs one iteration), in a store of 10,000 entries.
func BenchmarkGet(b *testing.B) {
	s := open(b)
	names := fixture(b, s, 10_000, 0)
	const n = 10_000
	for b.Loop() {
		start := time.Now()
		for i := range n {
			if _, err := s.Get(names[i*7%len(names)]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(time.Since(start).Nanoseconds())/n/1e3, "µs/lookup")
	}
}

// BenchmarkAddFile adds a 1 GiB file (copied, and moved), next to b3sum
// hashing the same file just before each add and a plain copy and fsync
// of it, the floor under the copy path on this filesystem. x-cp-fsync-copy
// is the copy's speed as a fraction of that floor (1 is as fast). The machine is
// shared: figures are medians over the iterations (-benchtime 5x).
func BenchmarkAddFile(b *testing.B) {
	size := int64(1 << 30)
	if testing.Short() {
		size = 64 << 20
	}
	dir := b.TempDir()
	src := filepath.Join(dir, "big")
	f, err := os.Create(src)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.ReadFrom(bytesOf(1, int(size))); err != nil {
		b.Fatal(err)
	}
	f.Close()
	s := open(b)
	b.SetBytes(size)
	m := metrics{}
	mb := float64(size) / 1e6
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		// A fresh name each time, so nothing deduplicates.
		stage, err := s.MkTemp("bench-")
		if err != nil {
			b.Fatal(err)
		}
		moved := filepath.Join(stage, "moved")
		syncFS(s.tmp)
		start := time.Now()
		copyFile(b, src, moved)
		cpFsync := time.Since(start)
		m.add("MB/s-cp-fsync", mb/cpFsync.Seconds())
		b3 := timeB3sum(b, src)
		b.StartTimer()
		start = time.Now()
		if _, err := s.AddFile(src, AddOptions{Name: fmt.Sprintf("copy-%d", i)}); err != nil {
			b.Fatal(err)
		}
		cp := time.Since(start)
		b.StopTimer()
		syncFS(s.tmp) // the staged file's own writeback is not the store's work
		b3m := timeB3sum(b, src)
		start = time.Now()
		if _, err := s.AddFile(moved, AddOptions{Name: fmt.Sprintf("move-%d", i), Move: true}); err != nil {
			b.Fatal(err)
		}
		mv := time.Since(start)
		m.add("MB/s-add-copy", mb/cp.Seconds())
		m.add("x-cp-fsync-copy", cpFsync.Seconds()/cp.Seconds())
		m.add("MB/s-add-move", mb/mv.Seconds())
		if b3 > 0 {
			m.add("MB/s-b3sum", mb/b3m.Seconds())
			m.add("x-b3sum-copy", b3.Seconds()/cp.Seconds())
			m.add("x-b3sum-move", b3m.Seconds()/mv.Seconds())
		}
		b.StartTimer()
	}
	m.report(b)
}

// metrics collects figures per iteration and reports their medians.
type metrics map[string][]float64

func (m metrics) add(unit string, v float64) { m[unit] = append(m[unit], v) }

func (m metrics) report(b *testing.B) {
	for unit, vs := range m {
		slices.Sort(vs)
		b.ReportMetric(vs[len(vs)/2], unit)
	}
}

// BenchmarkHashFile hashes a page-cached file of each size on every core,
// each time right after b3sum hashes it (b3sum's time includes starting
// the process). Figures are medians.
func BenchmarkHashFile(b *testing.B) {
	sizes := []int{1 << 20, 8 << 20, 64 << 20, 1 << 30}
	if testing.Short() {
		sizes = sizes[:3]
	}
	for _, size := range sizes {
		b.Run(strconv.Itoa(size>>20)+"MiB", func(b *testing.B) {
			p := filepath.Join(b.TempDir(), "f")
			f, err := os.Create(p)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			if _, err := f.ReadFrom(bytesOf(size, size)); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			m := metrics{}
			mb := float64(size) / 1e6
			for b.Loop() {
				b.StopTimer()
				b3 := timeB3sum(b, p)
				b.StartTimer()
				start := time.Now()
				if _, err := hashFile(f, int64(size)); err != nil {
					b.Fatal(err)
				}
				d := time.Since(start)
				m.add("MB/s-hash", mb/d.Seconds())
				if b3 > 0 {
					m.add("MB/s-b3sum", mb/b3.Seconds())
					m.add("x-b3sum", b3.Seconds()/d.Seconds())
				}
			}
			m.report(b)
		})
	}
}

// timeB3sum times `b3sum` on path (0 when b3sum is not installed).
func timeB3sum(b *testing.B, path string) time.Duration {
	if _, err := exec.LookPath("b3sum"); err != nil {
		b.Log("b3sum not installed: no comparison")
		return 0
	}
	exec.Command("b3sum", path).Run() // warm the page cache as for the store
	start := time.Now()
	out, err := exec.Command("b3sum", "--no-names", path).Output()
	d := time.Since(start)
	if err != nil {
		b.Fatalf("b3sum: %v", err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	fi, _ := f.Stat()
	h, _ := hashFile(f, fi.Size())
	if want := h.String()[len(hashPrefix):]; string(bytes.TrimSpace(out)) != want {
		b.Fatalf("b3sum says %s, the store %s", out, want)
	}
	return d
}

func copyFile(b testing.TB, src, dst string) {
	in, err := os.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	if _, err := out.ReadFrom(in); err != nil {
		b.Fatal(err)
	}
	if err := out.Sync(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAddDir adds a tree of 200k small files (copied), next to b3sum
// hashing the same files.
func BenchmarkAddDir(b *testing.B) {
	n := 200_000
	if testing.Short() {
		n = 20_000
	}
	src := b.TempDir()
	var total int64
	for i := range n {
		d := filepath.Join(src, strconv.Itoa(i%100), strconv.Itoa(i%1000/100))
		if i < 1000 {
			os.MkdirAll(d, 0o755)
		}
		data := bytes.Repeat([]byte{byte(i)}, 100+i%3000)
		total += int64(len(data))
		if err := os.WriteFile(filepath.Join(d, strconv.Itoa(i)), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	s := open(b)
	b.SetBytes(total)
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		if _, err := s.AddDir(src, AddOptions{Name: fmt.Sprintf("tree-%d", i)}); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(n)/d.Seconds(), "files/s-add-copy")
		// The same tree staged on the store's filesystem and moved in, as
		// a build that unpacks under MkTemp does.
		stage, err := s.MkTemp("bench-")
		if err != nil {
			b.Fatal(err)
		}
		if out, err := exec.Command("cp", "-a", src, filepath.Join(stage, "t")).CombinedOutput(); err != nil {
			b.Fatalf("cp: %v %s", err, out)
		}
		syncFS(stage)
		start = time.Now()
		if _, err := s.AddDir(filepath.Join(stage, "t"), AddOptions{Name: fmt.Sprintf("moved-%d", i), Move: true}); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "files/s-add-move")
		if _, err := exec.LookPath("b3sum"); err == nil {
			cmd := exec.Command("sh", "-c", "find . -type f -print0 | xargs -0 b3sum >/dev/null")
			cmd.Dir = src
			start := time.Now()
			if err := cmd.Run(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "files/s-b3sum")
		}
		b.StartTimer()
	}
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
