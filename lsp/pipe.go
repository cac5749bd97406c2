package lsp

import (
	"fmt"
	"io"
)

// Copy reads messages from src until it ends, rewrites each in direction
// d and writes it to dst in one Write. After each message is written it
// calls seen, when not nil, with what Rewrite noticed (the editor's exit
// notification). It returns nil at a clean end of src, between messages.
func (m *Mapper) Copy(dst io.Writer, src io.Reader, d Direction, seen func(Info)) error {
	r := NewReader(src)
	var body, out []byte
	for {
		msg, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		var info Info
		body, info = m.Rewrite(body[:0], msg.Body, d)
		out = AppendFrame(out[:0], msg, body)
		if _, err := dst.Write(out); err != nil {
			return fmt.Errorf("pass a message on: %w", err)
		}
		if seen != nil {
			seen(info)
		}
	}
}
