package netproxy_test

import (
	"context"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/silo-dev/silo/vm/netproxy"
)

var (
	fuzzOnce  sync.Once
	fuzzProxy *netproxy.Proxy
)

// FuzzServeConn feeds arbitrary bytes to ServeConn as a sandbox stream.
// Every name resolves to 127.0.0.1 and HostAccess is off, so no input can
// make the proxy connect anywhere; the proxy must not panic, and must let
// go of the stream once the client hangs up.
func FuzzServeConn(f *testing.F) {
	for _, s := range []string{
		"GET http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
		"CONNECT allowed.test:443 HTTP/1.1\r\nHost: allowed.test:443\r\n\r\n\x16\x03\x01",
		"POST http://allowed.test/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"GET http://[::1]:80/ HTTP/1.1\r\n\r\n",
		"CONNECT 127.0.0.1:22 HTTP/1.0\r\n\r\n",
		"GET http://xn--bcher-kva.example/ HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
		"\x00\xff\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	fuzzOnce.Do(func() {
		fuzzProxy = netproxy.New(netproxy.Policy{Allow: []string{"*", "allowed.test"}},
			netproxy.WithResolver(fuzzResolver{}), netproxy.WithHeaderTimeout(time.Second),
			netproxy.WithIdleTimeout(time.Second), netproxy.WithDialTimeout(time.Second))
	})
	f.Fuzz(func(t *testing.T, input []byte) {
		guest, host := net.Pipe()
		done := make(chan struct{})
		go func() {
			fuzzProxy.ServeConn(host)
			close(done)
		}()
		go func() { _, _ = io.Copy(io.Discard, guest) }()
		_ = guest.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, _ = guest.Write(input)
		guest.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("ServeConn still holds the stream 10 s after the client closed; input %q", input)
		}
	})
}

// fuzzResolver sends every name to the host's loopback, which the policy
// refuses.
type fuzzResolver struct{}

func (fuzzResolver) LookupNetIP(_ context.Context, _, _ string) ([]netip.Addr, error) {
	return loopback, nil
}
