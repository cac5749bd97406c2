package vm

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/silo-dev/silo/vm/proto"
)

func TestAttachPrepareErrorSendsNothing(t *testing.T) {
	host, guest := net.Pipe()
	defer guest.Close()
	boom := errors.New("guard failed")
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(guest) // ends when Attach closes its end
		got <- b
	}()
	spec := &Spec{Argv: []string{"true"}, Prepare: func(*Spec) error { return boom }}
	if _, err := Attach(context.Background(), host, spec); !errors.Is(err, boom) {
		t.Fatalf("Attach: %v, want the Prepare error", err)
	}
	select {
	case b := <-got:
		if len(b) != 0 {
			t.Errorf("the agent received %d bytes after Prepare failed", len(b))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Attach left the agent's stream open after Prepare failed")
	}
}

func TestAttachSendsWhatPrepareSet(t *testing.T) {
	host, guest := net.Pipe()
	specs := make(chan *proto.Spec, 1)
	go fakeAgent(t, guest, specs)
	spec := &Spec{Argv: []string{"true"}, Protected: []string{"silo.toml"}, BootTimeout: 10 * time.Second}
	spec.Prepare = func(s *Spec) error {
		s.Protected = append(s.Protected, ".git")
		return nil
	}
	code, err := Attach(context.Background(), host, spec)
	if err != nil || code != 7 {
		t.Fatalf("Attach: %d, %v; want 7", code, err)
	}
	s := <-specs
	if !slices.Equal(s.Protected, []string{"silo.toml", ".git"}) {
		t.Errorf("the agent was sent protected paths %q, not Prepare's", s.Protected)
	}
}

// fakeAgent accepts the four fixed streams, reads the spec, reports it,
// and answers ready and exit 7.
func fakeAgent(t *testing.T, conn net.Conn, specs chan<- *proto.Spec) {
	mux, err := yamux.Server(conn, proto.Config())
	if err != nil {
		t.Error(err)
		return
	}
	defer mux.Close()
	streams := map[proto.Kind]net.Conn{}
	for len(streams) < 4 {
		c, err := mux.Accept()
		if err != nil {
			t.Error(err)
			return
		}
		var k [1]byte
		if _, err := io.ReadFull(c, k[:]); err != nil {
			t.Error(err)
			return
		}
		streams[proto.Kind(k[0])] = c
	}
	ctrl := streams[proto.KindControl]
	m, err := proto.Read(ctrl)
	if err != nil || m.Spec == nil {
		t.Errorf("read the spec: %v", err)
		return
	}
	specs <- m.Spec
	streams[proto.KindStdout].Close()
	streams[proto.KindStderr].Close()
	_ = proto.Write(ctrl, &proto.Msg{Type: proto.TypeReady})
	_ = proto.Write(ctrl, &proto.Msg{Type: proto.TypeExit, Code: 7})
	<-mux.CloseChan()
}
