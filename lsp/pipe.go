package lsp

import (
	"fmt"
	"io"
	"strconv"
)

// Copy reads messages from src until it ends, rewrites each in direction
// d and writes it to dst in one Write. After each message is written it
// calls seen, when not nil, with what Rewrite noticed (the editor's exit
// notification). It returns nil at a clean end of src, between messages.
//
// Toward the host, a message whose workspace edit names files outside the
// workspace (Info.EditOutside) is not passed on: a response becomes an
// error response to the same id, a request (workspace/applyEdit) is
// answered on reply, when not nil, with "applied": false, and a
// notification or a batch is dropped. The editor never writes a file the
// sandbox could not.
func (m *Mapper) Copy(dst io.Writer, src io.Reader, d Direction, seen func(Info)) error {
	return m.copy(dst, src, d, seen, nil)
}

// CopyToHost is Copy toward the host, answering refused requests on reply
// (the server's stdin).
func (m *Mapper) CopyToHost(dst, reply io.Writer, src io.Reader, seen func(Info)) error {
	return m.copy(dst, src, ToHost, seen, reply)
}

func (m *Mapper) copy(dst io.Writer, src io.Reader, d Direction, seen func(Info), reply io.Writer) error {
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
		if d == ToHost && info.EditOutside {
			toEditor, toServer := refusal(info)
			if toServer != nil && reply != nil {
				if _, err := reply.Write(frameOwn(toServer)); err != nil {
					return fmt.Errorf("answer the server: %w", err)
				}
			}
			if toEditor == nil {
				continue
			}
			out = frameOwn(toEditor)
		}
		if _, err := dst.Write(out); err != nil {
			return fmt.Errorf("pass a message on: %w", err)
		}
		if seen != nil {
			seen(info)
		}
	}
}

// refusalReason is what the editor and the server are told.
const refusalReason = "silo refused the language server's workspace edit: it names files outside the project"

// refusal is what replaces a refused message: a response's error to the
// editor, or a request's answer to the server.
func refusal(info Info) (toEditor, toServer []byte) {
	switch {
	case info.Batch || info.ID == nil:
		return nil, nil
	case info.Method == "":
		return []byte(`{"jsonrpc":"2.0","id":` + string(info.ID) + `,"error":{"code":-32803,"message":` + strconv.Quote(refusalReason) + `}}`), nil
	}
	return nil, []byte(`{"jsonrpc":"2.0","id":` + string(info.ID) + `,"result":{"applied":false,"failureReason":` + strconv.Quote(refusalReason) + `}}`)
}

// frameOwn frames a body of silo's own.
func frameOwn(body []byte) []byte {
	return append([]byte("Content-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"), body...)
}
