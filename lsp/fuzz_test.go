package lsp

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"
)

// segments splits body into its string tokens and what lies between, the
// way Rewrite scans it.
func outside(body []byte) []byte {
	var out []byte
	for i := 0; i < len(body); {
		if body[i] != '"' {
			out = append(out, body[i])
			i++
			continue
		}
		end, _ := stringEnd(body, i)
		if end < 0 {
			return append(out, body[i:]...)
		}
		out = append(out, '"', '"')
		i = end
	}
	return out
}

// FuzzRewrite: no input panics; bytes outside string tokens never change;
// a message that names neither root comes out as it went in; mapping to
// the guest and back restores a message with no escapes and no guest path.
func FuzzRewrite(f *testing.F) {
	for _, s := range []string{
		`{"rootUri":"file:///home/u/proj","rootPath":"/home/u/proj"}`,
		`{"uri":"file:\/\/\/home\/u\/proj\/a.py","text":"/home/u/proj"}`,
		`[{"method":"exit"},{"a":"file:///home/u/proj/%C3%A9?x#y"}]`,
		`{"value":"see [b](file:///home/u/proj/b.py) and file:///home/u/proj"}`,
		`"\\\"" "/home/u/proj/x\u00e9"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m := NewMapper("/workspace", "/home/u/proj")
		g, _ := m.Rewrite(nil, body, ToGuest)
		if !bytes.Equal(outside(g), outside(body)) {
			t.Fatalf("bytes outside strings changed:\n%q\n%q", body, g)
		}
		if !bytes.Contains(body, []byte("proj")) && !bytes.Contains(body, []byte(`\`)) && !bytes.Equal(g, body) {
			t.Fatalf("a message without the root changed:\n%q\n%q", body, g)
		}
		if bytes.Contains(body, []byte("workspace")) || bytes.Contains(body, []byte(`\`)) || bytes.Contains(body, []byte("%")) {
			return
		}
		h, _ := m.Rewrite(nil, g, ToHost)
		if !bytes.Equal(h, body) {
			t.Fatalf("round trip:\n%q\n%q\n%q", body, g, h)
		}
	})
}

// FuzzFrame: any byte stream, split anyhow, is either passed through
// message by message or refused with an error; never a panic, and a stream
// that names no root comes out byte for byte.
func FuzzFrame(f *testing.F) {
	f.Add([]byte(frame(`{"a":"file:///home/u/proj/x"}`) + frame(`[1,2]`)))
	f.Add([]byte("Content-Length: 3\r\nX: y\r\n\r\n{}}Content-Length: 0\r\n\r\n"))
	f.Add([]byte("content-length:2\n\n{}"))
	f.Fuzz(func(t *testing.T, stream []byte) {
		m := NewMapper("/workspace", "/home/u/proj")
		var out bytes.Buffer
		err := m.Copy(&out, iotest.HalfReader(bytes.NewReader(stream)), ToGuest, nil)
		if err == nil && !bytes.Contains(stream, []byte("proj")) && !bytes.Contains(stream, []byte(`\`)) && !bytes.Equal(out.Bytes(), stream) {
			t.Fatalf("stream changed:\n%q\n%q", stream, out.Bytes())
		}
		if err != nil && err == io.EOF {
			t.Fatal("io.EOF leaked out of Copy")
		}
	})
}
