package netproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// ServeHTTP serves one proxy request: CONNECT opens a tunnel, an
// absolute-URI request is forwarded. Anything else is a client error.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		p.connect(w, r)
		return
	}
	p.forward(w, r)
}

// connect checks and dials a CONNECT target, then joins the client to it.
func (p *Proxy) connect(w http.ResponseWriter, r *http.Request) {
	host, portStr, err := net.SplitHostPort(r.Host)
	if err != nil {
		clientError(w, fmt.Sprintf("CONNECT needs host:port, as in CONNECT example.com:443, not %q", r.Host))
		return
	}
	port, err := parsePort(portStr)
	if err != nil {
		clientError(w, "CONNECT "+err.Error())
		return
	}
	t, err := p.m.decide(host, port)
	if err == nil {
		var upstream net.Conn
		// Not r.Context(): the server cancels that when the client
		// half-closes, and a client may send its whole request behind the
		// CONNECT line and shut its side before the tunnel is up. Close
		// still cancels the dial.
		if upstream, err = p.dial(p.ctx, t, r.Method); err == nil {
			p.join(w, upstream)
			return
		}
	}
	var refused *RefusedError
	if errors.As(err, &refused) {
		p.refuseConnect(w, r, refused)
		return
	}
	gatewayError(w, net.JoinHostPort(host, portStr), err)
}

// join hijacks the client connection, answers 200 and relays bytes both
// ways until either side is done or the tunnel idles out.
func (p *Proxy) join(w http.ResponseWriter, upstream net.Conn) {
	client, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		_ = upstream.Close()
		return
	}
	if !p.startTunnel() {
		_ = client.Close()
		_ = upstream.Close()
		return
	}
	defer p.tunnels.Done()
	_ = client.SetDeadline(time.Time{})
	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		_ = client.Close()
		_ = upstream.Close()
		return
	}
	// A client may send its first bytes (a TLS hello) right behind the
	// CONNECT; the server has already read them.
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		if _, err := upstream.Write(b); err != nil {
			_ = client.Close()
			_ = upstream.Close()
			return
		}
	}
	p.tunnel(client, upstream)
}

// forward checks an absolute-URI request and hands it to the forwarder.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request) {
	if !r.URL.IsAbs() || r.URL.Host == "" {
		clientError(w, "this is silo's network proxy: send requests with an absolute URI "+
			"(set HTTP_PROXY=http://127.0.0.1:3128), or CONNECT host:port")
		return
	}
	var port int
	switch r.URL.Scheme {
	case "http":
		port = 80
	case "https":
		port = 443
	default:
		clientError(w, fmt.Sprintf("silo's network proxy forwards http and https, not %q", r.URL.Scheme))
		return
	}
	if s := r.URL.Port(); s != "" {
		var err error
		if port, err = parsePort(s); err != nil {
			clientError(w, err.Error())
			return
		}
	}
	if _, err := p.m.decide(r.URL.Hostname(), port); err != nil {
		p.forwardError(w, r, err)
		return
	}
	ctx := context.WithValue(r.Context(), methodKey{}, r.Method)
	p.forwarder.ServeHTTP(w, r.WithContext(ctx))
}

// methodKey carries a forwarded request's method to the dialer's events.
type methodKey struct{}

// dialForward is the forwarder's dialer: the same checks as CONNECT.
func (p *Proxy) dialForward(ctx context.Context, _, addr string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dial %q: %w", addr, err)
	}
	port, err := parsePort(portStr)
	if err != nil {
		return nil, err
	}
	t, err := p.m.decide(host, port)
	if err != nil {
		return nil, err
	}
	method, _ := ctx.Value(methodKey{}).(string)
	return p.dial(ctx, t, method)
}

// forwardError answers a forwarded request that could not be completed.
func (p *Proxy) forwardError(w http.ResponseWriter, r *http.Request, err error) {
	var refused *RefusedError
	if errors.As(err, &refused) {
		p.refuse(w, r, refused)
		return
	}
	if r.Context().Err() != nil {
		return // the client went away
	}
	gatewayError(w, r.URL.Host, err)
}

// refuse answers 403 with the advice and reports the event.
func (p *Proxy) refuse(w http.ResponseWriter, r *http.Request, e *RefusedError) {
	p.emit(Event{Method: r.Method, Host: e.Host, Port: e.Port, Refused: e})
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Silo-Refused", printable(e.Dest()))
	h.Set("Connection", "close")
	w.WriteHeader(http.StatusForbidden)
	_, _ = io.WriteString(w, e.Advice(p.tool))
}

// refuseConnect answers a refused CONNECT and closes the connection. The
// status line carries the reason too: clients such as pip show it.
func (p *Proxy) refuseConnect(w http.ResponseWriter, r *http.Request, e *RefusedError) {
	c, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		p.refuse(w, r, e)
		return
	}
	defer c.Close()
	p.emit(Event{Method: r.Method, Host: e.Host, Port: e.Port, Refused: e})
	body := e.Advice(p.tool)
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 403 Forbidden by silo: %s is not allowed\r\n", printable(e.Dest()))
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\n")
	fmt.Fprintf(&b, "X-Silo-Refused: %s\r\n", printable(e.Dest()))
	fmt.Fprintf(&b, "Content-Length: %d\r\nConnection: close\r\n\r\n", len(body))
	b.WriteString(body)
	_ = c.SetWriteDeadline(time.Now().Add(p.headerTimeout))
	_, _ = io.WriteString(c, b.String())
}

// printable keeps the visible ASCII of s, for a header or status line.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}

// clientError answers 400 with msg.
func clientError(w http.ResponseWriter, msg string) {
	w.Header().Set("Connection", "close")
	http.Error(w, "silo: "+msg, http.StatusBadRequest)
}

// gatewayError answers 502 (or 504 on a timeout) for a destination that
// could not be reached although the policy allowed it.
func gatewayError(w http.ResponseWriter, dest string, err error) {
	code := http.StatusBadGateway
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		code = http.StatusGatewayTimeout
	}
	w.Header().Set("Connection", "close")
	http.Error(w, fmt.Sprintf("silo: could not reach %s (allowed by the policy): %v", printable(dest), err), code)
}
