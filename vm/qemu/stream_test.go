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

func TestCompactStream(t *testing.T) {
	var s streamBuilder
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
	s.str("mem")
	s.u64(0x10000)
	s.rec("mem", 0x0000, 7, true)   // kept
	s.rec("", 0x1000, 0, false)     // dropped
	s.rec("bios", 0x0000, 0, false) // kept: not the guest RAM
	s.rec("mem", 0x2000, 0, false)  // dropped, with the block's name
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
	devices := []byte{0x04, 0, 0, 0, 3, 3, 'd', 'e', 'v', 0x10, 0x11, 0x1f}
	s.Write(devices)

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
