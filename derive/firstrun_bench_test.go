package derive

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/silo-dev/silo/derive/oci"
	rfs "github.com/silo-dev/silo/derive/rootfs"
	"github.com/silo-dev/silo/store"
)

// firstRunLayers writes 4 gzip layers shaped like a language image's:
// each a few MiB of incompressible bytes in a few files and 2,500 small
// text files in 50 directories (~10,000 files, ~60 MB in all). It
// returns the layers and their paths and diff IDs.
func firstRunLayers(b *testing.B, dir string) ([]rfs.Layer, []string) {
	rng := rand.New(rand.NewPCG(7, 8))
	var layers []rfs.Layer
	var paths []string
	for i := range 4 {
		p := filepath.Join(dir, fmt.Sprintf("layer%d.tar.gz", i))
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		sum := sha256.New()
		zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
		tw := tar.NewWriter(io.MultiWriter(zw, sum))
		for d := range 50 {
			tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("l%d/d%02d/", i, d), Typeflag: tar.TypeDir, Mode: 0o755})
		}
		for j := range 4 {
			big := make([]byte, 2<<20)
			for k := 0; k+8 <= len(big); k += 8 {
				binary.LittleEndian.PutUint64(big[k:], rng.Uint64())
			}
			tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("l%d/lib%d.so", i, j), Mode: 0o755, Size: int64(len(big))})
			tw.Write(big)
		}
		for j := range 2500 {
			small := make([]byte, 512+rng.IntN(12000))
			for k := range small {
				small[k] = byte('a' + rng.IntN(8))
			}
			tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("l%d/d%02d/f%04d.py", i, j%50, j), Mode: 0o644, Size: int64(len(small))})
			tw.Write(small)
		}
		tw.Close()
		zw.Close()
		f.Close()
		diffID := "sha256:" + hex.EncodeToString(sum.Sum(nil))
		layers = append(layers, rfs.Layer{Name: p, Open: func() (io.ReadCloser, error) { return oci.OpenLayerVerified(p, diffID) }})
		paths = append(paths, p)
	}
	return layers, paths
}

// BenchmarkFirstRun is the store work of a first run whose image is
// already pulled: the rootfs assembled from the layers (read through the
// diff-ID check, as a run reads them) and added to the store, in each
// form, beside `tar -xzf` of the same layers into a directory (no fsync).
// Figures are medians of the ratios measured in the same iteration
// (-benchtime 5x for more).
func BenchmarkFirstRun(b *testing.B) {
	dir := b.TempDir()
	layers, paths := firstRunLayers(b, dir)
	st, err := store.Open(filepath.Join(dir, "home"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ratios := map[string][]float64{}
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		untar := timeUntar(b, dir, paths)
		b.StartTimer()
		for _, format := range []string{"dir", "ext4"} {
			d := &Derivation{Version: Version, Type: "rootfs-bench", Platform: fmt.Sprint(i), Format: format}
			start := time.Now()
			_, err := Realise(st, d, func(tmp string) (*Output, error) {
				out := &Output{Kind: store.KindRootfs, Name: "bench-rootfs", KeepModes: format == "dir"}
				if format == "dir" {
					out.Path = filepath.Join(tmp, "rootfs")
					return out, rfs.WriteDir(layers, out.Path, 0)
				}
				out.Path = filepath.Join(tmp, "rootfs.ext4")
				return out, rfs.WriteExt4(layers, out.Path, 0, 0)
			})
			if err != nil {
				b.Fatal(err)
			}
			ratios["x-tar-"+format] = append(ratios["x-tar-"+format], time.Since(start).Seconds()/untar.Seconds())
		}
		b.StopTimer()
		if _, err := st.GC(store.GCOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	for unit, vs := range ratios {
		slices.Sort(vs)
		b.ReportMetric(vs[len(vs)/2], unit)
	}
}

// timeUntar extracts the layers with tar into a fresh directory and
// returns how long it took.
func timeUntar(b *testing.B, dir string, paths []string) time.Duration {
	out, err := os.MkdirTemp(dir, "untar-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(out)
	start := time.Now()
	for _, p := range paths {
		if o, err := exec.Command("tar", "-xzf", p, "-C", out).CombinedOutput(); err != nil {
			b.Fatalf("tar: %v: %s", err, o)
		}
	}
	return time.Since(start)
}
