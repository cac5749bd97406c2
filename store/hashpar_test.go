package store

import (
	"bytes"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"lukechampine.com/blake3"
)

// hashSizes are input sizes around every boundary of the parallel hasher:
// blocks, chunks, SIMD groups, pread pieces, subtrees, copy buffers, and
// odd sizes up to 100 MiB.
func hashSizes() []int {
	const k, g, S, C = 1024, groupSize, subtreeSize, chunkSize
	sizes := []int{
		0, 1, 63, 64, 65, k - 1, k, k + 1, 2*k - 1, 2 * k, 2*k + 1, 3*k + 7,
		g - 1, g, g + 1, 2*g + 1, 3 * g, readSize - 1, readSize, readSize + 1,
		S - 1, S, S + 1, parMin - 1, parMin, parMin + 1, 3*S - 1, 3 * S, 3*S + 1,
		4*S + g + 1, 4*S + 3*g, 5*S + 12345, 6*S + 1000,
		C - 1, C, C + 1, 2*C + S + 1, 3*C - 1,
	}
	if !testing.Short() {
		sizes = append(sizes, 37<<20+777, 64<<20+3*g+5, 100<<20+4097)
	}
	slices.Sort(sizes)
	return slices.Compact(sizes)
}

// TestHashSizes checks the parallel file hash and the one-pass copy hash
// against blake3.Sum256 and the b3sum binary, at every boundary.
func TestHashSizes(t *testing.T) {
	sizes := hashSizes()
	data, err := io.ReadAll(bytesOf(7, sizes[len(sizes)-1]))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := writeFile(t, dir, "src", data, 0o644)
	f, err := os.OpenFile(src, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, size := range slices.Backward(sizes) {
		if err := f.Truncate(int64(size)); err != nil {
			t.Fatal(err)
		}
		want := Hash(blake3.Sum256(data[:size]))
		if b3 := b3sum(t, "-", data[:size]); b3 != "" && b3 != want.String() {
			t.Fatalf("size %d: b3sum says %s, blake3.Sum256 %s", size, b3, want)
		}
		if got, err := hashFile(f, int64(size)); err != nil || got != want {
			t.Errorf("size %d: hashFile = %s, %v; want %s", size, got, err, want)
		}
		dst, err := os.Create(filepath.Join(dir, "dst"))
		if err != nil {
			t.Fatal(err)
		}
		got, n, err := copyHash(dst, &choppy{r: bytes.NewReader(data[:size])})
		dst.Close()
		if err != nil || got != want || n != int64(size) {
			t.Errorf("size %d: copyHash = %s, %d, %v; want %s", size, got, n, err, want)
		}
		if copied, _ := os.ReadFile(dst.Name()); !bytes.Equal(copied, data[:size]) {
			t.Errorf("size %d: the copy differs from the source", size)
		}
	}
}

// TestHashSparseFile hashes and adds a sparse file: the digest is that of
// its bytes (holes read as zeros) and the store's copy keeps the holes.
func TestHashSparseFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sparse.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	size := int64(40<<20 + 5)
	for _, off := range []int64{subtreeSize - 10, 17<<20 + 5, size - 3000} {
		if _, err := f.WriteAt(bytes.Repeat([]byte("silo"), 700), off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want := Hash(blake3.Sum256(data))
	if b3 := b3sum(t, p, nil); b3 != "" && b3 != want.String() {
		t.Fatalf("b3sum says %s, blake3.Sum256 %s", b3, want)
	}
	if got, err := hashFile(f, size); err != nil || got != want {
		t.Fatalf("hashFile = %s, %v; want %s", got, err, want)
	}
	f.Close()
	s := open(t)
	e, err := s.AddFile(p, AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if e.ContentHash != want || e.Size != size {
		t.Errorf("entry %s of %d bytes, want %s of %d", e.ContentHash, e.Size, want, size)
	}
	if e.DiskSize > 1<<20 {
		t.Errorf("the entry takes %d bytes on disk: its holes were filled", e.DiskSize)
	}
	if got, err := os.ReadFile(e.Path); err != nil || !bytes.Equal(got, data) {
		t.Errorf("the entry's bytes differ from the source (%v)", err)
	}
}

// TestHashFileChangedSize refuses a file that is not the size it was.
func TestHashFileChangedSize(t *testing.T) {
	for _, size := range []int{100, parMin + 5} {
		data, _ := io.ReadAll(bytesOf(size, size))
		p := writeFile(t, t.TempDir(), "f", data, 0o644)
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, claim := range []int64{int64(size) - 1, int64(size) + 1, int64(size) + subtreeSize} {
			if _, err := hashFile(f, claim); err == nil || !strings.Contains(err.Error(), "changed size") {
				t.Errorf("size %d read as %d: err %v, want a changed-size error", size, claim, err)
			}
		}
		f.Close()
	}
}

// TestAddFileTwiceLeavesNoCopy adds the same large content twice by copy:
// the second add finds it and drops its staged copy.
func TestAddFileTwiceLeavesNoCopy(t *testing.T) {
	s := open(t)
	data, _ := io.ReadAll(bytesOf(3, 3*subtreeSize+5))
	src := writeFile(t, t.TempDir(), "blob", data, 0o644)
	e1, err := s.AddFile(src, AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e2, err := s.AddReader(bytes.NewReader(data), AddOptions{Name: "blob"})
	if err != nil {
		t.Fatal(err)
	}
	if e1.Name != e2.Name || e1.ContentHash != HashBytes(data) {
		t.Fatalf("entries %s and %s, want both %s", e1.Name, e2.Name, storeName(HashBytes(data), "blob"))
	}
	left, _ := filepath.Glob(filepath.Join(s.tmp, s.id, "stage-*"))
	if len(left) != 0 {
		t.Errorf("staged copies left behind: %v", left)
	}
}

// choppy reads from r in uneven pieces, as a network stream does.
type choppy struct {
	r io.Reader
	i int
}

func (c *choppy) Read(p []byte) (int, error) {
	c.i++
	return c.r.Read(p[:min(len(p), 1+c.i*7919%(3<<20))])
}

// b3sum returns "blake3:<hex>" as the b3sum binary hashes path ("-" for
// stdin, fed with stdin), or "" when b3sum is not installed.
func b3sum(t *testing.T, path string, stdin []byte) string {
	t.Helper()
	if _, err := exec.LookPath("b3sum"); err != nil {
		t.Log("b3sum not installed: no comparison with it")
		return ""
	}
	cmd := exec.Command("b3sum", "--no-names", path)
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("b3sum: %v", err)
	}
	h := strings.TrimSpace(string(out))
	if _, err := hex.DecodeString(h); err != nil || len(h) != 64 {
		t.Fatalf("b3sum printed %q", out)
	}
	return hashPrefix + h
}

// TestHashConstants checks the alignments the parallel hasher relies on.
func TestHashConstants(t *testing.T) {
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"subtreeSize is 2^subtreeHeight chunks", subtreeSize == 1<<subtreeHeight*1024},
		{"readSize is whole groups", readSize%groupSize == 0},
		{"subtreeSize is whole reads", subtreeSize%readSize == 0},
		{"chunkSize is whole subtrees", chunkSize%subtreeSize == 0},
		{"chunkSize is whole sparse blocks", chunkSize%sparseBlock == 0},
	} {
		if !c.ok {
			t.Errorf("%s: it is not", c.name)
		}
	}
}
