package session

import (
	"errors"
	"github.com/silo-dev/silo/vm"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/silo-dev/silo/vm/proto"
)

// guestStreams starts a host session's stream loop and returns the guest's
// end of the channel.
func guestStreams(t *testing.T, lim streamLimits) *yamux.Session {
	t.Helper()
	hostConn, guestConn := net.Pipe()
	hostMux, err := yamux.Client(hostConn, proto.HostConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hostMux.Close() })
	guestMux, err := yamux.Server(guestConn, proto.Config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { guestMux.Close() })
	s := &session{mux: hostMux, spec: &vm.Spec{}, limits: lim}
	go s.acceptStreams()
	return guestMux
}

// openSilent opens a guest stream that never says what it is.
func openSilent(t *testing.T, mux *yamux.Session) net.Conn {
	t.Helper()
	c, err := mux.Open()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// closedWithin reports whether the host closed c within d.
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	return err == io.EOF
}

// TestGuestStreamsBounded: past the streams the budget pays for and the
// accept backlog, a guest's stream is reset at once, so a guest cannot pile
// up host goroutines or buffers.
func TestGuestStreamsBounded(t *testing.T) {
	const held, over = 2, 8
	mux := guestStreams(t, streamLimits{max: held, kindTimeout: time.Minute})
	var streams []net.Conn
	for range held + proto.HostAcceptBacklog + over {
		streams = append(streams, openSilent(t, mux))
	}
	for i, c := range streams[held+proto.HostAcceptBacklog:] {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, yamux.ErrConnectionReset) {
			t.Errorf("stream %d past the budget and the backlog: read %v, want a reset", held+proto.HostAcceptBacklog+i, err)
		}
	}
	for _, c := range streams[:held] {
		if closedWithin(c, 100*time.Millisecond) {
			t.Error("a stream within the limit was closed before its kind timeout")
		}
	}
}

// TestRefusedStreamDataDropped: the host closes a stream of no known kind,
// and what the guest still sends on it is read and dropped, not buffered:
// the guest's writes, far past a stream's window, complete.
func TestRefusedStreamDataDropped(t *testing.T) {
	c := openSilent(t, guestStreams(t, streamLimits{max: 4, kindTimeout: time.Minute}))
	if _, err := c.Write([]byte{'Z'}); err != nil {
		t.Fatal(err)
	}
	if !closedWithin(c, 10*time.Second) {
		t.Fatal("a stream of unknown kind was not closed")
	}
	c.SetWriteDeadline(time.Now().Add(time.Minute))
	data := make([]byte, 8*proto.HostStreamWindow)
	if n, err := c.Write(data); err != nil {
		t.Errorf("wrote %d of %d bytes after the host closed the stream: %v; the host kept, and stopped reading, what it refused", n, len(data), err)
	}
}

// TestGuestStreamKindTimeout: a stream that never says what it is, is
// closed when the kind timeout runs out.
func TestGuestStreamKindTimeout(t *testing.T) {
	c := openSilent(t, guestStreams(t, streamLimits{max: 4, kindTimeout: 100 * time.Millisecond}))
	if !closedWithin(c, 10*time.Second) {
		t.Error("a silent stream was not closed after the kind timeout")
	}
}

// TestStreamBudget: the streams the host takes and those waiting in the
// backlog, each at its cost, fit the budget the package documents.
func TestStreamBudget(t *testing.T) {
	if total := (maxGuestStreams + proto.HostAcceptBacklog) * streamCost; total > streamBudget {
		t.Errorf("%d streams of %d bytes = %d bytes, over the %d budget", maxGuestStreams+proto.HostAcceptBacklog, streamCost, total, streamBudget)
	}
	if maxGuestStreams != 97 || streamBudget != 64<<20 {
		t.Errorf("maxGuestStreams = %d, budget %d: update vm/session/doc.go's figures", maxGuestStreams, streamBudget)
	}
}
