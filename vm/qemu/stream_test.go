package qemu

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"
)

// streamBuilder writes a migration stream of the shape QEMU 7.2 writes.
type streamBuilder struct{ bytes.Buffer }

func (s *streamBuilder) u8(v byte)    { s.WriteByte(v) }
func (s *streamBuilder) u32(v uint32) { s.Write(binary.BigEndian.AppendUint32(nil, v)) }
func (s *streamBuilder) u64(v uint64) { s.Write(binary.BigEndian.AppendUint64(nil, v)) }
func (s *streamBuilder) str(v string) { s.u8(byte(len(v))); s.WriteString(v) }

// rec writes a RAM record; block "" continues the last one.
func (s *streamBuilder) rec(block string, addr uint64, data byte, full bool) {
	flags := uint64(ramFlagZero)
	if full {
		flags = ramFlagPage
	}
	if block == "" {
		flags |= ramFlagContinue
	}
	s.u64(addr | flags)
	if block != "" {
		s.str(block)
	}
	if full {
		s.Write(bytes.Repeat([]byte{data}, ramPageSize))
	} else {
		s.u8(data)
	}
}

func (s *streamBuilder) eos() { s.u64(ramFlagEOS); s.u8(secFooter); s.u32(2) }

// readRecords decodes the RAM records of a stream compactStream wrote, as
// "block@page:kind", and returns what follows the RAM sections.
func readRecords(t *testing.T, b []byte) (recs []string, tail []byte) {
	t.Helper()
	r := bytes.NewReader(b)
	next := func(n int) []byte {
		p := make([]byte, n)
		if _, err := r.Read(p); err != nil {
			t.Fatalf("short stream: %v", err)
		}
		return p
	}
	next(8 + 1 + 4 + 7)     // header, configuration
	next(1 + 4 + 4 + 4 + 4) // start, id, "ram", instance, version
	block := ""
	for {
		hdr := binary.BigEndian.Uint64(next(8))
		flags, addr := hdr&ramFlagMask, hdr&^ramFlagMask
		switch {
		case flags == ramFlagMemSize:
			for sum := uint64(0); sum < addr; {
				n := next(1)[0]
				next(int(n))
				sum += binary.BigEndian.Uint64(next(8))
			}
			continue
		case flags == ramFlagEOS:
			next(5) // footer
			m, _ := r.ReadByte()
			if m == secPart || m == secEnd {
				next(4)
				if flags := binary.BigEndian.Uint64(b[len(b)-r.Len():]) & ramFlagMask; flags&ramFlagContinue != 0 {
					t.Errorf("a section of the compacted stream starts with a record that names no block")
				}
				continue
			}
			r.UnreadByte()
			return recs, b[len(b)-r.Len():]
		}
		if flags&ramFlagContinue == 0 {
			block = string(next(int(next(1)[0])))
		}
		kind := "zero"
		if flags&ramFlagPage != 0 {
			next(ramPageSize)
			kind = "page"
		} else {
			next(1)
		}
		recs = append(recs, fmt.Sprintf("%s@%d:%s", block, addr/ramPageSize, kind))
	}
}

// testStream is a stream of two RAM blocks, bios and ram (the guest RAM),
// the second's records as compactStream's test comments say.
func testStream(ram string) (s *streamBuilder, devices []byte) {
	s = &streamBuilder{}
	s.WriteString(streamMagic)
	s.u32(streamVersion)
	s.u8(secConfiguration)
	s.u32(7)
	s.WriteString("microvm")
	s.u8(secStart)
	s.u32(2)
	s.str("ram")
	s.u32(0)
	s.u32(4)
	s.u64(0x12000 | ramFlagMemSize)
	s.str("bios")
	s.u64(0x2000)
	s.str(ram)
	s.u64(0x10000)
	s.rec(ram, 0x0000, 7, true)     // kept
	s.rec("", 0x1000, 0, false)     // dropped
	s.rec("bios", 0x0000, 0, false) // kept: not the guest RAM
	s.rec(ram, 0x2000, 0, false)    // dropped, with the block's name
	s.rec("", 0x0000, 0, false)     // kept: sent with content before
	s.rec("", 0x4000, 9, false)     // kept: not zero
	s.eos()
	s.u8(secPart)
	s.u32(2)
	s.rec("", 0x3000, 0, false) // kept: the kernel's range
	s.rec("", 0x5000, 0, false) // dropped
	s.rec("", 0x6000, 1, true)  // kept, names its block again
	s.eos()
	s.u8(secEnd)
	s.u32(2)
	s.eos()
	devices = []byte{0x04, 0, 0, 0, 3, 3, 'd', 'e', 'v', 0x10, 0x11, 0x1f}
	s.Write(devices)
	return s, devices
}

func TestCompactStream(t *testing.T) {
	s, devices := testStream("mem")
	var out bytes.Buffer
	if err := compactStream(bufio.NewReader(bytes.NewReader(s.Bytes())), &out, []addrRange{{0x3000, 0x3800}}); err != nil {
		t.Fatal(err)
	}
	recs, tail := readRecords(t, out.Bytes())
	want := []string{"mem@0:page", "bios@0:zero", "mem@0:zero", "mem@4:zero", "mem@3:zero", "mem@6:page"}
	if !slices.Equal(recs, want) {
		t.Errorf("records %v, want %v", recs, want)
	}
	if !bytes.Equal(tail, devices) {
		t.Errorf("the devices' state became %x, want %x", tail, devices)
	}

	// A record it cannot size: the stream is refused, to be kept as it is.
	bad := slices.Clone(s.Bytes())
	i := bytes.Index(bad, []byte("mem")) + 3 + 8 // the first record, after the block list
	binary.BigEndian.PutUint64(bad[i:], 0x100)   // a compressed page
	if err := compactStream(bufio.NewReader(bytes.NewReader(bad)), &bytes.Buffer{}, nil); !errors.Is(err, errStreamShape) {
		t.Errorf("a stream with a compressed page: %v, want errStreamShape", err)
	}
}

// memFile is an io.WriterAt in memory.
type memFile struct{ b []byte }

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	if n := int(off) + len(p); n > len(f.b) {
		f.b = append(f.b, make([]byte, n-len(f.b))...)
	}
	return copy(f.b[off:], p), nil
}

func TestSplitStream(t *testing.T) {
	s, devices := testStream(ramBlockID)
	var dev bytes.Buffer
	var ram memFile
	size, err := splitStream(bufio.NewReader(bytes.NewReader(s.Bytes())), &dev, &ram)
	if err != nil {
		t.Fatal(err)
	}
	if size != 0x10000 {
		t.Errorf("RAM size %#x, want 0x10000", size)
	}
	// Only the other block's records stay in the stream.
	recs, tail := readRecords(t, dev.Bytes())
	if want := []string{"bios@0:zero"}; !slices.Equal(recs, want) {
		t.Errorf("records %v, want %v", recs, want)
	}
	if !bytes.Equal(tail, devices) {
		t.Errorf("the devices' state became %x, want %x", tail, devices)
	}
	// The RAM file holds each page as the stream left it: page 0 sent
	// with content, then as zero; page 4 filled with 9; page 6 with 1.
	want := make([]byte, 7*ramPageSize)
	copy(want[4*ramPageSize:], bytes.Repeat([]byte{9}, ramPageSize))
	copy(want[6*ramPageSize:], bytes.Repeat([]byte{1}, ramPageSize))
	got := append(ram.b, make([]byte, max(0, len(want)-len(ram.b)))...)
	if !bytes.Equal(got, want) {
		t.Errorf("the RAM file differs from the stream's pages")
	}

	// A stream whose guest RAM is not the silo backend's is refused.
	other, _ := testStream("pc.ram")
	if _, err := splitStream(bufio.NewReader(bytes.NewReader(other.Bytes())), &bytes.Buffer{}, &memFile{}); !errors.Is(err, errStreamShape) {
		t.Errorf("a stream of another RAM block: %v, want errStreamShape", err)
	}
}
