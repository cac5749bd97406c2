package netproxy_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/silo-dev/silo/vm/netproxy"
)

// TestSlowloris: a client that dribbles its headers is cut off by the
// header timeout instead of holding a connection forever.
func TestSlowloris(t *testing.T) {
	_, addr := startProxy(t, netproxy.Policy{Allow: []string{"allowed.test"}},
		netproxy.WithHeaderTimeout(300*time.Millisecond))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	stop := make(chan struct{})
	sent := make(chan int, 1)
	go func() {
		n := 0
		defer func() { sent <- n }()
		if _, err := io.WriteString(c, "GET http://allowed.test/ HTTP/1.1\r\nX-Slow: "); err != nil {
			return
		}
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := c.Write([]byte("a")); err != nil {
				return
			}
			n++
		}
	}()
	// The header never ends; the proxy must close the connection.
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err = io.Copy(io.Discard, c)
	close(stop)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the proxy kept a never-ending header open for 20 s")
	}
	t.Logf("cut off after %d header bytes (%v)", <-sent, err)
}

// TestHeaderTooLarge: headers past the bound get 431, not memory.
func TestHeaderTooLarge(t *testing.T) {
	_, addr := startProxy(t, netproxy.Policy{Allow: []string{"allowed.test"}}, netproxy.WithMaxHeaderBytes(8<<10))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	go func() {
		_, _ = fmt.Fprintf(c, "GET http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 1<<20))
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("status %d, want 431", resp.StatusCode)
	}
}

// TestBadRequests: garbage and non-proxy requests get a clear 400.
func TestBadRequests(t *testing.T) {
	_, addr := startProxy(t, netproxy.Policy{Allow: []string{"*"}}, netproxy.WithHeaderTimeout(time.Second))
	tests := []struct{ req, status, body string }{
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "400", "absolute URI"},
		{"GET ftp://allowed.test/ HTTP/1.1\r\nHost: x\r\n\r\n", "400", `not "ftp"`},
		{"CONNECT allowed.test HTTP/1.1\r\nHost: allowed.test\r\n\r\n", "400", "host:port"},
		{"CONNECT allowed.test:0 HTTP/1.1\r\nHost: allowed.test:0\r\n\r\n", "400", "from 1 to 65535"},
		{"GET http://allowed.test:99999/ HTTP/1.1\r\nHost: x\r\n\r\n", "400", ""},
		{"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", "400", ""},
		{"GET http://allowed.test/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "400", ""},
		{"GET http://a\x00b/ HTTP/1.1\r\nHost: x\r\n\r\n", "400", ""},
	}
	for _, tt := range tests {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		_, _ = io.WriteString(c, tt.req)
		got, _ := io.ReadAll(c)
		c.Close()
		if !strings.HasPrefix(string(got), "HTTP/1.1 "+tt.status) || !strings.Contains(string(got), tt.body) {
			t.Errorf("%q: got %q, want %s mentioning %q", tt.req, got, tt.status, tt.body)
		}
	}
}

// TestLargeBodies streams 64 MiB up through the forwarder and 64 MiB down
// through a CONNECT tunnel over TLS, and checks that memory stays flat.
func TestLargeBodies(t *testing.T) {
	size := int64(64 << 20)
	if testing.Short() {
		size = 8 << 20
	}
	up := newServer(t, false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
	}))
	down := newServer(t, true, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		_, _ = io.Copy(w, io.LimitReader(&pattern{}, size))
	}))
	_, addr := startProxy(t, netproxy.Policy{Allow: []string{"allowed.test"}, HostAccess: true},
		netproxy.WithPorts(up.port, down.port))
	c := client(t, addr, down)
	c.Timeout = 5 * time.Minute

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	want := sha256.New()
	_, _ = io.Copy(want, io.LimitReader(&pattern{}, size))
	resp, err := c.Post(up.url("allowed.test", "/up"), "application/octet-stream", io.LimitReader(&pattern{}, size))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if wantBody := fmt.Sprintf("%d %s", size, hex.EncodeToString(want.Sum(nil))); string(got) != wantBody {
		t.Errorf("upload: server saw %q, want %q", got, wantBody)
	}

	resp, err = c.Get(down.url("allowed.test", "/down"))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	resp.Body.Close()
	if err != nil || n != size || !bytes.Equal(h.Sum(nil), want.Sum(nil)) {
		t.Errorf("download: %d bytes, %v; want %d matching bytes", n, err, size)
	}

	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d MiB up + %d MiB down: %.1f MiB allocated in this process (client, proxy and servers), heap in use %.1f MiB",
		size>>20, size>>20, float64(alloc)/(1<<20), float64(after.HeapInuse)/(1<<20))
	// Buffering either body whole would allocate at least its size.
	if alloc > uint64(size)/2 {
		t.Errorf("allocated %d bytes moving two %d-byte bodies: the proxy buffers", alloc, size)
	}
}

// pattern is an endless, cheap byte stream: byte k is k mod 251, whatever
// the sizes of the reads.
type pattern struct{ off int }

var block = func() []byte {
	b := make([]byte, 64<<10+251)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}()

func (r *pattern) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		s := r.off % 251
		k := copy(p[n:], block[s:s+64<<10])
		n += k
		r.off += k
	}
	return n, nil
}

// TestTunnelHalfClose: the client half-closes, the target still answers,
// and the answer arrives.
func TestTunnelHalfClose(t *testing.T) {
	port, _ := tcpServer(t, func(c net.Conn) {
		n, _ := io.Copy(io.Discard, c)
		fmt.Fprintf(c, "got %d bytes", n)
	})
	_, addr := startProxy(t, netproxy.Policy{Allow: []string{"allowed.test"}, HostAccess: true}, netproxy.WithPorts(port))
	c, br, resp := rawConnect(t, addr, fmt.Sprintf("allowed.test:%d", port))
	if resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %s", resp.Status)
	}
	if _, err := c.Write(bytes.Repeat([]byte("x"), 100000)); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(br)
	if err != nil || string(got) != "got 100000 bytes" {
		t.Errorf("got %q, %v; want the target's answer after the half-close", got, err)
	}
}

// TestConnectThenHalfClose: a client (nc) that sends CONNECT and its
// request at once and shuts its side still gets the answer.
func TestConnectThenHalfClose(t *testing.T) {
	srv := newServer(t, false, http.HandlerFunc(echoHandler))
	// A slow lookup leaves time for the half-close to arrive first.
	_, addr := startProxy(t, netproxy.Policy{Allow: []string{"allowed.test"}, HostAccess: true}, netproxy.WithPorts(srv.port),
		netproxy.WithResolver(slowResolver{200 * time.Millisecond}))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(c, "CONNECT allowed.test:%d HTTP/1.1\r\nHost: x\r\n\r\nGET /nc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", srv.port)
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(got), "HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 200 OK") || !strings.Contains(string(got), "GET /nc host=x") {
		t.Errorf("got %q", got)
	}
}

// slowResolver answers 127.0.0.1 after a delay, or gives up when its
// context ends, as a real resolver does.
type slowResolver struct{ d time.Duration }

func (r slowResolver) LookupNetIP(ctx context.Context, _, _ string) ([]netip.Addr, error) {
	select {
	case <-time.After(r.d):
		return loopback, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestConnectPipelined: bytes sent right behind the CONNECT line (before
// the 200) still reach the target.
func TestConnectPipelined(t *testing.T) {
	srv := newServer(t, true, http.HandlerFunc(echoHandler))
	_, addr := startProxy(t, netproxy.Policy{Allow: []string{"allowed.test"}, HostAccess: true}, netproxy.WithPorts(srv.port))
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(20 * time.Second))
	// Write CONNECT and the TLS client hello in one go, then read the
	// proxy's 200 from under the TLS layer.
	pc := &prefixConn{Conn: raw, prefix: []byte(fmt.Sprintf("CONNECT allowed.test:%d HTTP/1.1\r\nHost: x\r\n\r\n", srv.port))}
	tc := tls.Client(pc, tlsConfigFor(srv))
	go func() {
		_, _ = fmt.Fprintf(tc, "GET /pipelined HTTP/1.1\r\nHost: allowed.test\r\nConnection: close\r\n\r\n")
	}()
	br := bufio.NewReader(&skipResponse{r: raw})
	pc.reader = br
	resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.HasPrefix(string(body), "GET /pipelined") {
		t.Errorf("got %q", body)
	}
}

// prefixConn writes prefix before the first write (so that CONNECT and
// the TLS hello leave together) and reads through reader.
type prefixConn struct {
	net.Conn
	prefix []byte
	reader io.Reader
}

func (c *prefixConn) Write(p []byte) (int, error) {
	if c.prefix != nil {
		b := append(c.prefix, p...)
		c.prefix = nil
		if _, err := c.Conn.Write(b); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *prefixConn) Read(p []byte) (int, error) { return c.reader.Read(p) }

// skipResponse drops the proxy's "HTTP/1.1 200 …\r\n\r\n" and passes the
// rest through.
type skipResponse struct {
	r       io.Reader
	skipped bool
	buf     []byte
}

func (s *skipResponse) Read(p []byte) (int, error) {
	for !s.skipped {
		b := make([]byte, 1)
		if _, err := io.ReadFull(s.r, b); err != nil {
			return 0, err
		}
		s.buf = append(s.buf, b[0])
		if bytes.HasSuffix(s.buf, []byte("\r\n\r\n")) {
			if !bytes.HasPrefix(s.buf, []byte("HTTP/1.1 200")) {
				return 0, fmt.Errorf("proxy answered %q", s.buf)
			}
			s.skipped = true
		}
	}
	return s.r.Read(p)
}
