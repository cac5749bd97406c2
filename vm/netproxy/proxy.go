package netproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"sync"
	"time"
)

// Resolver looks up the addresses of a host name. *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Dialer opens the proxy's upstream connections. *net.Dialer is one; the
// address it is given is always an IP literal and port the policy checked.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Defaults for the options.
const (
	DefaultDialTimeout    = 10 * time.Second
	DefaultIdleTimeout    = 5 * time.Minute
	DefaultHeaderTimeout  = 10 * time.Second
	DefaultMaxHeaderBytes = 64 << 10
	DefaultMaxConns       = 256
)

// Proxy is an HTTP proxy enforcing one Policy. It is safe for concurrent
// use; Close ends every connection it serves.
type Proxy struct {
	policy   Policy
	install  bool
	ports    []int
	m        *matcher
	resolver Resolver
	dialer   Dialer
	local    func() ([]netip.Addr, error)
	onEvent  func(Event)
	tool     string

	dialTimeout, idleTimeout, headerTimeout time.Duration
	maxHeaderBytes, maxConns                int

	transport *http.Transport
	forwarder *httputil.ReverseProxy
	srv       *http.Server
	ln        *connListener
	start     sync.Once

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc

	mu      sync.Mutex
	closed  bool
	conns   map[*trackedConn]struct{} // every client connection being served
	tunnels sync.WaitGroup
}

// Option configures a Proxy.
type Option func(*Proxy)

// WithResolver replaces the host's DNS resolver (net.DefaultResolver).
func WithResolver(r Resolver) Option { return func(p *Proxy) { p.resolver = r } }

// WithDialer replaces the dialer of upstream connections (a net.Dialer).
func WithDialer(d Dialer) Option { return func(p *Proxy) { p.dialer = d } }

// WithLocalAddrs replaces the source of the host's own addresses (its
// interfaces' addresses, read at each resolution), which a name may not
// resolve to without HostAccess.
func WithLocalAddrs(fn func() ([]netip.Addr, error)) Option { return func(p *Proxy) { p.local = fn } }

// WithEvents calls fn with every decision. fn is called from the
// connections' goroutines, concurrently, and must not block.
func WithEvents(fn func(Event)) Option { return func(p *Proxy) { p.onEvent = fn } }

// WithTool names the tool in refusal messages ("[overrides.TOOL.network]").
func WithTool(name string) Option { return func(p *Proxy) { p.tool = name } }

// WithInstall adds the policy's InstallAllow patterns: use it for setup and
// install runs only.
func WithInstall(install bool) Option { return func(p *Proxy) { p.install = install } }

// WithPorts replaces the ports a pattern without a port allows (80, 443).
func WithPorts(ports ...int) Option { return func(p *Proxy) { p.ports = ports } }

// WithDialTimeout bounds resolving and connecting to a destination.
func WithDialTimeout(d time.Duration) Option { return func(p *Proxy) { p.dialTimeout = d } }

// WithIdleTimeout closes a tunnel, or a client connection between
// requests, after d without a byte in either direction.
func WithIdleTimeout(d time.Duration) Option { return func(p *Proxy) { p.idleTimeout = d } }

// WithHeaderTimeout bounds the time a client takes to send a request's
// headers (slow clients are cut off).
func WithHeaderTimeout(d time.Duration) Option { return func(p *Proxy) { p.headerTimeout = d } }

// WithMaxHeaderBytes bounds the size of a request's headers.
func WithMaxHeaderBytes(n int) Option { return func(p *Proxy) { p.maxHeaderBytes = n } }

// WithMaxConns bounds the client connections served at once; a sandbox
// that opens more gets 503 on the extra ones.
func WithMaxConns(n int) Option { return func(p *Proxy) { p.maxConns = n } }

// New returns a proxy enforcing policy. A pattern that cannot be read makes
// it refuse everything (see Policy.Validate to report that earlier).
func New(policy Policy, opts ...Option) *Proxy {
	p := &Proxy{
		policy:         policy,
		ports:          []int{80, 443},
		resolver:       net.DefaultResolver,
		dialer:         &net.Dialer{},
		local:          interfaceAddrs,
		dialTimeout:    DefaultDialTimeout,
		idleTimeout:    DefaultIdleTimeout,
		headerTimeout:  DefaultHeaderTimeout,
		maxHeaderBytes: DefaultMaxHeaderBytes,
		maxConns:       DefaultMaxConns,
		conns:          make(map[*trackedConn]struct{}),
	}
	for _, o := range opts {
		o(p)
	}
	p.m = compile(policy, p.install, p.ports)
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.transport = &http.Transport{
		Proxy:                  nil, // never the host's own proxy settings
		DialContext:            p.dialForward,
		DisableCompression:     true,
		MaxIdleConnsPerHost:    8,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    p.dialTimeout,
		ExpectContinueTimeout:  time.Second,
		WriteBufferSize:        64 << 10,
		ReadBufferSize:         64 << 10,
		MaxResponseHeaderBytes: 1 << 20,
	}
	p.forwarder = &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.Out.Host = "" },
		Transport:     p.transport,
		FlushInterval: -1,
		BufferPool:    bufPool{},
		ErrorHandler:  p.forwardError,
		ErrorLog:      log.New(io.Discard, "", 0),
	}
	p.ln = &connListener{ch: make(chan net.Conn), done: make(chan struct{})}
	p.srv = &http.Server{
		Handler:           p,
		ReadHeaderTimeout: p.headerTimeout,
		IdleTimeout:       p.idleTimeout,
		MaxHeaderBytes:    p.maxHeaderBytes,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	p.srv.SetKeepAlivesEnabled(true)
	return p
}

// ServeConn serves one client connection (a stream from inside a sandbox)
// until the client or the proxy closes it. c must support deadlines.
func (p *Proxy) ServeConn(c net.Conn) {
	p.start.Do(func() { go func() { _ = p.srv.Serve(p.ln) }() })
	tc := &trackedConn{Conn: c, done: make(chan struct{})}
	p.mu.Lock()
	if p.closed || len(p.conns) >= p.maxConns {
		busy := !p.closed
		p.mu.Unlock()
		if busy {
			tooMany(c, p.maxConns)
		}
		_ = c.Close()
		return
	}
	p.conns[tc] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, tc)
		p.mu.Unlock()
	}()
	select {
	case p.ln.ch <- tc:
	case <-p.ln.done:
		_ = tc.Close()
		return
	}
	<-tc.done
}

// tooMany answers a connection past the limit without reading it.
func tooMany(c net.Conn, limit int) {
	body := fmt.Sprintf("silo: the sandbox has %d connections open through its network proxy, the most it may; close some and retry.\n", limit)
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
}

// Serve accepts connections on l and serves each until l fails or the
// proxy is closed; it returns nil after Close.
func (p *Proxy) Serve(l net.Listener) error {
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-p.ln.done:
			_ = l.Close()
		case <-stop:
		}
	}()
	for {
		c, err := l.Accept()
		if err != nil {
			if p.isClosed() {
				return nil
			}
			return err
		}
		go p.ServeConn(c)
	}
}

// Close stops the proxy: every client connection, tunnel and upgraded
// connection is closed, and Close waits for the tunnels to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.cancel()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.ln.close()
	err := p.srv.Close()
	p.transport.CloseIdleConnections()
	p.tunnels.Wait()
	return err
}

func (p *Proxy) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// startTunnel counts a tunnel that Close must wait for; it reports false
// once the proxy is closed.
func (p *Proxy) startTunnel() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.tunnels.Add(1)
	return true
}

// emit reports an event, if anyone listens.
func (p *Proxy) emit(e Event) {
	if p.onEvent != nil {
		e.Time = time.Now()
		p.onEvent(e)
	}
}

// connListener hands ServeConn's connections to the http.Server.
type connListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) close() { l.once.Do(func() { close(l.done) }) }

func (l *connListener) Close() error { l.close(); return nil }

func (l *connListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "silo" }
func (pipeAddr) String() string  { return "sandbox" }

// trackedConn tells ServeConn when the server or a tunnel closed c.
type trackedConn struct {
	net.Conn
	once sync.Once
	done chan struct{}
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { close(c.done) })
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// CloseWrite half-closes the connection when the stream underneath can.
func (c *trackedConn) CloseWrite() error {
	if cw, ok := c.Conn.(closeWriter); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// bufPool recycles the 32 KiB copy buffers of tunnels and forwarded bodies.
type bufPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufPool) Get() []byte { return *buffers.Get().(*[]byte) }

func (bufPool) Put(b []byte) {
	if cap(b) >= 32<<10 {
		b = b[:32<<10]
		buffers.Put(&b)
	}
}
