package rootfs

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

// bigFileLayer is a layer holding one file of size bytes whose first and
// last 4 KiB are data and the rest zeros, made on the fly so the test
// takes no disk for it.
func bigFileLayer(t testing.TB, name string, size int64, head, tail []byte) Layer {
	var hb bytes.Buffer
	tw := tar.NewWriter(&hb)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, ModTime: testTime}); err != nil {
		t.Fatal(err)
	}
	pad := (512 - size%512) % 512
	return Layer{Name: "big", Open: func() (io.ReadCloser, error) {
		return io.NopCloser(io.MultiReader(bytes.NewReader(hb.Bytes()), bytes.NewReader(head),
			io.LimitReader(zeros{}, size-int64(len(head)+len(tail))), bytes.NewReader(tail),
			bytes.NewReader(make([]byte, pad+1024)))), nil
	}}
}

// bmap is the physical block of logical block n of p.
func bmap(t testing.TB, img, p string, n int64) int64 {
	t.Helper()
	out := debugfsRun(t, img, fmt.Sprintf("bmap %s %d", p, n))
	f := strings.Fields(out)
	b, err := strconv.ParseInt(f[len(f)-1], 10, 64)
	if err != nil {
		t.Fatalf("bmap %s %d: %s", p, n, out)
	}
	return b
}

// TestWriteExt4HugeFile: a file past 4 GiB takes more than four extents,
// so an extent leaf block (two past 42.5 GiB, which also needs more than
// one block of group descriptors); its data at both ends reads back, and
// the image stays sparse.
func TestWriteExt4HugeFile(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 47 GiB of zeros")
	}
	for _, size := range []int64{4<<30 + 3*blockSize + 100, 43 << 30} {
		t.Run(fmt.Sprint(size), func(t *testing.T) { testHugeFile(t, size) })
	}
}

func testHugeFile(t *testing.T, size int64) {
	head := bytes.Repeat([]byte("HEAD"), blockSize/4)
	tail := bytes.Repeat([]byte("TAIL"), blockSize/4)
	layers := append(layersOf(tarOf(t, ent{name: "etc/hostname", body: "box"})), bigFileLayer(t, "var/huge", size, head, tail))
	img := writeImage(t, layers)
	out := debugfsRun(t, img, "stat /var/huge")
	if got := field(out, "Size:"); got != fmt.Sprint(size) {
		t.Errorf("size %s, want %d", got, size)
	}
	ext := debugfsRun(t, img, "dump_extents /var/huge")
	if !strings.Contains(ext, " 0/ 1 ") || !strings.Contains(ext, " 1/ 1 ") {
		t.Errorf("want a two-level extent tree:\n%s", ext)
	}
	last := (size - 1) / blockSize
	first := bmap(t, img, "/var/huge", 0)
	if got := bmap(t, img, "/var/huge", last); got != first+last {
		t.Fatalf("last block at %d, want %d (contiguous)", got, first+last)
	}
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, blockSize)
	for off, want := range map[int64][]byte{0: head, size - blockSize: tail, 1 << 32: make([]byte, blockSize)} {
		if _, err := f.ReadAt(buf, first*blockSize+off); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf, want) {
			t.Errorf("at offset %d of the file: %.16q, want %.16q", off, buf, want)
		}
	}
	if got := debugfsCat(t, img, "/etc/hostname"); got != "box" {
		t.Errorf("/etc/hostname = %q", got)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(img, &st); err != nil {
		t.Fatal(err)
	}
	if st.Blocks*512 > 64<<20 {
		t.Errorf("image takes %d bytes on disk", st.Blocks*512)
	}
}

// TestWriteExt4ManySubdirs: past 65000 subdirectories a directory's link
// count is 1 (dir_nlink), and e2fsck agrees.
func TestWriteExt4ManySubdirs(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 65,001 directories")
	}
	ents := []ent{{name: "top/", typ: tar.TypeDir, mode: 0o755}}
	for i := range 65001 {
		ents = append(ents, ent{name: fmt.Sprintf("top/%d/", i), typ: tar.TypeDir, mode: 0o755})
	}
	ents = append(ents, ent{name: "small/a/", typ: tar.TypeDir, mode: 0o755}, ent{name: "small/b/", typ: tar.TypeDir, mode: 0o755})
	img := writeImage(t, layersOf(tarOf(t, ents...)))
	if n := field(debugfsRun(t, img, "stat /top"), "Links:"); n != "1" {
		t.Errorf("/top has %s links, want 1", n)
	}
	if n := field(debugfsRun(t, img, "stat /small"), "Links:"); n != "4" {
		t.Errorf("/small has %s links, want 4", n)
	}
	if in := debugfsStat(t, img, "/top/65000"); in.mode != 0o40755 {
		t.Errorf("/top/65000: mode %o", in.mode)
	}
}

// TestExt4Devices writes device nodes through the sink directly (emit
// never produces them: layers may not create devices).
func TestExt4Devices(t *testing.T) {
	img := filepath.Join(t.TempDir(), "dev.ext4")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := newExt4Writer(f, newTree(), 0)
	if err != nil {
		t.Fatal(err)
	}
	m := &meta{mode: 0o666, mtime: testTime}
	if err := w.dir("dev", m); err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct {
		name         string
		char         bool
		major, minor uint32
	}{{"dev/null", true, 1, 3}, {"dev/sda", false, 8, 0}, {"dev/wide", true, 300, 70000}} {
		if err := w.device(d.name, m, d.char, d.major, d.minor); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.finish(); err != nil {
		t.Fatal(err)
	}
	fsckClean(t, img)
	for p, want := range map[string]string{
		"/dev/null": "character special", "/dev/sda": "block special", "/dev/wide": "character special",
	} {
		if out := debugfsRun(t, img, "stat "+p); !strings.Contains(out, "Type: "+want) {
			t.Errorf("%s: want %s:\n%s", p, want, out)
		}
	}
	for p, want := range map[string]string{"/dev/null": "number: 01:03 ", "/dev/sda": "number: 08:00 ", "/dev/wide": "number: 300:70000 "} {
		if out := debugfsRun(t, img, "stat "+p); !strings.Contains(out, want) {
			t.Errorf("%s: want device %s in:\n%s", p, want, out)
		}
	}
}
