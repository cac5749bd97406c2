package vm

import (
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
	hostMux, err := yamux.Client(hostConn, proto.Config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hostMux.Close() })
	guestMux, err := yamux.Server(guestConn, proto.Config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { guestMux.Close() })
	s := &session{mux: hostMux, spec: &Spec{}, limits: lim}
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

// TestGuestStreamsBounded: past the limit, a guest's stream is closed at
// once, so a guest cannot pile up host goroutines.
func TestGuestStreamsBounded(t *testing.T) {
	mux := guestStreams(t, streamLimits{max: 2, kindTimeout: time.Minute})
	a, b, over := openSilent(t, mux), openSilent(t, mux), openSilent(t, mux)
	if !closedWithin(over, 10*time.Second) {
		t.Error("a stream past the limit was kept open")
	}
	for _, c := range []net.Conn{a, b} {
		if closedWithin(c, 100*time.Millisecond) {
			t.Error("a stream within the limit was closed before its kind timeout")
		}
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
