package kernel

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/xi2/xz"
)

// maxVmlinux bounds the decompressed kernel, so that a hostile payload
// cannot exhaust memory.
const maxVmlinux = 512 << 20

// Compression names a bzImage payload's compression.
type Compression string

// The payload compressions ExtractVmlinux understands.
const (
	None Compression = "none"
	XZ   Compression = "xz"
	Gzip Compression = "gzip"
	Zstd Compression = "zstd"
)

var magics = []struct {
	c     Compression
	magic []byte
}{
	{XZ, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
	{Gzip, []byte{0x1f, 0x8b}},
	{Zstd, []byte{0x28, 0xb5, 0x2f, 0xfd}},
}

// ExtractVmlinux returns the uncompressed ELF vmlinux inside img, which is
// either a bzImage (vmlinuz) or already a vmlinux, and the compression its
// payload used. The result is checked to be an x86-64 or arm64 ELF with a
// PVH entry point on x86-64, which qemu's microvm machine needs.
//
// An arm64 kernel is an Image (the "ARM\x64" magic at 0x38), as is or
// gzip-compressed as Debian ships it; it is returned uncompressed.
func ExtractVmlinux(img []byte) ([]byte, Compression, error) {
	if bytes.HasPrefix(img, []byte(elf.ELFMAG)) {
		return img, None, checkVmlinux(img)
	}
	if isArm64Image(img) {
		return img, None, nil
	}
	if bytes.HasPrefix(img, magics[1].magic) {
		out, err := decompress(Gzip, img)
		if err != nil {
			return nil, "", fmt.Errorf("decompress the gzip kernel: %w", err)
		}
		if !isArm64Image(out) {
			return nil, "", errors.New("a gzip file that holds no arm64 kernel Image: not a Linux kernel")
		}
		return out, Gzip, nil
	}
	payload, err := bzPayload(img)
	if err != nil {
		return nil, "", err
	}
	for _, m := range magics {
		if !bytes.HasPrefix(payload, m.magic) {
			continue
		}
		out, err := decompress(m.c, payload)
		if err != nil {
			return nil, "", fmt.Errorf("decompress the %s kernel payload: %w", m.c, err)
		}
		return out, m.c, checkVmlinux(out)
	}
	n := min(len(payload), 6)
	return nil, "", fmt.Errorf("unsupported kernel payload compression (magic % x): silo reads xz, gzip and zstd kernels", payload[:n])
}

// isArm64Image reports whether b is an arm64 Linux Image
// (Documentation/arch/arm64/booting.rst: magic "ARM\x64" at offset 0x38).
func isArm64Image(b []byte) bool {
	return len(b) >= 0x40 && string(b[0x38:0x3c]) == "ARM\x64"
}

// bzPayload locates the compressed payload of an x86 bzImage through its
// setup header (Documentation/arch/x86/boot.rst).
func bzPayload(img []byte) ([]byte, error) {
	if len(img) < 0x250 || string(img[0x202:0x206]) != "HdrS" {
		return nil, errors.New("not a Linux kernel: no bzImage header and no ELF magic")
	}
	if v := binary.LittleEndian.Uint16(img[0x206:]); v < 0x208 {
		return nil, fmt.Errorf("bzImage boot protocol %#x is too old (need 2.08 or later)", v)
	}
	setup := int(img[0x1f1])
	if setup == 0 {
		setup = 4
	}
	off := int(binary.LittleEndian.Uint32(img[0x248:]))
	n := int(binary.LittleEndian.Uint32(img[0x24c:]))
	start := (setup+1)*512 + off
	if off < 0 || n <= 0 || start < 0 || start+n > len(img) || start+n < start {
		return nil, fmt.Errorf("bzImage payload [%d, +%d) lies outside the %d-byte file: the kernel is truncated or corrupt", start, n, len(img))
	}
	return img[start : start+n], nil
}

// decompress reads the first stream of payload: kernels append the
// uncompressed size after it, which is not part of the stream.
func decompress(c Compression, payload []byte) ([]byte, error) {
	var r io.Reader
	switch c {
	case XZ:
		xr, err := xz.NewReader(bytes.NewReader(payload), 0)
		if err != nil {
			return nil, err
		}
		xr.Multistream(false)
		r = xr
	case Gzip:
		gr, err := gzip.NewReader(bytes.NewReader(payload))
		if err != nil {
			return nil, err
		}
		gr.Multistream(false)
		r = gr
	case Zstd:
		// The kernel appends a 4-byte size after the zstd frame.
		if len(payload) > 4 {
			payload = payload[:len(payload)-4]
		}
		zr, err := zstd.NewReader(bytes.NewReader(payload), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxVmlinux))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	}
	var out bytes.Buffer
	n, err := io.Copy(&out, io.LimitReader(r, maxVmlinux+1))
	if err != nil {
		return nil, err
	}
	if n > maxVmlinux {
		return nil, fmt.Errorf("decompressed kernel exceeds %d MiB", maxVmlinux>>20)
	}
	return out.Bytes(), nil
}

// checkVmlinux checks that b is a bootable vmlinux: an ELF executable for
// x86-64 carrying the Xen PVH entry note, or for arm64.
func checkVmlinux(b []byte) error {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("the kernel payload is not an ELF vmlinux: %w", err)
	}
	defer f.Close()
	switch f.Machine {
	case elf.EM_AARCH64:
		return nil
	case elf.EM_X86_64:
		if !hasPVHNote(f) {
			return errors.New("the kernel has no PVH entry point (build it with CONFIG_PVH=y): qemu -M microvm cannot boot it")
		}
		return nil
	default:
		return fmt.Errorf("the kernel is built for %s; silo boots x86-64 and arm64 kernels", f.Machine)
	}
}

// xenElfnotePhys32Entry is XEN_ELFNOTE_PHYS32_ENTRY, the PVH entry point.
const xenElfnotePhys32Entry = 18

// hasPVHNote reports whether f has a "Xen" note of type PHYS32_ENTRY.
func hasPVHNote(f *elf.File) bool {
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(p.Open(), 1<<20))
		if err != nil {
			continue
		}
		for len(data) >= 12 {
			nsz := int(f.ByteOrder.Uint32(data[0:]))
			dsz := int(f.ByteOrder.Uint32(data[4:]))
			typ := f.ByteOrder.Uint32(data[8:])
			data = data[12:]
			descEnd := align4(nsz) + align4(dsz)
			if nsz < 0 || dsz < 0 || descEnd > len(data) {
				break
			}
			if typ == xenElfnotePhys32Entry && string(bytes.TrimRight(data[:nsz], "\x00")) == "Xen" {
				return true
			}
			data = data[descEnd:]
		}
	}
	return false
}

func align4(n int) int { return (n + 3) &^ 3 }

// KernelVersion returns the version string a bzImage records in its setup
// header ("6.1.0-56-amd64 (debian-kernel@…) #1 SMP …"), or "" if none.
func KernelVersion(img []byte) string {
	if len(img) < 0x210 || string(img[0x202:0x206]) != "HdrS" {
		return ""
	}
	off := int(binary.LittleEndian.Uint16(img[0x20e:]))
	if off == 0 || off+0x200 >= len(img) {
		return ""
	}
	s := img[off+0x200:]
	if i := bytes.IndexByte(s, 0); i >= 0 && i < 256 {
		s = s[:i]
	} else {
		return ""
	}
	return string(s)
}
