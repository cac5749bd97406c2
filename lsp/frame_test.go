package lsp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"strings"
	"testing"
	"testing/iotest"
)

func frame(body string) string {
	return fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
}

func TestReaderSplit(t *testing.T) {
	stream := frame(`{"a":1}`) + "content-length:8\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n" + `{"b":22}` + frame(`[{"c":3},{"d":4}]`)
	for name, r := range map[string]io.Reader{
		"whole":    strings.NewReader(stream),
		"one byte": iotest.OneByteReader(strings.NewReader(stream)),
		"half":     iotest.HalfReader(strings.NewReader(stream)),
	} {
		rd := NewReader(r)
		var bodies []string
		for {
			m, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			bodies = append(bodies, string(m.Body))
		}
		if got := strings.Join(bodies, "|"); got != `{"a":1}|{"b":22}|[{"c":3},{"d":4}]` {
			t.Errorf("%s: bodies %s", name, got)
		}
	}
}

func TestReaderErrors(t *testing.T) {
	for in, want := range map[string]string{
		"Content-Length: 5\r\n\r\nabc":                    "unexpected EOF",
		"Content-Length: 5\r\n":                           "unexpected EOF",
		"Content-Type: x\r\n\r\n{}":                       "without Content-Length",
		"Content-Length: -1\r\n\r\n":                      "not a byte count",
		"Content-Length: +1\r\n\r\nx":                     "not a byte count",
		"Content-Length: 1x\r\n\r\nx":                     "not a byte count",
		"Content-Length: \r\n\r\n":                        "empty Content-Length",
		"Content-Length: 1\r\nContent-Length: 1\r\n\r\nx": "two Content-Length",
		"garbage\r\n\r\n":                                 "no colon",
		"Content-Length: 999999999999\r\n\r\n":            "at most",
		strings.Repeat("X-A: b\r\n", 4000):                "longer than",
	} {
		_, err := NewReader(strings.NewReader(in)).Next()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %q", clip([]byte(in)), err, want)
		}
		if strings.Contains(want, "EOF") && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%q: %v is not ErrUnexpectedEOF", clip([]byte(in)), err)
		} else if !strings.Contains(want, "EOF") && !errors.Is(err, ErrFraming) {
			t.Errorf("%q: %v is not ErrFraming", clip([]byte(in)), err)
		}
	}
}

// TestAppendFrameKeepsHeaders: only the Content-Length value changes, and
// only when the body's length does.
func TestAppendFrameKeepsHeaders(t *testing.T) {
	in := "content-length :  7 \r\nContent-Type: x\r\n\r\n{\"a\":1}"
	m, err := NewReader(strings.NewReader(in)).Next()
	if err != nil {
		t.Fatal(err)
	}
	if got := AppendFrame(nil, m, m.Body); string(got) != in {
		t.Errorf("same length: %q", got)
	}
	if got, want := AppendFrame(nil, m, []byte(`{"a":100}`)), "content-length :  9 \r\nContent-Type: x\r\n\r\n{\"a\":100}"; string(got) != want {
		t.Errorf("new length: %q, want %q", got, want)
	}
}

// chunker writes what it is given in pieces of random size, as a pipe
// between processes may deliver it.
type chunker struct {
	w   io.Writer
	rnd *rand.Rand
}

func (c chunker) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := 1 + c.rnd.Intn(len(p))
		if _, err := c.w.Write(p[:k]); err != nil {
			return n, err
		}
		n, p = n+k, p[k:]
	}
	return n, nil
}

// TestEchoServer runs messages from an editor through the rewriter to a
// fake language server that records and echoes what it receives, and back:
// the server sees guest paths and nothing else changed, byte for byte; the
// editor gets back exactly what it sent. Messages are split across reads
// and writes at random, and one is a batch.
func TestEchoServer(t *testing.T) {
	editor := []string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"rootUri":"file:///home/u/proj","rootPath":"/home/u/proj","capabilities":{}}}`,
		`{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"file:///home/u/proj/d%C3%A9j%C3%A0%20vu.py","text":"import os\n\"/home/u/proj\"\n"}}}`,
		`[{"jsonrpc":"2.0","id":2,"method":"textDocument/definition","params":{"textDocument":{"uri":"file:///home/u/proj/a.py"},"position":{"line":1,"character":2}}},{"jsonrpc":"2.0","id":3,"method":"x","params":{"p":"/etc/hosts","q":"file:///home/u/other/a.py"}}]`,
		"{ \"jsonrpc\" : \"2.0\" ,\n\t\"method\" : \"exit\" }",
	}
	server := []string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"rootUri":"file:///workspace","rootPath":"/workspace","capabilities":{}}}`,
		`{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"file:///workspace/d%C3%A9j%C3%A0%20vu.py","text":"import os\n\"/home/u/proj\"\n"}}}`,
		`[{"jsonrpc":"2.0","id":2,"method":"textDocument/definition","params":{"textDocument":{"uri":"file:///workspace/a.py"},"position":{"line":1,"character":2}}},{"jsonrpc":"2.0","id":3,"method":"x","params":{"p":"/etc/hosts","q":"file:///home/u/other/a.py"}}]`,
		"{ \"jsonrpc\" : \"2.0\" ,\n\t\"method\" : \"exit\" }",
	}
	var sent, wantSeen bytes.Buffer
	for i := range editor {
		sent.WriteString(frame(editor[i]))
		wantSeen.WriteString(frame(server[i]))
	}
	for seed := int64(0); seed < 20; seed++ {
		rnd := rand.New(rand.NewSource(seed))
		m := NewMapper("/workspace", "/home/u/proj")
		toServerR, toServerW := io.Pipe()
		fromServerR, fromServerW := io.Pipe()
		var seen bytes.Buffer
		go func() { // the fake server: echo and record
			_, _ = io.Copy(io.MultiWriter(chunker{fromServerW, rnd}, &seen), iotest.HalfReader(toServerR))
			fromServerW.Close()
		}()
		exits := 0
		go func() {
			err := m.Copy(toServerW, iotest.OneByteReader(bytes.NewReader(sent.Bytes())), ToGuest, func(i Info) {
				if i.Exit {
					exits++
				}
			})
			toServerW.CloseWithError(err)
		}()
		var back bytes.Buffer
		if err := m.Copy(&back, fromServerR, ToHost, nil); err != nil {
			t.Fatal(err)
		}
		if seen.String() != wantSeen.String() {
			t.Fatalf("seed %d: the server saw\n%q\nwant\n%q", seed, seen.String(), wantSeen.String())
		}
		if back.String() != sent.String() {
			t.Fatalf("seed %d: the editor got back\n%q\nwant\n%q", seed, back.String(), sent.String())
		}
		if exits != 1 {
			t.Errorf("seed %d: %d exit notifications seen, want 1", seed, exits)
		}
	}
}
