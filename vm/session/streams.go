package session

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/silo-dev/silo/vm/proto"
)

// The sandbox's streams spend the host's memory, so they have a fixed
// budget, streamBudget for all of them. A stream the host has taken holds
// at most proto.HostStreamWindow bytes in yamux's buffer, which may have
// twice that allocated as it grows, plus what its server keeps
// (streamServeCost: the proxy's header reader and copy buffers); a stream
// waiting in yamux's accept backlog holds the same buffer. maxGuestStreams
// is how many streams the budget pays for once the backlog is paid.
const (
	streamBudget    = 64 << 20
	streamServeCost = 64 << 10
	streamCost      = 2*proto.HostStreamWindow + streamServeCost
	maxGuestStreams = streamBudget/streamCost - proto.HostAcceptBacklog
)

// kindTimeout is how long a new stream may take to say what it is.
const kindTimeout = 10 * time.Second

// streamLimits are the bounds acceptStreams enforces; tests shrink them.
type streamLimits struct {
	max         int
	kindTimeout time.Duration
}

// acceptStreams serves the streams the agent opens: one per connection the
// sandbox makes to its proxy or SSH agent; anything else is closed. It
// takes a stream only when one of maxGuestStreams slots is free, and a
// stream keeps its slot until yamux has let go of it (drain). While every
// slot is taken, new streams wait in yamux's accept backlog, and past
// that yamux resets them at once and drops their data: the sandbox cannot
// make the host hold more than streamBudget for its streams.
func (s *session) acceptStreams() {
	lim := s.limits
	if lim.max == 0 {
		lim = streamLimits{max: maxGuestStreams, kindTimeout: kindTimeout}
	}
	slots := make(chan struct{}, lim.max)
	for {
		select {
		case slots <- struct{}{}:
		case <-s.mux.CloseChan():
			return
		}
		c, err := s.mux.Accept()
		if err != nil {
			return
		}
		go func() {
			defer func() { <-slots }()
			s.serveStream(c, lim.kindTimeout)
			drain(c)
		}()
	}
}

// drain closes c and then reads and drops whatever the sandbox still sends
// on it, until the agent closes its end or yamux gives the stream up (its
// close timeout): until then yamux keeps the stream, so it keeps its slot,
// but what arrives is not kept.
func drain(c net.Conn) {
	_ = c.Close()
	_ = c.SetReadDeadline(time.Time{})
	_, _ = io.Copy(io.Discard, c)
}

// serveStream dispatches one agent-opened stream by its kind byte.
func (s *session) serveStream(c net.Conn, timeout time.Duration) {
	var kind [1]byte
	c.SetReadDeadline(time.Now().Add(timeout))
	if _, err := io.ReadFull(c, kind[:]); err != nil {
		c.Close()
		return
	}
	c.SetReadDeadline(time.Time{})
	switch {
	case proto.Kind(kind[0]) == proto.KindProxy && s.spec.Proxy != nil && s.spec.Network.Enabled(false):
		s.spec.Proxy.ServeConn(c)
	case proto.Kind(kind[0]) == proto.KindSSHAgent && s.spec.SSHAgent != "":
		serveSSHAgent(c, s.spec.SSHAgent)
	case proto.Kind(kind[0]) == proto.KindCapture && s.spec.Capture != nil:
		s.serveCapture(c)
	default:
		c.Close()
	}
}

// serveCapture hands the build's capture stream to Spec.Capture, once: a
// second capture stream is refused.
func (s *session) serveCapture(c net.Conn) {
	defer c.Close()
	s.captureOnce.Do(func() {
		err := s.spec.Capture(c)
		if err == nil {
			// The agent closes the stream after the layer's end: anything
			// more is not a layer the host asked for.
			if n, _ := io.Copy(io.Discard, c); n > 0 {
				err = fmt.Errorf("the agent sent %d bytes after the layer", n)
			}
		}
		s.captured <- err
	})
}

// serveSSHAgent carries one sandbox connection to the SSH agent at sock.
func serveSSHAgent(c net.Conn, sock string) {
	defer c.Close()
	a, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		return
	}
	defer a.Close()
	proto.Splice(c, a)
}

// forwardPorts listens on each forwarded host port (loopback only) and
// bridges every connection to the guest port through the agent. The
// returned function stops the listeners.
func (s *session) forwardPorts() (stop func(), err error) {
	var ls []net.Listener
	stop = func() {
		for _, l := range ls {
			l.Close()
		}
	}
	for _, p := range s.spec.Ports {
		if p.Host <= 0 || p.Host > 65535 || p.Guest <= 0 || p.Guest > 65535 {
			stop()
			return nil, fmt.Errorf("port forward %d:%d: ports must be between 1 and 65535", p.Host, p.Guest)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Host)))
		if err != nil {
			stop()
			return nil, fmt.Errorf("forward port %d: %w (is another program using it?)", p.Host, err)
		}
		ls = append(ls, l)
		go s.serveForward(l, p.Guest)
	}
	return stop, nil
}

// serveForward accepts host connections on l and bridges them to guest.
func (s *session) serveForward(l net.Listener, guest int) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			st, err := s.mux.Open()
			if err != nil {
				return
			}
			defer st.Close()
			hdr := []byte{byte(proto.KindForward), 0, 0}
			binary.BigEndian.PutUint16(hdr[1:], uint16(guest))
			if _, err := st.Write(hdr); err != nil {
				return
			}
			proto.Splice(c, st)
		}()
	}
}
