package netproxy_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/silo-dev/silo/vm/netproxy"
)

// TestOverYamux runs the proxy the way silo does: each client connection
// is a yamux stream of one host↔agent session, handed to ServeConn.
func TestOverYamux(t *testing.T) {
	httpSrv := newServer(t, false, http.HandlerFunc(echoHandler))
	const size = 8 << 20
	tlsSrv := newServer(t, true, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(w, io.LimitReader(&pattern{}, size))
	}))
	p := netproxy.New(netproxy.Policy{Allow: []string{"allowed.test"}, HostAccess: true},
		netproxy.WithResolver(resolver), netproxy.WithPorts(httpSrv.port, tlsSrv.port))

	guestEnd, hostEnd := net.Pipe()
	hostSess, err := yamux.Server(hostEnd, nil)
	if err != nil {
		t.Fatal(err)
	}
	guestSess, err := yamux.Client(guestEnd, nil)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		for {
			st, err := hostSess.Accept()
			if err != nil {
				return
			}
			go p.ServeConn(st)
		}
	}()
	defer func() {
		p.Close()
		guestSess.Close()
		hostSess.Close()
		<-served
	}()

	tr := &http.Transport{
		Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: "127.0.0.1:3128"}),
		DialContext: func(context.Context, string, string) (net.Conn, error) {
			return guestSess.Open() // the agent's bridge, in one call
		},
		TLSClientConfig: tlsConfigFor(tlsSrv),
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: time.Minute}

	resp, err := c.Get(httpSrv.url("allowed.test", "/plain"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(body), "GET /plain host=allowed.test") {
		t.Errorf("plain: got %q", body)
	}

	resp, err = c.Get(tlsSrv.url("allowed.test", "/big"))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	resp.Body.Close()
	want := sha256.New()
	_, _ = io.Copy(want, io.LimitReader(&pattern{}, size))
	if err != nil || n != size || fmt.Sprintf("%x", h.Sum(nil)) != fmt.Sprintf("%x", want.Sum(nil)) {
		t.Errorf("tunnel: %d bytes, %v; want %d matching bytes", n, err, size)
	}

	resp, err = c.Get(httpSrv.url("denied.test", "/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("denied: status %d, want 403", resp.StatusCode)
	}
}
