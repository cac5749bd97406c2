package netproxy_test

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/silo-dev/silo/vm/netproxy"
)

const chunk = 8 << 20 // bytes per benchmark op in the throughput benchmarks

// sink counts what it reads until the client half-closes, then answers
// with the count.
func sink(c net.Conn) {
	n, _ := io.Copy(io.Discard, c)
	_ = binary.Write(c, binary.BigEndian, n)
}

// BenchmarkTunnel compares bulk throughput straight to a TCP server with
// the same through a CONNECT tunnel of the proxy.
func BenchmarkTunnel(b *testing.B) {
	port, _ := tcpServer(b, sink)
	_, addr := startProxy(b, netproxy.Policy{Allow: []string{"allowed.test"}, HostAccess: true}, netproxy.WithPorts(port))
	buf := make([]byte, chunk)
	run := func(b *testing.B, dial func() net.Conn) {
		c := dial()
		b.SetBytes(chunk)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if _, err := c.Write(buf); err != nil {
				b.Fatal(err)
			}
		}
		_ = c.(*net.TCPConn).CloseWrite()
		var n int64
		if err := binary.Read(c, binary.BigEndian, &n); err != nil || n != int64(b.N)*chunk {
			b.Fatalf("sink got %d bytes, %v; want %d", n, err, int64(b.N)*chunk)
		}
		b.StopTimer()
		c.Close()
	}
	b.Run("direct", func(b *testing.B) {
		run(b, func() net.Conn {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				b.Fatal(err)
			}
			return c
		})
	})
	b.Run("connect", func(b *testing.B) {
		run(b, func() net.Conn {
			c, br, resp := rawConnect(b, addr, fmt.Sprintf("allowed.test:%d", port))
			if resp.StatusCode != 200 || br.Buffered() != 0 {
				b.Fatalf("CONNECT: %s", resp.Status)
			}
			_ = c.SetDeadline(time.Time{})
			return c
		})
	})
}

// BenchmarkKeepAlive measures one small GET on a kept-alive connection,
// straight to the server and through the forwarding proxy: the difference
// is the proxy's per-request overhead.
func BenchmarkKeepAlive(b *testing.B) {
	srv := newServer(b, false, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	_, addr := startProxy(b, netproxy.Policy{Allow: []string{"allowed.test"}, HostAccess: true}, netproxy.WithPorts(srv.port))
	run := func(b *testing.B, c *http.Client, url string) {
		get := func() {
			resp, err := c.Get(url)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
		get() // open the connections
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			get()
		}
	}
	b.Run("direct", func(b *testing.B) {
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		run(b, &http.Client{Transport: tr}, srv.url("127.0.0.1", "/"))
	})
	b.Run("proxy", func(b *testing.B) {
		run(b, client(b, addr, nil), srv.url("allowed.test", "/"))
	})
}

// BenchmarkForwardBody streams a 64 MiB upload straight to the server and
// through the forwarder; B/op shows that the body is never held whole.
func BenchmarkForwardBody(b *testing.B) {
	const size = 64 << 20
	srv := newServer(b, false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, n)
	}))
	_, addr := startProxy(b, netproxy.Policy{Allow: []string{"allowed.test"}, HostAccess: true}, netproxy.WithPorts(srv.port))
	run := func(b *testing.B, c *http.Client, url string) {
		b.SetBytes(size)
		b.ReportAllocs()
		for range b.N {
			resp, err := c.Post(url, "application/octet-stream", io.LimitReader(&pattern{}, size))
			if err != nil {
				b.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(got) != fmt.Sprint(size) {
				b.Fatalf("server read %s bytes, want %d", got, size)
			}
		}
	}
	b.Run("direct", func(b *testing.B) {
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		run(b, &http.Client{Transport: tr}, srv.url("127.0.0.1", "/"))
	})
	b.Run("proxy", func(b *testing.B) {
		run(b, client(b, addr, nil), srv.url("allowed.test", "/"))
	})
}
