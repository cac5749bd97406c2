package kernel

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func compress(t *testing.T, c Compression, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	switch c {
	case Gzip:
		w := gzip.NewWriter(&out)
		w.Write(b)
		w.Close()
	case Zstd:
		w, _ := zstd.NewWriter(&out)
		w.Write(b)
		w.Close()
		out.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(b)))) // size_append
	case XZ:
		// As the kernel's scripts/xz_wrap.sh does: BCJ x86 filter, crc32.
		cmd := exec.Command("xz", "--format=xz", "--check=crc32", "--x86", "--lzma2=dict=1MiB", "-c")
		cmd.Stdin = bytes.NewReader(b)
		cmd.Stdout = &out
		if err := cmd.Run(); err != nil {
			t.Skipf("xz(1) unavailable: %v", err)
		}
		out.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(b))))
	}
	return out.Bytes()
}

func TestExtractVmlinux(t *testing.T) {
	pvh := tinyELF("Xen", xenElfnotePhys32Entry)
	noPVH := tinyELF("GNU", 3)
	arm64 := make([]byte, 4096)
	copy(arm64[0x38:], "ARM\x64")
	tests := []struct {
		name    string
		img     []byte
		want    Compression
		wantErr string
	}{
		{"arm64 Image", arm64, None, ""},
		{"gzip arm64 Image", compressRaw(t, arm64), Gzip, ""},
		{"gzip of something else", compressRaw(t, []byte("hello")), "", "no arm64 kernel Image"},
		{"gzip", fakeBzImage(compress(t, Gzip, pvh), "6.9.0-test"), Gzip, ""},
		{"zstd", fakeBzImage(compress(t, Zstd, pvh), "6.9.0-test"), Zstd, ""},
		{"xz", fakeBzImage(compress(t, XZ, pvh), "6.9.0-test"), XZ, ""},
		{"plain vmlinux", pvh, None, ""},
		{"no PVH note", fakeBzImage(compress(t, Gzip, noPVH), "x"), "", "no PVH entry point"},
		{"bzip2", fakeBzImage([]byte("BZh91AY&SY garbage"), "x"), "", "unsupported kernel payload compression"},
		{"truncated", truncate(fakeBzImage(compress(t, Gzip, pvh), "x"), 10), "", "truncated or corrupt"},
		{"not a kernel", []byte(strings.Repeat("hello", 200)), "", "not a Linux kernel"},
		{"corrupt gzip", fakeBzImage(append([]byte{0x1f, 0x8b, 8, 0}, bytes.Repeat([]byte{0xff}, 64)...), "x"), "", "decompress the gzip kernel payload"},
		{"payload not ELF", fakeBzImage(compress(t, Gzip, []byte("just text, no ELF here")), "x"), "", "not an ELF vmlinux"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, c, err := ExtractVmlinux(tt.img)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := pvh
			if strings.Contains(tt.name, "arm64") {
				want = arm64
			}
			if c != tt.want || !bytes.Equal(out, want) {
				t.Fatalf("got %s, %d bytes; want %s and the original ELF", c, len(out), tt.want)
			}
		})
	}
}

// compressRaw gzips b, with no kernel size appended.
func compressRaw(t *testing.T, b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func truncate(b []byte, n int) []byte { return b[:len(b)-n] }

func TestKernelVersion(t *testing.T) {
	if v := KernelVersion(fakeBzImage(nil, "6.9.0-test (me@host) #1")); v != "6.9.0-test (me@host) #1" {
		t.Fatalf("version %q", v)
	}
	if v := KernelVersion([]byte("short")); v != "" {
		t.Fatalf("version of garbage: %q", v)
	}
}

// TestExtractDebianKernel extracts the real Debian kernel: xz with the BCJ
// filter, PVH note present.
func TestExtractDebianKernel(t *testing.T) {
	vmlinuz, _ := debianKernel(t)
	img, err := os.ReadFile(vmlinuz)
	if err != nil {
		t.Fatal(err)
	}
	out, c, err := ExtractVmlinux(img)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if c != XZ || f.Machine != elf.EM_X86_64 || !hasPVHNote(f) {
		t.Fatalf("compression %s machine %s pvh %v", c, f.Machine, hasPVHNote(f))
	}
	if v := KernelVersion(img); !strings.Contains(v, "amd64") {
		t.Fatalf("version %q", v)
	}
}
