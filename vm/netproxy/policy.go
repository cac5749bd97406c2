package netproxy

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Policy is what one sandbox may reach through the proxy. It is the one
// policy type from configuration to proxy: lock.Network and
// vm.NetworkPolicy are this type, and `silo config show --json` prints it.
// The zero value lets nothing through.
type Policy struct {
	// HostAccess lets the sandbox reach the host's loopback and private
	// addresses.
	HostAccess bool `json:"hostAccess"`
	// Allow and Deny are host patterns (see the package documentation
	// and ParsePattern). Deny wins.
	Allow []string `json:"allow"`
	Deny  []string `json:"deny"`
	// InstallAllow are extra patterns allowed only while a setup or
	// install step runs; choose that with WithInstall.
	InstallAllow []string `json:"installAllow"`
}

// Enabled reports whether the policy lets anything through at all: when it
// does not, the sandbox gets no proxy and no proxy environment.
func (p Policy) Enabled(install bool) bool {
	return len(p.Allow) > 0 || p.HostAccess || (install && len(p.InstallAllow) > 0)
}

// Validate reports the first pattern that cannot be read, with the list
// it is in, so that config loading can reject it before anything runs.
func (p Policy) Validate() error {
	lists := []struct {
		key      string
		patterns []string
	}{{"proxy.allow", p.Allow}, {"proxy.deny", p.Deny}, {"proxy.installAllow", p.InstallAllow}}
	for _, l := range lists {
		for _, s := range l.patterns {
			if _, err := ParsePattern(s); err != nil {
				return fmt.Errorf("network %s: %w", l.key, err)
			}
		}
	}
	return nil
}

// HostAlias is the name a sandbox with HostAccess uses to reach the host's
// loopback through the proxy.
const HostAlias = "host.silo.internal"

// Pattern is one compiled host pattern. The zero value matches nothing;
// make one with ParsePattern.
type Pattern struct {
	raw      string
	name     string     // normalised name, or the suffix for a wildcard
	ip       netip.Addr // set for an IP literal pattern
	wildcard bool       // "*.name": names strictly below name
	any      bool       // "*": every name
	port     int        // 0: the default ports (allow) or every port (deny)
}

// String returns the pattern as written.
func (r Pattern) String() string { return r.raw }

// Port is the port the pattern names, or 0 when it names none.
func (r Pattern) Port() int { return r.port }

// matches reports whether the pattern covers name (or ip, for a literal)
// on port, ignoring the default-port rule that only Allow applies.
func (r Pattern) matches(name string, ip netip.Addr, port int) bool {
	if r.port != 0 && r.port != port {
		return false
	}
	switch {
	case r.ip.IsValid():
		return ip.IsValid() && r.ip == ip
	case ip.IsValid():
		return false
	case r.any:
		return true
	case r.wildcard:
		return strings.HasSuffix(name, "."+r.name)
	default:
		return name == r.name
	}
}

// ParsePattern reads one host pattern of an allow or deny list: the one
// grammar of the network policy, used by the proxy and by lock when it
// validates silo.toml. Its error is a sentence for the user that starts
// with the pattern, quoted.
func ParsePattern(s string) (Pattern, error) {
	r := Pattern{raw: s}
	if i := strings.Index(s, "://"); i >= 0 {
		host, _, _ := strings.Cut(s[i+3:], "/")
		return r, fmt.Errorf("pattern %q is a URL: write the host name only, such as %q", s, host)
	}
	host, port, err := splitPattern(strings.TrimSpace(s))
	if err != nil {
		return r, fmt.Errorf("pattern %q: %w", s, err)
	}
	r.port = port
	switch {
	case host == "*":
		r.any = true
		return r, nil
	case strings.HasPrefix(host, "*."):
		r.wildcard = true
		host = host[2:]
	}
	if strings.Contains(host, "*") {
		return r, fmt.Errorf("pattern %q: a wildcard must be the whole pattern (*) or its first label (*.example.com)", s)
	}
	name, ip, err := normalizeHost(host)
	if err != nil {
		return r, fmt.Errorf("pattern %q: %w", s, err)
	}
	if ip.IsValid() && r.wildcard {
		return r, fmt.Errorf("pattern %q: an IP address cannot take a wildcard", s)
	}
	r.name, r.ip = name, ip
	return r, nil
}

// splitPattern splits "host", "host:port", "[v6]", "[v6]:port" or a bare
// IPv6 literal.
func splitPattern(s string) (host string, port int, err error) {
	if s == "" {
		return "", 0, errors.New("empty pattern")
	}
	if strings.Count(s, ":") > 1 && !strings.HasPrefix(s, "[") {
		return s, 0, nil // bare IPv6 literal
	}
	if !strings.Contains(s, ":") {
		return s, 0, nil
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		return s, 0, nil
	}
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, fmt.Errorf("write host or host:port: %w", err)
	}
	port, err = parsePort(p)
	return h, port, err
}

// parsePort reads a TCP port, 1 to 65535.
func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 || strings.HasPrefix(s, "+") {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", s)
	}
	return n, nil
}

// idnaProfile maps and validates internationalised names like a browser's
// lookup does, but leaves the ASCII character rules to validName so that
// names with underscores still pass.
var idnaProfile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.StrictDomainName(false))

// normalizeHost returns host as a lower-case ASCII name without a trailing
// dot, or as an IP literal. It refuses anything that is neither.
func normalizeHost(host string) (string, netip.Addr, error) {
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		ip, err := netip.ParseAddr(host[1 : len(host)-1])
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return "", netip.Addr{}, errors.New("it is not an IPv6 address (a zone such as %eth0 cannot be used)")
		}
		return "", ip.Unmap(), nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return "", netip.Addr{}, errors.New("an address with a zone (%eth0) cannot be used")
		}
		return "", ip.Unmap(), nil
	}
	name := strings.TrimSuffix(host, ".")
	if name == "" {
		return "", netip.Addr{}, errors.New("empty host name")
	}
	if !utf8.ValidString(name) {
		return "", netip.Addr{}, errors.New("it is not a valid host name: it is not UTF-8")
	}
	ascii, err := idnaProfile.ToASCII(name)
	if err != nil {
		return "", netip.Addr{}, fmt.Errorf("it is not a valid host name: %w", err)
	}
	// The punycode form must read back as itself, or two spellings could
	// name one host in different ways.
	if again, err := idnaProfile.ToASCII(ascii); err != nil || again != ascii {
		return "", netip.Addr{}, fmt.Errorf("it is not a valid host name: its punycode form %q does not read back", ascii)
	}
	ascii = strings.TrimSuffix(ascii, ".")
	// Mapping can turn full-width digits into an address: check again.
	if ip, err := netip.ParseAddr(ascii); err == nil {
		return "", ip.Unmap(), nil
	}
	if err := validName(ascii); err != nil {
		return "", netip.Addr{}, fmt.Errorf("it is not a valid host name: %w", err)
	}
	return ascii, netip.Addr{}, nil
}

// validName checks an ASCII DNS name: labels of letters, digits, '-' and
// '_', 1 to 63 bytes, 253 in all, and a last label that is not all digits
// (which would be a numeric address form such as 2130706433 or 127.1).
func validName(s string) error {
	if len(s) > 253 {
		return errors.New("longer than 253 bytes")
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return errors.New("a label is empty or longer than 63 bytes")
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
			if !ok {
				return fmt.Errorf("character %q is not allowed in a host name", c)
			}
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" || strings.HasPrefix(labels[len(labels)-1], "0x") {
		return errors.New("its last label is a number, so it would read as a numeric IP address: write a name, or an address in full (127.0.0.1)")
	}
	return nil
}
