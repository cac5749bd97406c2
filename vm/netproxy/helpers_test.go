package netproxy_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/silo-dev/silo/vm/netproxy"
)

// loopback is where every test server listens.
var loopback = []netip.Addr{netip.MustParseAddr("127.0.0.1")}

// resolver sends every test name to 127.0.0.1.
var resolver = netproxy.StaticResolver{
	"allowed.test":   loopback,
	"denied.test":    loopback,
	"evil.test":      loopback,
	"rebind.test":    loopback,
	"a.wild.test":    loopback,
	"wild.test":      loopback,
	"install.test":   loopback,
	"mixed.test":     {netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("127.0.0.1")},
	"metadata.test":  {netip.MustParseAddr("169.254.169.254")},
	"zeroaddr.test":  {netip.MustParseAddr("0.0.0.0")},
	"v4mapped.test":  {netip.MustParseAddr("::ffff:127.0.0.1")},
	"nat64loop.test": {netip.MustParseAddr("64:ff9b::7f00:1")},
}

// server is a real HTTP(S) server on 127.0.0.1 that counts the TCP
// connections made to it.
type server struct {
	*httptest.Server
	conns atomic.Int64
	port  int
}

func newServer(t testing.TB, tlsOn bool, h http.Handler) *server {
	t.Helper()
	s := &server{Server: httptest.NewUnstartedServer(h)}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	if tlsOn {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	s.port = s.Listener.Addr().(*net.TCPAddr).Port
	return s
}

// url is the server's URL under another host name.
func (s *server) url(host, path string) string {
	scheme := "http"
	if s.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(s.port)) + path
}

// startProxy serves a proxy for policy on a loopback listener; the test
// servers' ports are added to the default ones.
func startProxy(t testing.TB, policy netproxy.Policy, opts ...netproxy.Option) (*netproxy.Proxy, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts = append([]netproxy.Option{netproxy.WithResolver(resolver), netproxy.WithDialer(guardDialer{t})}, opts...)
	p := netproxy.New(policy, opts...)
	done := make(chan error, 1)
	go func() { done <- p.Serve(l) }()
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})
	return p, l.Addr().String()
}

// client is an HTTP client that goes through the proxy at addr and trusts
// the test TLS servers under any of their names.
func client(t testing.TB, addr string, tlsSrv *server) *http.Client {
	t.Helper()
	tr := &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: addr})}
	if tlsSrv != nil {
		tr.TLSClientConfig = tlsConfigFor(tlsSrv)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// tlsConfigFor trusts srv's certificate as "example.com".
func tlsConfigFor(srv *server) *tls.Config {
	c := srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	c.ServerName = "example.com"
	return c
}

// rawConnect opens a CONNECT tunnel by hand and returns the connection
// and the proxy's response.
func rawConnect(t testing.TB, proxyAddr, target string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	c, err := net.Dial("tcp", proxyAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, "CONNECT "+target+" HTTP/1.1\r\nHost: "+target+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatalf("CONNECT %s: %v", target, err)
	}
	return c, br, resp
}

// events collects the proxy's events.
type events struct {
	mu sync.Mutex
	ev []netproxy.Event
}

func (e *events) add(ev netproxy.Event) {
	e.mu.Lock()
	e.ev = append(e.ev, ev)
	e.mu.Unlock()
}

func (e *events) all() []netproxy.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]netproxy.Event(nil), e.ev...)
}

// tcpServer is a raw TCP server on 127.0.0.1 running handle per
// connection.
func tcpServer(t testing.TB, handle func(net.Conn)) (port int, conns *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns = new(atomic.Int64)
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(60 * time.Second))
				handle(c)
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port, conns
}

// guardDialer dials loopback addresses only: a test that makes the proxy
// dial anything else fails, and nothing leaves this machine.
type guardDialer struct{ t testing.TB }

func (g guardDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !ap.Addr().Unmap().Is4() || !ap.Addr().Unmap().IsLoopback() {
		g.t.Errorf("the proxy tried to dial %s, outside 127.0.0.0/8", address)
		return nil, errors.New("the test dialer refuses anything outside 127.0.0.0/8")
	}
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}

// loopDialer stands for the network: it records every address the proxy
// dials and connects it to the same port on 127.0.0.1 instead, so that a
// test can pretend a name resolves anywhere and still send no byte
// outside 127.0.0.0/8.
type loopDialer struct {
	mu     sync.Mutex
	dialed []string
}

func (l *loopDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.dialed = append(l.dialed, address)
	l.mu.Unlock()
	var d net.Dialer
	return d.DialContext(ctx, "tcp", netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), ap.Port()).String())
}

func (l *loopDialer) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.dialed...)
}
