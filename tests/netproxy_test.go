package tests

// The network policy end to end: a real sandbox (namespace backend), busybox
// wget and nc inside, the host-side proxy, and a real HTTP server on the
// host that counts the connections it gets.

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/silo-dev/silo/vm"
	_ "github.com/silo-dev/silo/vm/namespace"
)

// netEnv is a silo home with the busybox tool "bb" and a host server.
type netEnv struct {
	home, userHome string
	srv            *httptest.Server
	conns          atomic.Int64
	port           int
	hostIP         string // a non-loopback address of this host, or ""
}

func newNetEnv(t *testing.T) *netEnv {
	t.Helper()
	b, err := vm.NewRegistry(vm.Options{Home: t.TempDir()}).Lookup("namespace")
	if err != nil {
		t.Skipf("namespace backend not built in: %v", err)
	}
	if err := b.Available(); err != nil {
		t.Skipf("namespace backend cannot run here: %v", err)
	}
	e := &netEnv{home: t.TempDir(), userHome: t.TempDir()}
	image := "oci-layout:" + ociLayout(t, busyboxImage(t))
	npWrite(t, filepath.Join(e.home, "config.toml"), fmt.Sprintf("[tool.bb]\nimage = %q\n", image))

	// The server listens on every address, so that the sandbox could reach
	// it on the host's own address if its network were not cut.
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from the host, %s", r.URL.Path)
	}))
	e.srv.Listener = l
	e.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			e.conns.Add(1)
		}
	}
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	e.port = l.Addr().(*net.TCPAddr).Port
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
				e.hostIP = ipn.IP.String()
				break
			}
		}
	}
	return e
}

// project writes a workspace whose silo.toml uses bb with network, the
// [overrides.bb.network] table's body.
func (e *netEnv) project(t *testing.T, network string) string {
	t.Helper()
	ws := t.TempDir()
	toml := "tools = [\"bb\"]\n"
	if network != "" {
		toml += "[overrides.bb.network]\n" + network + "\n"
	}
	writeTrusted(t, e.home, filepath.Join(ws, "silo.toml"), toml)
	return ws
}

// sh runs a shell script in bb.
func (e *netEnv) sh(t *testing.T, ws, script string) result {
	t.Helper()
	env := []string{"HOME=" + e.userHome, "SILO_BACKEND=namespace"}
	return silo(t, e.home, ws, env, nil, "exec", "bb", "sh", "-c", script)
}

func npWrite(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestNetproxyPolicy walks a user through a refusal: the request is
// blocked with advice, the advice goes into silo.toml, and the request
// passes.
func TestNetproxyPolicy(t *testing.T) {
	e := newNetEnv(t)
	url := fmt.Sprintf("http://host.silo.internal:%d/x", e.port)

	// Some network, but not the host's: refused, with the key to set.
	ws := e.project(t, `proxy.allow = ["pypi.org"]`)
	r := e.sh(t, ws, "wget -q -O- "+url+"; echo exit=$?")
	if !strings.Contains(r.Stdout, "exit=1") || e.conns.Load() != 0 {
		t.Fatalf("without hostAccess: stdout %q stderr %q, host server saw %d connections; want a refusal and none",
			r.Stdout, r.Stderr, e.conns.Load())
	}
	// The refusal's body is what a tool shows its user.
	r = e.sh(t, ws, "wget -S -O- "+url+" 2>&1; true")
	if !strings.Contains(r.Stdout, "403") {
		t.Errorf("wget output %q lacks the 403", r.Stdout)
	}

	// The advice applied: now it passes.
	ws = e.project(t, "hostAccess = true\nproxy.allow = [\"pypi.org\"]")
	r = e.sh(t, ws, "wget -q -O- "+url)
	if r.Code != 0 || r.Stdout != "hello from the host, /x" || e.conns.Load() != 1 {
		t.Fatalf("with hostAccess: exit %d stdout %q stderr %q, %d connections; want the host's page through one",
			r.Code, r.Stdout, r.Stderr, e.conns.Load())
	}

	// A name outside the allow list is refused before any DNS lookup, and a
	// tunnel to it too.
	r = e.sh(t, ws, "wget -q -O- http://github.com/ 2>&1; echo exit=$?")
	if !strings.Contains(r.Stdout, "403") || !strings.Contains(r.Stdout, "exit=1") {
		t.Errorf("github.com: got %q, want a 403", r.Stdout)
	}
	r = e.sh(t, ws, `printf 'CONNECT github.com:443 HTTP/1.1\r\nHost: github.com:443\r\n\r\n' | nc 127.0.0.1 3128`)
	for _, want := range []string{"403 Forbidden by silo", "blocked github.com:443", "[overrides.bb.network]", `proxy.allow = ["github.com"]`} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("CONNECT github.com: answer %q lacks %q", r.Stdout, want)
		}
	}

	// CONNECT to an allowed destination carries bytes both ways.
	before := e.conns.Load()
	r = e.sh(t, ws, fmt.Sprintf(`printf 'CONNECT host.silo.internal:%d HTTP/1.1\r\nHost: x\r\n\r\nGET /tunnel HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | nc 127.0.0.1 3128`, e.port))
	if !strings.Contains(r.Stdout, "200 Connection established") || !strings.Contains(r.Stdout, "hello from the host, /tunnel") ||
		e.conns.Load() != before+1 {
		t.Errorf("CONNECT tunnel: got %q (stderr %q)", r.Stdout, r.Stderr)
	}
}

// TestNetproxyNoWayAround: the proxy is the only way out. The sandbox's
// loopback is its own, the host's address is unreachable, and a tool with
// no network gets no proxy at all.
func TestNetproxyNoWayAround(t *testing.T) {
	e := newNetEnv(t)
	ws := e.project(t, `proxy.allow = ["pypi.org"]`)
	targets := []string{fmt.Sprintf("http://127.0.0.1:%d/", e.port)}
	if e.hostIP != "" {
		targets = append(targets, fmt.Sprintf("http://%s:%d/", e.hostIP, e.port))
	}
	for _, u := range targets {
		// Bypass the proxy on purpose.
		r := e.sh(t, ws, "unset http_proxy HTTP_PROXY; wget -q -T 5 -O- "+u+"; echo exit=$?")
		if !strings.Contains(r.Stdout, "exit=1") || strings.Contains(r.Stdout, "hello") {
			t.Errorf("direct %s: got %q, want a failure", u, r.Stdout)
		}
		// Through the proxy: an IP literal is refused.
		r = e.sh(t, ws, "wget -q -O- "+u+" 2>&1; echo exit=$?")
		if !strings.Contains(r.Stdout, "exit=1") || strings.Contains(r.Stdout, "hello") {
			t.Errorf("proxied %s: got %q, want a refusal", u, r.Stdout)
		}
	}
	if n := e.conns.Load(); n != 0 {
		t.Errorf("the host server saw %d connections, want 0", n)
	}

	// No network in the policy: no proxy environment, nothing on 3128.
	ws = e.project(t, "")
	r := e.sh(t, ws, `echo "proxy=${http_proxy:-none}"; printf 'GET / HTTP/1.0\r\n\r\n' | nc 127.0.0.1 3128; echo "nc=$?"`)
	if !strings.Contains(r.Stdout, "proxy=none") || strings.Contains(r.Stdout, "HTTP/1") {
		t.Errorf("no network: got %q, want no proxy", r.Stdout)
	}
}
