package proto

import (
	"bytes"
	"encoding/binary"
	"io"
	"strings"
	"testing"
)

func TestMsgRoundTrip(t *testing.T) {
	msgs := []*Msg{
		{Type: TypeSpec, Spec: &Spec{Argv: []string{"sh", "-c", "exit 3"}, Env: []string{"A=b"}, Cwd: "src",
			Files: []File{{Guest: "/root/.npmrc", Mode: 0o444, Data: []byte{0, 1, 0xff}}}, TTY: true, Rows: 24, Cols: 80}},
		{Type: TypeSignal, Signal: 2},
		{Type: TypeResize, Rows: 50, Cols: 120},
		{Type: TypeExit, Code: 130},
		{Type: TypeError, Error: "mount the rootfs overlay: permission denied"},
	}
	var buf bytes.Buffer
	for _, m := range msgs {
		if err := Write(&buf, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range msgs {
		got, err := Read(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if got.Type != want.Type || got.Signal != want.Signal || got.Code != want.Code || got.Error != want.Error || got.Rows != want.Rows {
			t.Errorf("got %+v, want %+v", got, want)
		}
		if want.Spec != nil && (got.Spec == nil || !bytes.Equal(got.Spec.Files[0].Data, want.Spec.Files[0].Data) || got.Spec.Argv[2] != "exit 3") {
			t.Errorf("spec did not round-trip: %+v", got.Spec)
		}
	}
	if _, err := Read(&buf); err != io.EOF {
		t.Errorf("after the last message: %v, want EOF", err)
	}
}

func TestReadRejects(t *testing.T) {
	frame := func(n uint32, body string) []byte {
		b := make([]byte, 4, 4+len(body))
		binary.BigEndian.PutUint32(b, n)
		return append(b, body...)
	}
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"over the limit", frame(MaxMsg+1, ""), "over the"},
		{"truncated body", frame(10, "{}"), "read control message"},
		{"not JSON", frame(3, "xyz"), "decode control message"},
		{"no type", frame(2, "{}"), "without a type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestWriteRejectsHugeSpec(t *testing.T) {
	m := &Msg{Type: TypeSpec, Spec: &Spec{Files: []File{{Guest: "/x", Data: make([]byte, MaxMsg)}}}}
	if err := Write(io.Discard, m); err == nil || !strings.Contains(err.Error(), "pass fewer or smaller files") {
		t.Errorf("got %v", err)
	}
}
