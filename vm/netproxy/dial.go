package netproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// dial resolves t once, drops the addresses the policy refuses, and dials
// the remaining ones in order: the address connected to is always one that
// was checked.
func (p *Proxy) dial(ctx context.Context, t target, method string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, p.dialTimeout)
	defer cancel()
	addrs, err := p.resolve(ctx, t)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, a := range addrs {
		ap := netip.AddrPortFrom(a, uint16(t.port))
		c, err := p.dialer.DialContext(ctx, "tcp", ap.String())
		if err == nil {
			p.emit(Event{Method: method, Host: t.host, Port: t.port, Allowed: true, Addr: ap})
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("connect to %s: %w", net.JoinHostPort(t.host, strconv.Itoa(t.port)), errors.Join(errs...))
}

// lookup returns the addresses t names: the host's loopback for the host
// alias, the literal itself, or what the resolver answers for the name.
func (p *Proxy) lookup(ctx context.Context, t target) ([]netip.Addr, error) {
	switch {
	case t.hostAlias:
		return []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1})}, nil
	case t.ip.IsValid():
		return []netip.Addr{t.ip}, nil
	}
	addrs, err := p.resolver.LookupNetIP(ctx, "ip", t.host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", t.host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("resolve %s: no addresses", t.host)
	}
	for i := range addrs {
		addrs[i] = addrs[i].Unmap()
	}
	return addrs, nil
}

// resolve returns the addresses of t that the policy lets the proxy dial,
// or a *RefusedError when there are none. A name that resolves to an
// address a deny pattern names is refused whole.
func (p *Proxy) resolve(ctx context.Context, t target) ([]netip.Addr, error) {
	addrs, err := p.lookup(ctx, t)
	if err != nil {
		return nil, err
	}
	var local []netip.Addr
	if !p.m.hostAccess && !t.explicit {
		if local, err = p.local(); err != nil {
			return nil, &RefusedError{Host: t.host, Port: t.port,
				Reason: fmt.Sprintf("silo cannot tell whether it is one of this host's own addresses (%v)", err)}
		}
	}
	ok := make([]netip.Addr, 0, len(addrs))
	var bad netip.Addr
	var class string
	for _, a := range addrs {
		if r, denied := p.m.deniedAddr(a, t.port); denied {
			return nil, &RefusedError{Host: t.host, Port: t.port,
				Reason: fmt.Sprintf("it resolves to %s, which the deny pattern %q names (deny wins over allow)", a, r.raw)}
		}
		if why := p.m.addrRefusal(t, a, local); why != "" {
			if class == "" {
				bad, class = a, why
			}
			continue
		}
		ok = append(ok, a)
	}
	if len(ok) == 0 {
		return nil, p.addrRefused(t, bad, class)
	}
	return ok, nil
}

// addrRefused explains why no address of t may be dialed: bad, the first
// refused one, is of class.
func (p *Proxy) addrRefused(t target, bad netip.Addr, class string) *RefusedError {
	e := &RefusedError{Host: t.host, Port: t.port,
		Reason: fmt.Sprintf("it resolves to %s, %s, which a sandbox may not reach", bad, describeClass(class))}
	if t.ip.IsValid() {
		e.Reason = fmt.Sprintf("%s is %s, which a sandbox may not reach", bad, describeClass(class))
	}
	e.NeedsHostAccess = !p.m.hostAccess && slices.Contains(hostLifted, class)
	return e
}

// tunnel relays bytes between client and upstream until both directions
// are done, either fails, or neither moves a byte for the idle timeout.
// It closes both.
func (p *Proxy) tunnel(client, upstream net.Conn) {
	it := &idleTimer{conns: [2]net.Conn{client, upstream}, idle: p.idleTimeout}
	it.touch()
	it.timer = time.AfterFunc(time.Duration(1<<62), it.check)
	it.timer.Reset(p.idleTimeout)
	defer it.timer.Stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		it.pipe(upstream, client)
	}()
	it.pipe(client, upstream)
	<-done
	it.closeBoth()
}

// idleTimer closes a tunnel that has not moved a byte for idle.
type idleTimer struct {
	conns [2]net.Conn
	idle  time.Duration
	last  atomic.Int64 // UnixNano of the last byte read either way
	timer *time.Timer
	once  sync.Once
}

func (it *idleTimer) touch() { it.last.Store(time.Now().UnixNano()) }

func (it *idleTimer) check() {
	quiet := time.Since(time.Unix(0, it.last.Load()))
	if quiet >= it.idle {
		it.closeBoth()
		return
	}
	it.timer.Reset(it.idle - quiet)
}

func (it *idleTimer) closeBoth() {
	it.once.Do(func() {
		for _, c := range it.conns {
			_ = c.Close()
		}
	})
}

// closeWriter is a connection that can half-close (TCP, Unix sockets).
type closeWriter interface{ CloseWrite() error }

// pipe copies src to dst. At src's end of stream it half-closes dst, so
// that the other direction can finish; on any failure it closes both.
func (it *idleTimer) pipe(dst, src net.Conn) {
	buf := bufPool{}.Get()
	defer bufPool{}.Put(buf)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			it.touch()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				it.closeBoth()
				return
			}
		}
		if err != nil {
			cw, ok := dst.(closeWriter)
			if !errors.Is(err, io.EOF) || !ok || cw.CloseWrite() != nil {
				it.closeBoth()
			}
			return
		}
	}
}

// article prefixes "a" or "an".
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an " + word
	}
	return "a " + word
}
