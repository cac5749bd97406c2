package netproxy

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
)

// The address classes addrClass names. hostLifted are the ones HostAccess
// lifts: the host's own addresses and what the sandbox could reach through
// them.
const (
	classLoopback  = "loopback"
	classPrivate   = "private"
	classHost      = "host"
	classLinkLocal = "link-local"
	classUnspec    = "unspecified"
	classMulticast = "multicast"
	classBroadcast = "broadcast"
	classTeredo    = "Teredo"
	classV4Compat  = "IPv4-compatible"
	classInvalid   = "invalid"
)

var hostLifted = []string{classLoopback, classPrivate, classHost, classTeredo, classV4Compat}

// addrRefusal says why the proxy will not dial a, or "" when it may. a has
// been unmapped; local holds the host's own interface addresses.
func (m *matcher) addrRefusal(t target, a netip.Addr, local []netip.Addr) string {
	class := addrClass(a)
	if class == "" && isLocal(a, local) {
		class = classHost
	}
	switch class {
	case "":
		return ""
	case classUnspec, classMulticast, classBroadcast, classInvalid:
		return class
	}
	if t.explicit {
		return ""
	}
	if m.hostAccess && slices.Contains(hostLifted, class) {
		return ""
	}
	return class
}

// isLocal reports whether a, or the IPv4 address it embeds, is one of the
// host's own addresses.
func isLocal(a netip.Addr, local []netip.Addr) bool {
	if slices.Contains(local, a) {
		return true
	}
	v4, _ := embeddedV4(a)
	return v4.IsValid() && slices.Contains(local, v4)
}

// describeClass is a class as the object of "it resolves to A, …".
func describeClass(class string) string {
	if class == classHost {
		return "one of this host's own addresses"
	}
	return article(class) + " address"
}

var (
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
	nat64Local = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour  = netip.MustParsePrefix("2002::/16")
	teredo     = netip.MustParsePrefix("2001::/32")
	v4compat   = netip.MustParsePrefix("::/96")
	v4transl   = netip.MustParsePrefix("::ffff:0:0:0/96")
	siteLocal  = netip.MustParsePrefix("fec0::/10")
	cgnat      = netip.MustParsePrefix("100.64.0.0/10")
	thisNet    = netip.MustParsePrefix("0.0.0.0/8")
	bcast      = netip.MustParseAddr("255.255.255.255")
	reserved   = netip.MustParsePrefix("240.0.0.0/4")
)

// embeddedV4 returns the IPv4 address an IPv6 address carries to (NAT64,
// IPv4-compatible ::a.b.c.d and its IPv4-translated cousin ::ffff:0:a.b.c.d,
// 6to4, Teredo's client), and which scheme it is, or an invalid address.
func embeddedV4(a netip.Addr) (netip.Addr, string) {
	if !a.Is6() || a.Is4In6() {
		return netip.Addr{}, ""
	}
	b := a.As16()
	switch {
	case nat64.Contains(a):
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), "NAT64"
	case v4compat.Contains(a) && !a.IsUnspecified() && !a.IsLoopback(), v4transl.Contains(a):
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), classV4Compat
	case sixToFour.Contains(a):
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), "6to4"
	case teredo.Contains(a):
		return netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]}), classTeredo
	}
	return netip.Addr{}, ""
}

// addrClass names the special range a belongs to, or "" for an ordinary
// public address. An address that embeds an IPv4 one (NAT64, 6to4,
// IPv4-compatible, Teredo) takes that address's class; IPv4-compatible
// and Teredo addresses are special even when what they embed is not.
func addrClass(a netip.Addr) string {
	a = a.Unmap()
	if v4, scheme := embeddedV4(a); v4.IsValid() {
		if c := addrClass(v4); c != "" {
			return c
		}
		if scheme == classV4Compat || scheme == classTeredo {
			return scheme
		}
		return ""
	}
	switch {
	case !a.IsValid():
		return classInvalid
	case a.IsUnspecified() || thisNet.Contains(a):
		return classUnspec
	case a.IsLoopback():
		return classLoopback
	case a.IsPrivate() || cgnat.Contains(a) || nat64Local.Contains(a) || siteLocal.Contains(a):
		return classPrivate
	case a.IsLinkLocalUnicast():
		return classLinkLocal
	case a.IsMulticast() || a.IsInterfaceLocalMulticast() || a.IsLinkLocalMulticast():
		return classMulticast
	case a == bcast || reserved.Contains(a):
		return classBroadcast
	}
	return ""
}

// interfaceAddrs lists the host's own addresses, unmapped.
func interfaceAddrs() ([]netip.Addr, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("list this host's addresses: %w", err)
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(ipn.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out, nil
}

// deniedAddr returns the deny pattern that names a (or the IPv4 address a
// embeds) as an IP literal on port, if one does.
func (m *matcher) deniedAddr(a netip.Addr, port int) (Pattern, bool) {
	v4, _ := embeddedV4(a)
	for _, r := range m.deny {
		if r.ip.IsValid() && (r.port == 0 || r.port == port) && (r.ip == a || r.ip == v4) {
			return r, true
		}
	}
	return Pattern{}, false
}
