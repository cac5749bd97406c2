package lsp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// MaxMessage bounds one message's body. A peer that announces more is cut
// off: silo holds one message in memory while it rewrites it, and the
// server inside the sandbox must not be able to make the host allocate
// without bound.
const MaxMessage = 128 << 20

// maxHeader bounds a message's header section.
const maxHeader = 16 << 10

// ErrFraming is wrapped by every error about a malformed stream.
var ErrFraming = errors.New("malformed LSP framing")

// Reader reads base-protocol messages: header lines ending in an empty
// line, then exactly Content-Length bytes of body.
type Reader struct {
	br  *bufio.Reader
	hdr []byte
	buf bytes.Buffer
}

// NewReader returns a Reader reading from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 64<<10)}
}

// Message is one framed message as it arrived. Header holds the header
// lines, line endings and the final empty line included; Length is where
// the Content-Length value sits in Header.
type Message struct {
	Header []byte
	Body   []byte
	lenAt  [2]int // Header[lenAt[0]:lenAt[1]] is the value's digits
}

// Next reads the next message. Header and Body stay valid until the next
// call. It returns io.EOF at a clean end of stream, between messages, and
// an error wrapping ErrFraming or io.ErrUnexpectedEOF otherwise.
func (r *Reader) Next() (*Message, error) {
	m := &Message{}
	r.hdr = r.hdr[:0]
	length := -1
	for {
		line, err := r.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull || len(r.hdr)+len(line) > maxHeader {
			return nil, fmt.Errorf("%w: header section longer than %d bytes", ErrFraming, maxHeader)
		}
		if err != nil {
			if err == io.EOF && len(r.hdr) == 0 && len(line) == 0 {
				return nil, io.EOF
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("read a message header: %w", err)
		}
		start := len(r.hdr)
		r.hdr = append(r.hdr, line...)
		content := bytes.TrimRight(line, "\r\n")
		if len(content) == 0 {
			break
		}
		n, at, err := contentLength(content)
		if err != nil {
			return nil, err
		}
		if at[0] >= 0 {
			if length >= 0 {
				return nil, fmt.Errorf("%w: two Content-Length headers", ErrFraming)
			}
			length, m.lenAt = n, [2]int{start + at[0], start + at[1]}
		}
	}
	if length < 0 {
		return nil, fmt.Errorf("%w: a message without Content-Length", ErrFraming)
	}
	r.buf.Reset()
	got, err := r.buf.ReadFrom(io.LimitReader(r.br, int64(length)))
	if err != nil {
		return nil, fmt.Errorf("read a message body: %w", err)
	}
	if got < int64(length) {
		return nil, fmt.Errorf("read a message body: %w (%d of %d bytes)", io.ErrUnexpectedEOF, got, length)
	}
	m.Header, m.Body = r.hdr, r.buf.Bytes()
	return m, nil
}

// contentLength parses one header line. at is where the value's digits
// sit in the line, or {-1,-1} when the line is another header.
func contentLength(line []byte) (n int, at [2]int, err error) {
	colon := bytes.IndexByte(line, ':')
	if colon < 0 {
		return 0, at, fmt.Errorf("%w: header line %q has no colon", ErrFraming, clip(line))
	}
	if !bytes.EqualFold(bytes.TrimSpace(line[:colon]), []byte("Content-Length")) {
		return 0, [2]int{-1, -1}, nil
	}
	v := line[colon+1:]
	lo := colon + 1 + len(v) - len(bytes.TrimLeft(v, " \t"))
	hi := colon + 1 + len(bytes.TrimRight(v, " \t"))
	if lo >= hi {
		return 0, at, fmt.Errorf("%w: empty Content-Length", ErrFraming)
	}
	n, perr := strconv.Atoi(string(line[lo:hi]))
	if perr != nil || n < 0 || line[lo] == '+' || line[lo] == '-' {
		return 0, at, fmt.Errorf("%w: Content-Length %q is not a byte count", ErrFraming, clip(line[lo:hi]))
	}
	if n > MaxMessage {
		return 0, at, fmt.Errorf("%w: a message of %d bytes (at most %d)", ErrFraming, n, MaxMessage)
	}
	return n, [2]int{lo, hi}, nil
}

// clip shortens b for an error message.
func clip(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

// AppendFrame appends m with body as its body to dst: the header lines as
// they arrived, with only the Content-Length value changed, and only when
// body's length differs from the original's.
func AppendFrame(dst []byte, m *Message, body []byte) []byte {
	if len(body) == len(m.Body) {
		dst = append(dst, m.Header...)
	} else {
		dst = append(dst, m.Header[:m.lenAt[0]]...)
		dst = strconv.AppendInt(dst, int64(len(body)), 10)
		dst = append(dst, m.Header[m.lenAt[1]:]...)
	}
	return append(dst, body...)
}
