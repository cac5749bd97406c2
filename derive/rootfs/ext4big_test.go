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
// so an extent leaf block; its data at both ends reads back, and the image
// stays sparse. A file past what tar2ext4 writes correctly is refused.
func TestWriteExt4HugeFile(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 47 GiB of zeros")
	}
	testHugeFile(t, 4<<30+3*blockSize+100)
	// Past 340 extents tar2ext4 writes invalid ones: refused instead.
	dst := filepath.Join(t.TempDir(), "x.ext4")
	err := WriteExt4([]Layer{bigFileLayer(t, "var/huge", maxExt4File+1, []byte("HEAD"), []byte("TAIL"))}, dst, 0, 0)
	if err == nil || !strings.Contains(err.Error(), "more than the 42 GiB a file in silo's ext4 images may have") {
		t.Errorf("a file of one byte over the limit: %v", err)
	}
	if _, err := os.Lstat(dst); !os.IsNotExist(err) {
		t.Errorf("image left behind: %v", err)
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

// TestWriteExt4ManySubdirs: tar2ext4 cannot give a directory more than
// 65000 subdirectories (it writes no dir_nlink). The error must say so
// and leave no image; fewer are fine.
func TestWriteExt4ManySubdirs(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 65,001 directories")
	}
	ents := []ent{{name: "top/", typ: tar.TypeDir, mode: 0o755}}
	for i := range 65001 {
		ents = append(ents, ent{name: fmt.Sprintf("top/%d/", i), typ: tar.TypeDir, mode: 0o755})
	}
	dst := filepath.Join(t.TempDir(), "x.ext4")
	err := WriteExt4(layersOf(tarOf(t, ents...)), dst, 0, 0)
	if err == nil || !strings.Contains(err.Error(), "more than 65000 subdirectories") {
		t.Fatalf("65,001 subdirectories: %v", err)
	}
	if _, err := os.Lstat(dst); !os.IsNotExist(err) {
		t.Errorf("image left behind: %v", err)
	}
	img := writeImage(t, layersOf(tarOf(t, ents[:64000]...)))
	if n := field(debugfsRun(t, img, "stat /top"), "Links:"); n != "64001" {
		t.Errorf("/top has %s links, want 64001", n)
	}
}

// blockSize and maxExtentLen are ext4's block size and the most blocks
// one extent holds, for placing test data where extents split.
const (
	blockSize    = 4096
	maxExtentLen = 32768
)
