package netproxy

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RefusedError is a request the policy refused.
type RefusedError struct {
	// Host and Port are the destination as the request named it (the host
	// normalised when it could be).
	Host string
	Port int
	// Reason says why, as a sentence fragment.
	Reason string
	// Suggest is the allow pattern that would let the request through,
	// or "" when adding one would not help.
	Suggest string
	// NeedsHostAccess is set when the request would pass with HostAccess.
	NeedsHostAccess bool
}

// Error implements error.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("silo's network policy blocked %s: %s", e.Dest(), e.Reason)
}

// Dest is "host:port".
func (e *RefusedError) Dest() string {
	return net.JoinHostPort(e.Host, strconv.Itoa(e.Port))
}

// Advice is the message a refused tool shows its user: what was blocked,
// why, and the silo.toml lines that would allow it. tool may be "".
func (e *RefusedError) Advice(tool string) string {
	if tool == "" {
		tool = "TOOL"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s.\n", e.Error())
	switch {
	case e.NeedsHostAccess:
		fmt.Fprintf(&b, "To let %s reach the host's own services, set in silo.toml:\n\n"+
			"    [overrides.%s.network]\n    hostAccess = true\n", tool, tool)
	case e.Suggest != "":
		fmt.Fprintf(&b, "To allow it, add it to silo.toml:\n\n"+
			"    [overrides.%s.network]\n    proxy.allow = [%q]\n", tool, e.Suggest)
	}
	return b.String()
}

// Event is one decision of the proxy: a tunnel or upstream connection
// opened, or a request refused.
type Event struct {
	Time time.Time
	// Method is "CONNECT" for a tunnel, else the forwarded request's method.
	Method string
	Host   string
	Port   int
	// Allowed is true when a connection to Addr was opened.
	Allowed bool
	Addr    netip.AddrPort
	// Refused says why, when Allowed is false.
	Refused *RefusedError
}

// String reads "blocked github.com:443: it is not in the allow list" or
// "allowed pypi.org:443 (151.101.0.223:443)".
func (e Event) String() string {
	dest := net.JoinHostPort(e.Host, strconv.Itoa(e.Port))
	if e.Allowed {
		return fmt.Sprintf("allowed %s (%s)", dest, e.Addr)
	}
	reason := "refused"
	if e.Refused != nil {
		reason = e.Refused.Reason
	}
	return fmt.Sprintf("blocked %s: %s", dest, reason)
}

// PrintRefusals returns an event handler for WithEvents that writes one
// line to w for each refused destination, the first time it is refused:
// "silo: blocked github.com:443: it is not in the allow list". Allowed
// connections are not printed. It is safe for concurrent use.
func PrintRefusals(w io.Writer) func(Event) {
	var mu sync.Mutex
	seen := make(map[string]bool)
	return func(e Event) {
		if e.Allowed {
			return
		}
		dest := net.JoinHostPort(e.Host, strconv.Itoa(e.Port))
		mu.Lock()
		defer mu.Unlock()
		if seen[dest] {
			return
		}
		seen[dest] = true
		fmt.Fprintf(w, "silo: %s\n", e)
	}
}
