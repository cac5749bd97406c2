package qemu

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// The parts of QEMU's migration stream (migration/savevm.c, ram.c) that
// compactStream reads.
const (
	streamMagic      = "QEVM"
	streamVersion    = 3
	secConfiguration = 0x07
	secStart         = 0x01
	secPart          = 0x02
	secEnd           = 0x03
	secFooter        = 0x7e

	ramFlagZero     = 0x02
	ramFlagMemSize  = 0x04
	ramFlagPage     = 0x08
	ramFlagEOS      = 0x10
	ramFlagContinue = 0x20
	ramFlagMask     = 0xfff // the flags live in a page address's low bits
	ramPageSize     = 4096
)

// errStreamShape says that a migration stream holds something
// compactStream does not know; the stream is then kept as it is.
var errStreamShape = errors.New("unexpected migration stream")

// compactFile rewrites the migration stream at path without its zero
// pages (compactStream), in place; a stream of another shape is left as
// it is. keep are the guest-physical ranges whose zero pages stay.
func compactFile(path string, keep []addrRange) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := path + ".compact"
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	w := bufio.NewWriterSize(out, 1<<20)
	err = compactStream(bufio.NewReaderSize(in, 1<<20), w, keep)
	if err == nil {
		err = w.Flush()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, errStreamShape) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("compact the VM snapshot: %w", err)
	}
	return os.Rename(tmp, path)
}

// addrRange is a guest-physical range [start, end).
type addrRange struct{ start, end uint64 }

// compactStream copies a QEMU migration stream from r to w without the
// records of the guest RAM's pages that are zero and were not sent
// before: a restoring QEMU starts from zeroed RAM, so they carry nothing,
// yet it checks each such page of its own (a 2 GiB guest has half a
// million) on load. The guest RAM is the largest RAM block; zero pages
// of the others (firmware, ACPI tables: not zero in a new QEMU) and of
// keep (where QEMU itself loads the kernel) are kept. Everything else is
// copied byte for byte. It fails with errStreamShape on a stream it does
// not know (the RAM section not first, a RAM record it cannot size),
// having written part of w.
func compactStream(r *bufio.Reader, w io.Writer, keep []addrRange) error {
	c := &compactor{r: r, w: w, sent: map[ramPage]bool{}, keep: keep}
	return c.run()
}

// run copies the stream, leaving out or diverting the guest RAM's records
// as c says.
func (c *compactor) run() error {
	r, w := c.r, c.w
	hdr := make([]byte, 8)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return err
	}
	if string(hdr[:4]) != streamMagic || binary.BigEndian.Uint32(hdr[4:]) != streamVersion {
		return errStreamShape
	}
	c.put(hdr)
	marker, err := r.ReadByte()
	if err != nil {
		return err
	}
	if marker == secConfiguration {
		lb := c.be(4)
		name, err := c.bytes(int(binary.BigEndian.Uint32(lb)))
		if err != nil {
			return err
		}
		c.put([]byte{marker})
		c.put(lb)
		c.put(name)
		if marker, err = r.ReadByte(); err != nil {
			return err
		}
	}
	if marker != secStart {
		return errStreamShape
	}
	id, err := c.ramStart()
	if err != nil {
		return err
	}
	for {
		if err := c.ramSection(id); err != nil {
			return err
		}
		marker, err := r.ReadByte()
		if err != nil {
			return err
		}
		if (marker == secPart || marker == secEnd) && c.peekID() == id {
			c.put([]byte{marker})
			c.put(c.be(4))
			continue
		}
		// The devices' state, and the end: copied as they are.
		c.put([]byte{marker})
		if c.err != nil {
			return c.err
		}
		_, err = io.Copy(w, r)
		return err
	}
}

// ramPage is one page of one RAM block.
type ramPage struct {
	block string
	addr  uint64
}

type compactor struct {
	r   *bufio.Reader
	w   io.Writer
	err error
	// image, when set, takes the guest RAM's pages instead of w
	// (splitStream): each written at its offset in the block.
	image io.WriterAt
	sent  map[ramPage]bool // pages a record with content was kept for
	block string           // the block r's records are of
	ram   string           // the guest RAM: the largest block
	size  uint64           // its size
	keep  []addrRange
}

// droppable reports whether p's zero page may be left out.
func (c *compactor) droppable(p ramPage) bool {
	if p.block != c.ram {
		return false
	}
	for _, k := range c.keep {
		if p.addr+ramPageSize > k.start && p.addr < k.end {
			return false
		}
	}
	return true
}

func (c *compactor) put(b []byte) {
	if c.err == nil {
		_, c.err = c.w.Write(b)
	}
}

func (c *compactor) bytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(c.r, b); err != nil {
		c.err = err
		return nil, err
	}
	return b, nil
}

// be reads n big-endian bytes (zeros after an error, which c.err keeps).
func (c *compactor) be(n int) []byte {
	b, err := c.bytes(n)
	if err != nil {
		return make([]byte, n)
	}
	return b
}

// peekID is the section id the reader is at.
func (c *compactor) peekID() uint32 {
	b, err := c.r.Peek(4)
	if err != nil {
		return ^uint32(0)
	}
	return binary.BigEndian.Uint32(b)
}

// ramStart copies the header of the section start it is at, which must be
// "ram"'s, and returns its id.
func (c *compactor) ramStart() (uint32, error) {
	idb := c.be(4)
	n, err := c.r.ReadByte()
	if err != nil {
		return 0, err
	}
	name, err := c.bytes(int(n))
	if err != nil {
		return 0, err
	}
	if string(name) != "ram" {
		return 0, errStreamShape
	}
	c.put([]byte{secStart})
	c.put(idb)
	c.put([]byte{n})
	c.put(name)
	c.put(c.be(8)) // instance, version
	return binary.BigEndian.Uint32(idb), c.err
}

// ramSection copies RAM records up to the section's end of stream and its
// footer, leaving out the zero pages never sent with content.
func (c *compactor) ramSection(id uint32) error {
	// QEMU's records go on naming the block of the section before; w's
	// name it again at each section's start.
	emitted := ""
	for c.err == nil {
		hdr := binary.BigEndian.Uint64(c.be(8))
		flags, addr := hdr&ramFlagMask, hdr&^ramFlagMask
		switch {
		case c.err != nil:
		case flags == ramFlagEOS:
			c.put(c.be8(hdr))
			return c.footer(id)
		case flags == ramFlagMemSize:
			c.put(c.be8(hdr))
			c.memSize(addr)
		case flags&^ramFlagContinue == ramFlagZero || flags&^ramFlagContinue == ramFlagPage:
			if flags&ramFlagContinue == 0 {
				n, _ := c.r.ReadByte()
				name, _ := c.bytes(int(n))
				c.block = string(name)
			} else if c.block == "" {
				return errStreamShape
			}
			block := c.block
			page := ramPage{block, addr}
			var body []byte
			if flags&ramFlagZero != 0 {
				body = c.be(1)
				if body[0] == 0 && !c.sent[page] && c.droppable(page) {
					continue
				}
			} else {
				body = c.be(ramPageSize)
			}
			if c.image != nil && block == c.ram {
				c.toImage(page, body)
				continue
			}
			c.sent[page] = true
			if block == emitted {
				c.put(c.be8(addr | flags | ramFlagContinue))
			} else {
				c.put(c.be8(addr | flags&^ramFlagContinue))
				c.put([]byte{byte(len(block))})
				c.put([]byte(block))
				emitted = block
			}
			c.put(body)
		default:
			return errStreamShape
		}
	}
	return c.err
}

func (c *compactor) be8(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// memSize copies the RAM block list of a MEM_SIZE record: names and
// lengths until they add up to total.
func (c *compactor) memSize(total uint64) {
	for sum := uint64(0); sum < total && c.err == nil; {
		n, err := c.r.ReadByte()
		if err != nil {
			c.err = err
			return
		}
		name, _ := c.bytes(int(n))
		l := c.be(8)
		c.put([]byte{n})
		c.put(name)
		c.put(l)
		size := binary.BigEndian.Uint64(l)
		if size > c.size {
			c.ram, c.size = string(name), size
		}
		sum += size
	}
}

// footer copies the section footer of id.
func (c *compactor) footer(id uint32) error {
	m, err := c.r.ReadByte()
	if err != nil {
		return err
	}
	if m != secFooter || c.peekID() != id {
		return errStreamShape
	}
	c.put([]byte{m})
	c.put(c.be(4))
	return c.err
}

// kernelRanges are where QEMU loads the PVH vmlinux at path into guest
// RAM (its loadable segments), which a restoring QEMU may do too.
func kernelRanges(path string) ([]addrRange, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read the kernel's segments: %w", err)
	}
	defer f.Close()
	var out []addrRange
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			out = append(out, addrRange{p.Paddr, p.Paddr + p.Memsz})
		}
	}
	return out, nil
}

// ramBlockID is the id of the guest RAM's memory backend in a machine
// that stops at its snapshot point: the name of its RAM block in the
// migration stream.
const ramBlockID = "silo-ram"

// splitStream copies the migration stream r to dev without the records of
// the guest RAM (RAM block ramBlockID), whose pages it writes into image
// at their offsets instead, as compactStream would have kept them: image
// is then the guest RAM as a file, holes where it is zero, which a
// restoring QEMU maps (memory-backend-file, share=off) instead of loading
// it page by page, and dev the rest of the stream (the devices' state,
// the other RAM blocks). It fails with errStreamShape on a stream it does
// not know or whose largest RAM block is not ramBlockID, and returns the
// guest RAM's size.
func splitStream(r *bufio.Reader, dev io.Writer, image io.WriterAt) (uint64, error) {
	c := &compactor{r: r, w: dev, sent: map[ramPage]bool{}, image: image}
	if err := c.run(); err != nil {
		return 0, err
	}
	if c.ram != ramBlockID {
		return 0, errStreamShape
	}
	return c.size, nil
}

// toImage writes one record of the guest RAM into c.image: a page's
// content, or a filled page (a page that was sent before and is zero now
// is written as zeros).
func (c *compactor) toImage(p ramPage, body []byte) {
	if c.ram != ramBlockID {
		c.err = errStreamShape
		return
	}
	if len(body) == 1 {
		if body[0] == 0 && !c.sent[p] {
			return
		}
		body = bytes.Repeat(body, ramPageSize)
	}
	c.sent[p] = true
	if c.err == nil {
		_, c.err = c.image.WriteAt(body, int64(p.addr))
	}
}
