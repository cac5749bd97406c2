package netproxy_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"strings"
	"testing"

	"github.com/silo-dev/silo/vm/netproxy"
)

// echoHandler answers with what it saw: method, Host, the proxy headers
// that must not leak, and the body.
func echoHandler(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	fmt.Fprintf(w, "%s %s host=%s proxy-conn=%q proxy-auth=%q xff=%q body=%s",
		r.Method, r.URL.Path, r.Host, r.Header.Get("Proxy-Connection"),
		r.Header.Get("Proxy-Authorization"), r.Header.Get("X-Forwarded-For"), body)
}

// The names resolve to 127.0.0.1, so the positive tests run with
// HostAccess; TestRebinding shows the same names refused without it.
func TestForwardHTTP(t *testing.T) {
	srv := newServer(t, false, http.HandlerFunc(echoHandler))
	var ev events
	_, addr := startProxy(t, netproxy.Policy{Allow: []string{"allowed.test"}, HostAccess: true},
		netproxy.WithPorts(srv.port), netproxy.WithEvents(ev.add))
	c := client(t, addr, nil)

	const n = 20
	reused := 0
	for i := range n {
		req, _ := http.NewRequest(http.MethodPost, srv.url("allowed.test", "/p"), strings.NewReader(fmt.Sprint("hello ", i)))
		req.Header.Set("Proxy-Authorization", "Basic c2VjcmV0")
		req.Header.Set("Proxy-Connection", "keep-alive")
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) {
				if info.Reused {
					reused++
				}
			},
		}))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := fmt.Sprintf(`POST /p host=allowed.test:%d proxy-conn="" proxy-auth="" xff="" body=hello %d`, srv.port, i)
		if resp.StatusCode != 200 || string(got) != want {
			t.Fatalf("got %d %q, want 200 %q", resp.StatusCode, got, want)
		}
	}
	// Keep-alive both ways: the client kept its one connection to the
	// proxy, and the proxy reused its upstream connections. (Go's
	// transport now and then drops an upstream connection after a request
	// with a body, more often under load: allow a few, far from one per
	// request.)
	if reused != n-1 {
		t.Errorf("the client reused its proxy connection %d times in %d requests, want %d", reused, n, n-1)
	}
	up := srv.conns.Load()
	if up > n/4 {
		t.Errorf("upstream saw %d connections for %d keep-alive requests, want at most %d", up, n, n/4)
	}
	t.Logf("%d requests, %d upstream connections", n, up)
	evs := ev.all()
	if int64(len(evs)) != up || !evs[0].Allowed || evs[0].Host != "allowed.test" || evs[0].Method != "POST" {
		t.Errorf("events = %v, want one allowed POST to allowed.test per upstream connection", evs)
	}
}

func TestConnectTLS(t *testing.T) {
	srv := newServer(t, true, http.HandlerFunc(echoHandler))
	var ev events
	_, addr := startProxy(t, netproxy.Policy{Allow: []string{"allowed.test"}, HostAccess: true},
		netproxy.WithPorts(srv.port), netproxy.WithEvents(ev.add))
	c := client(t, addr, srv)
	for range 3 {
		resp, err := c.Get(srv.url("allowed.test", "/secure"))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(string(got), "GET /secure host=allowed.test:") {
			t.Fatalf("got %d %q", resp.StatusCode, got)
		}
		if resp.TLS == nil {
			t.Fatal("response did not come over TLS")
		}
	}
	if n := srv.conns.Load(); n != 1 {
		t.Errorf("upstream saw %d connections, want 1 tunnel", n)
	}
	if evs := ev.all(); len(evs) != 1 || evs[0].Method != "CONNECT" || !evs[0].Allowed {
		t.Errorf("events = %v, want one allowed CONNECT", evs)
	}
}

// TestRefused: every refusal answers 403 with advice, reports an event,
// and makes no connection to the target.
func TestRefused(t *testing.T) {
	httpSrv := newServer(t, false, http.HandlerFunc(echoHandler))
	tlsSrv := newServer(t, true, http.HandlerFunc(echoHandler))
	policy := netproxy.Policy{
		Allow:      []string{"allowed.test", "*.wild.test", "evil.test", "mixed.test", "metadata.test", "zeroaddr.test", "v4mapped.test", "nat64loop.test", "rebind.test"},
		Deny:       []string{"evil.test"},
		HostAccess: false,
	}
	tests := []struct {
		name, host string
		advice     string // in the body
	}{
		{"not listed", "denied.test", "[overrides.python.network]\n    proxy.allow = [\"denied.test\"]"},
		{"deny beats allow", "evil.test", `deny pattern "evil.test"`},
		{"wildcard apex", "wild.test", `proxy.allow = ["wild.test"]`},
		{"ip literal", "127.0.0.1", "names an IP address"},
		{"rebinding to loopback", "rebind.test", "[overrides.python.network]\n    hostAccess = true"},
		{"all addresses private", "mixed.test", "a private address"},
		{"metadata", "metadata.test", "link-local"},
		{"unspecified", "zeroaddr.test", "unspecified"},
		{"v4-mapped loopback", "v4mapped.test", "loopback"},
		{"nat64 loopback", "nat64loop.test", "loopback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ev events
			_, addr := startProxy(t, policy, netproxy.WithPorts(httpSrv.port, tlsSrv.port),
				netproxy.WithEvents(ev.add), netproxy.WithTool("python"))
			before := httpSrv.conns.Load() + tlsSrv.conns.Load()

			resp, err := client(t, addr, nil).Get(httpSrv.url(tt.host, "/"))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), tt.advice) {
				t.Errorf("plain HTTP: got %d %q, want 403 mentioning %q", resp.StatusCode, body, tt.advice)
			}

			_, br, cresp := rawConnect(t, addr, fmt.Sprintf("%s:%d", bracket(tt.host), tlsSrv.port))
			cbody, _ := io.ReadAll(io.LimitReader(br, 4096))
			if cresp.StatusCode != http.StatusForbidden || !strings.Contains(cresp.Status, "Forbidden by silo") ||
				!strings.Contains(string(cbody), tt.advice) {
				t.Errorf("CONNECT: got %q %q, want 403 mentioning %q", cresp.Status, cbody, tt.advice)
			}

			if n := httpSrv.conns.Load() + tlsSrv.conns.Load() - before; n != 0 {
				t.Errorf("the target saw %d connections, want 0", n)
			}
			evs := ev.all()
			if len(evs) != 2 || evs[0].Allowed || evs[1].Allowed || evs[1].Method != "CONNECT" {
				t.Errorf("events = %v, want two refusals", evs)
			}
		})
	}
}

func bracket(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

// TestRebinding: a permitted name that resolves to 127.0.0.1 reaches the
// host's loopback only with HostAccess.
func TestRebinding(t *testing.T) {
	srv := newServer(t, false, http.HandlerFunc(echoHandler))
	for _, hostAccess := range []bool{false, true} {
		_, addr := startProxy(t, netproxy.Policy{Allow: []string{"rebind.test"}, HostAccess: hostAccess},
			netproxy.WithPorts(srv.port))
		before := srv.conns.Load()
		resp, err := client(t, addr, nil).Get(srv.url("rebind.test", "/"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		reached := srv.conns.Load() - before
		if hostAccess && (resp.StatusCode != 200 || reached != 1) {
			t.Errorf("HostAccess: got %d %q, %d connections; want 200 through one", resp.StatusCode, body, reached)
		}
		if !hostAccess && (resp.StatusCode != 403 || reached != 0 || !strings.Contains(string(body), "resolves to 127.0.0.1")) {
			t.Errorf("no HostAccess: got %d %q, %d connections; want 403 and none", resp.StatusCode, body, reached)
		}
	}
}

// TestIPLiteralAllowed: an IP literal passes when it is itself listed, and
// HostAccess opens the host alias on any port.
func TestIPLiteralAllowed(t *testing.T) {
	srv := newServer(t, false, http.HandlerFunc(echoHandler))
	tests := []struct {
		name   string
		policy netproxy.Policy
		host   string
		want   int
	}{
		{"listed literal", netproxy.Policy{Allow: []string{fmt.Sprintf("127.0.0.1:%d", srv.port)}}, "127.0.0.1", 200},
		{"listed literal, other port", netproxy.Policy{Allow: []string{"127.0.0.1:1"}}, "127.0.0.1", 403},
		{"host alias", netproxy.Policy{HostAccess: true}, netproxy.HostAlias, 200},
		{"host alias without access", netproxy.Policy{Allow: []string{"*"}}, netproxy.HostAlias, 403},
		{"loopback literal with access", netproxy.Policy{HostAccess: true}, "127.0.0.1", 200},
		{"star never matches literals", netproxy.Policy{Allow: []string{"*"}}, "127.0.0.1", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, addr := startProxy(t, tt.policy)
			resp, err := client(t, addr, nil).Get(srv.url(tt.host, "/"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
}

func TestInstallAllow(t *testing.T) {
	srv := newServer(t, false, http.HandlerFunc(echoHandler))
	policy := netproxy.Policy{Allow: []string{"allowed.test"}, InstallAllow: []string{"install.test"}, HostAccess: true}
	for _, install := range []bool{false, true} {
		_, addr := startProxy(t, policy, netproxy.WithPorts(srv.port), netproxy.WithInstall(install))
		resp, err := client(t, addr, nil).Get(srv.url("install.test", "/"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := map[bool]int{false: 403, true: 200}[install]; resp.StatusCode != want {
			t.Errorf("install=%v: status %d, want %d", install, resp.StatusCode, want)
		}
	}
}

// TestUpstreamDown: an allowed destination with nothing listening is a
// 502 that names it, not a hang.
func TestUpstreamDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	_, addr := startProxy(t, netproxy.Policy{Allow: []string{"allowed.test"}, HostAccess: true}, netproxy.WithPorts(port))
	resp, err := client(t, addr, nil).Get(fmt.Sprintf("http://allowed.test:%d/", port))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), fmt.Sprintf("could not reach allowed.test:%d", port)) {
		t.Errorf("got %d %q, want 502 naming the destination", resp.StatusCode, body)
	}
	_, _, cresp := rawConnect(t, addr, fmt.Sprintf("allowed.test:%d", port))
	if cresp.StatusCode != http.StatusBadGateway {
		t.Errorf("CONNECT: got %q, want 502", cresp.Status)
	}
}

// TestPublicAddress: without HostAccess, a permitted name that resolves to
// an ordinary address is reached, at that address. The dialer stands in
// for the network and connects to the test server on 127.0.0.1.
func TestPublicAddress(t *testing.T) {
	srv := newServer(t, false, http.HandlerFunc(echoHandler))
	public := netip.MustParseAddr("198.51.100.7")
	res := netproxy.StaticResolver{"public.test": {public}}
	for _, pattern := range []string{"public.test", "*"} {
		var ev events
		var dialer loopDialer
		_, addr := startProxy(t, netproxy.Policy{Allow: []string{pattern}}, netproxy.WithResolver(res),
			netproxy.WithDialer(&dialer), netproxy.WithLocalAddrs(noLocalAddrs),
			netproxy.WithPorts(srv.port), netproxy.WithEvents(ev.add))
		resp, err := client(t, addr, nil).Get(srv.url("public.test", "/pub"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "GET /pub") {
			t.Errorf("allow %q: got %d %q", pattern, resp.StatusCode, body)
		}
		if evs := ev.all(); len(evs) != 1 || evs[0].Addr.Addr() != public {
			t.Errorf("events = %v, want one connection to %v", evs, public)
		}
		if d := dialer.all(); len(d) != 1 || d[0] != netip.AddrPortFrom(public, uint16(srv.port)).String() {
			t.Errorf("dialed %v, want %v once", d, public)
		}
	}
}

// noLocalAddrs is a host without addresses of its own.
func noLocalAddrs() ([]netip.Addr, error) { return nil, nil }

// TestHostAddresses: a permitted name that resolves to one of the host's
// own interface addresses, or to an IPv6 address that carries a loopback
// or private IPv4 one (IPv4-compatible, 6to4, Teredo), is refused without
// HostAccess and dialed with it. The host's own address here is a
// documentation address the test declares; every dial goes to 127.0.0.1.
func TestHostAddresses(t *testing.T) {
	srv := newServer(t, false, http.HandlerFunc(echoHandler))
	own := netip.MustParseAddr("203.0.113.9")
	local := func() ([]netip.Addr, error) { return []netip.Addr{netip.MustParseAddr("127.0.0.1"), own}, nil }
	names := map[string]string{
		"own.test":       own.String(),
		"own6to4.test":   "2002:cb00:7109::1", // 6to4 of the host's own address
		"v4compat.test":  "::7f00:1",
		"sixtofour.test": "2002:a00:1::1",
		"teredo.test":    "2001:0:4136:e378:8000:63bf:80ff:fffe",
	}
	res := netproxy.StaticResolver{}
	for name, a := range names {
		res[name] = []netip.Addr{netip.MustParseAddr(a)}
	}
	for name := range names {
		for _, hostAccess := range []bool{false, true} {
			var dialer loopDialer
			_, addr := startProxy(t, netproxy.Policy{Allow: []string{"*"}, HostAccess: hostAccess},
				netproxy.WithResolver(res), netproxy.WithDialer(&dialer), netproxy.WithLocalAddrs(local),
				netproxy.WithPorts(srv.port))
			resp, err := client(t, addr, nil).Get(srv.url(name, "/"))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			dialed := dialer.all()
			if !hostAccess && (resp.StatusCode != 403 || len(dialed) != 0 || !strings.Contains(string(body), "hostAccess = true")) {
				t.Errorf("%s without host access: got %d %q, dialed %v; want 403 suggesting hostAccess, nothing dialed", name, resp.StatusCode, body, dialed)
			}
			if hostAccess && (resp.StatusCode != 200 || len(dialed) != 1) {
				t.Errorf("%s with host access: got %d %q, dialed %v; want 200 through one", name, resp.StatusCode, body, dialed)
			}
		}
	}
}

// TestDenyByAddress: a deny pattern that is an IP literal also refuses a
// name that resolves to that address (or to an IPv6 address carrying it),
// and an IP literal request that carries it.
func TestDenyByAddress(t *testing.T) {
	srv := newServer(t, false, http.HandlerFunc(echoHandler))
	res := netproxy.StaticResolver{
		"cdn.test":   {netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("198.51.100.8")},
		"nat64.test": {netip.MustParseAddr("64:ff9b::c633:6408")},
		"fine.test":  {netip.MustParseAddr("198.51.100.7")},
	}
	var dialer loopDialer
	_, addr := startProxy(t, netproxy.Policy{Allow: []string{"*", "[64:ff9b::c633:6408]"}, Deny: []string{"198.51.100.8"}},
		netproxy.WithResolver(res), netproxy.WithDialer(&dialer), netproxy.WithLocalAddrs(noLocalAddrs),
		netproxy.WithPorts(srv.port))
	for _, host := range []string{"cdn.test", "nat64.test", "[64:ff9b::c633:6408]"} {
		_, _, resp := rawConnect(t, addr, fmt.Sprintf("%s:%d", host, srv.port))
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 403 || !strings.Contains(string(body), `deny pattern "198.51.100.8"`) {
			t.Errorf("%s: got %d %q, want 403 naming the deny pattern", host, resp.StatusCode, body)
		}
	}
	if d := dialer.all(); len(d) != 0 {
		t.Errorf("dialed %v for denied names", d)
	}
	_, _, resp := rawConnect(t, addr, fmt.Sprintf("fine.test:%d", srv.port))
	if resp.StatusCode != 200 {
		t.Errorf("fine.test: got %q, want 200", resp.Status)
	}
}
