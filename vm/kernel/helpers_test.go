package kernel

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// debianKernel returns the vmlinuz and modules directory fetched by
// scripts/fetch-kernel.sh, or skips the test.
func debianKernel(t testing.TB) (vmlinuz, modules string) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", ".cache", "kernel")
	imgs, _ := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	mods, _ := filepath.Glob(filepath.Join(root, "lib", "modules", "*"))
	if len(imgs) == 0 || len(mods) == 0 {
		t.Skip("no kernel in .cache/kernel: run scripts/fetch-kernel.sh (make kernel)")
	}
	return imgs[0], mods[0]
}

// tinyELF returns a minimal x86-64 ELF executable with one PT_NOTE segment
// holding a note of type typ named name.
func tinyELF(name string, typ uint32) []byte {
	note := make([]byte, 12)
	binary.LittleEndian.PutUint32(note[0:], uint32(len(name)+1))
	binary.LittleEndian.PutUint32(note[4:], 4)
	binary.LittleEndian.PutUint32(note[8:], typ)
	n := append([]byte(name), 0)
	for len(n)%4 != 0 {
		n = append(n, 0)
	}
	note = append(note, n...)
	note = binary.LittleEndian.AppendUint32(note, 0x1000000)

	const ehsize, phsize = 64, 56
	b := make([]byte, ehsize+phsize)
	copy(b, "\x7fELF")
	b[4], b[5], b[6] = 2, 1, 1 // 64-bit, little-endian, version 1
	le := binary.LittleEndian
	le.PutUint16(b[16:], 2)  // ET_EXEC
	le.PutUint16(b[18:], 62) // EM_X86_64
	le.PutUint32(b[20:], 1)
	le.PutUint64(b[32:], ehsize) // phoff
	le.PutUint16(b[52:], ehsize)
	le.PutUint16(b[54:], phsize)
	le.PutUint16(b[56:], 1) // phnum
	le.PutUint16(b[58:], 64)
	ph := b[ehsize:]
	le.PutUint32(ph[0:], 4) // PT_NOTE
	le.PutUint64(ph[8:], ehsize+phsize)
	le.PutUint64(ph[32:], uint64(len(note)))
	le.PutUint64(ph[40:], uint64(len(note)))
	le.PutUint64(ph[48:], 4)
	return append(b, note...)
}

// fakeBzImage wraps payload in a bzImage setup header with one setup
// sector, and a version string.
func fakeBzImage(payload []byte, version string) []byte {
	const setupSects = 1
	b := make([]byte, (setupSects+1)*512)
	b[0x1f1] = setupSects
	copy(b[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(b[0x206:], 0x020f)
	binary.LittleEndian.PutUint16(b[0x20e:], 0x300-0x200)
	copy(b[0x300:], version+"\x00")
	binary.LittleEndian.PutUint32(b[0x248:], 64) // payload_offset
	binary.LittleEndian.PutUint32(b[0x24c:], uint32(len(payload)))
	b = append(b, make([]byte, 64)...)
	return append(b, payload...)
}

func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
