// Package netproxy is the host side of a sandbox's network: an HTTP proxy
// (CONNECT tunnels and plain absolute-URI forwarding) that lets through only
// the hosts a tool's policy allows.
//
// A sandbox has a loopback interface and nothing else. Its agent listens on
// 127.0.0.1:3128 inside, forwards every accepted connection to the host as a
// multiplexed stream, and the host hands each stream to
// (*Proxy).ServeConn. The guest environment then carries
//
//	HTTP_PROXY=http://127.0.0.1:3128   http_proxy=http://127.0.0.1:3128
//	HTTPS_PROXY=http://127.0.0.1:3128  https_proxy=http://127.0.0.1:3128
//	NO_PROXY=localhost,127.0.0.1,::1   no_proxy=localhost,127.0.0.1,::1
//
// (session.ProxyEnv writes it, in that one place), and only when the policy
// allows some network at all.
//
// # Policy
//
// Policy is the one policy type from configuration to proxy: lock.Network
// (what silo.toml's [tool.T.network] table loads into) and vm.NetworkPolicy
// (what a sandbox's Spec carries) are this type, so nothing is copied field
// by field between the file and the proxy.
//
// # Patterns
//
// Allow and Deny hold host patterns. ParsePattern is their one grammar:
// the proxy compiles its policy with it, and lock validates silo.toml with
// it, so a pattern is accepted or refused the same way at config load
// (with file:line:column) and at run time. Patterns are matched
// case-insensitively after normalisation (lower case, one trailing dot
// dropped, internationalised names converted to their punycode "xn--"
// form with golang.org/x/net/idna, so "bücher.de" allows
// "xn--bcher-kva.de"; a name that cannot be converted is refused):
//
//	pypi.org             exactly pypi.org
//	*.pythonhosted.org   any name below pythonhosted.org, at any depth;
//	                     NOT pythonhosted.org itself (list both if needed)
//	*                    any host name (never an IP literal)
//	203.0.113.7          that IP literal; IP literals match nothing else
//	[2001:db8::1]        an IPv6 literal (bare 2001:db8::1 also reads)
//	pypi.org:8443        a pattern may name one port (see Ports)
//
// Refused: a URL ("https://pypi.org/simple": write the host only); a name
// whose last label is all digits or starts with 0x ("127.1", "foo.123",
// "0x7f.1", "2130706433"), which resolvers read as a numeric address (write
// an address in full dotted form); an address with a zone
// ("[fe80::1%eth0]"); "[203.0.113.7]" (brackets are for IPv6); a wildcard
// anywhere but the whole pattern or its first label; an IP literal with a
// wildcard; empty labels; characters other than letters, digits, '-' and
// '_' once mapped; a port outside 1 to 65535.
//
// Deny wins over Allow. A pattern silo cannot read makes the proxy refuse
// everything, with a message naming the pattern: a typo in a deny list must
// not open the network (lock refuses such a file before it gets here).
//
// # Ports
//
// A pattern without a port allows ports 80 and 443 only (WithPorts changes
// that default). A pattern with a port allows that port only. A deny
// pattern without a port denies every port.
//
// # Addresses
//
// A name is resolved once, on the host, and the proxy dials exactly the
// addresses it checked (WithResolver and WithDialer replace the host's
// resolver and dialer). Addresses that are loopback, private (RFC 1918,
// fc00::/7, fec0::/10, 100.64.0.0/10, local-use NAT64 64:ff9b:1::/48),
// link-local, or one of the host's own interface addresses (read at each
// resolution; WithLocalAddrs replaces the source) are refused, so that an
// allowed name that resolves to 127.0.0.1 or to the host's own address
// (DNS rebinding) cannot reach the host's own services. An IPv6 address
// that carries an IPv4 one takes that address's class: IPv4-mapped
// ::ffff:a.b.c.d, NAT64 64:ff9b::/96, IPv4-compatible ::a.b.c.d (and
// IPv4-translated ::ffff:0:a.b.c.d), 6to4 2002::/16 and Teredo 2001::/32
// (its client address); IPv4-compatible and Teredo addresses are refused
// even when what they carry is public, since no real host is reached that
// way. HostAccess lifts the loopback,
// private, own-address, IPv4-compatible and Teredo refusals, and also
// allows the name host.silo.internal (the host's loopback) and loopback IP
// literals on any port. Link-local (cloud metadata at 169.254.169.254),
// unspecified, multicast and broadcast addresses stay refused unless the
// IP literal itself is in Allow (unspecified, multicast and broadcast:
// always); an IP literal in Allow is the user's choice and skips the
// class checks.
//
// A deny pattern that is an IP literal refuses that address however it is
// reached: a request for the literal, for an IPv6 address that carries it,
// and a name any of whose addresses is it (the whole name is refused).
//
// # Refusals
//
// A refused request gets 403 with a body (and, for CONNECT, a status
// line) saying which host was refused and which silo.toml key would allow
// it; WithEvents receives every decision (a refusal, or an upstream
// connection opened: one per tunnel, one per kept-alive upstream
// connection for forwarded requests) so that silo can print
// "blocked github.com" (PrintRefusals does that).
//
// # Limits
//
// Request headers must arrive within the header timeout (10 s) and fit in
// 64 KiB; resolving and connecting get 10 s; a tunnel, or a client
// connection between requests, that moves no byte for 5 minutes is
// closed; at most 256 client connections are served at once (503 past
// that; a sandbox's host session takes fewer streams at once, within its
// memory budget: see package vm/session). Bodies stream both ways in
// 32 KiB buffers, never held whole.
// Protocol upgrades of plain-HTTP requests (ws://) are relayed but have no
// idle timeout of their own; Close ends them with everything else.
package netproxy
