package netproxy

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// matcher is a compiled Policy.
type matcher struct {
	allow, deny  []Pattern
	hostAccess   bool
	defaultPorts []int
	// broken is set when a pattern could not be read: then everything is
	// refused with this reason.
	broken error
}

// compile builds the matcher for p; install adds p.InstallAllow.
func compile(p Policy, install bool, ports []int) *matcher {
	m := &matcher{hostAccess: p.HostAccess, defaultPorts: ports}
	lists := []patternList{{"proxy.allow", p.Allow, &m.allow}, {"proxy.deny", p.Deny, &m.deny}}
	if install {
		lists = append(lists, patternList{"proxy.installAllow", p.InstallAllow, &m.allow})
	}
	for _, l := range lists {
		for _, s := range l.patterns {
			r, err := ParsePattern(s)
			if err != nil {
				m.broken = fmt.Errorf("the network policy's %s has an unreadable %w", l.key, err)
				return m
			}
			*l.dst = append(*l.dst, r)
		}
	}
	return m
}

// patternList is one list of a Policy and where its compiled form goes.
type patternList struct {
	key      string
	patterns []string
	dst      *[]Pattern
}

// target is an allowed destination, before resolution.
type target struct {
	host string     // the normalised name, or the IP literal as written
	ip   netip.Addr // set when the request named an IP literal
	port int
	// explicit: the IP literal itself is in Allow, so its address class
	// is the user's choice.
	explicit bool
	// hostAlias: HostAlias under HostAccess; dial the host's loopback.
	hostAlias bool
}

// decide checks a request for host:port against the policy. It returns the
// target to resolve and dial, or a *RefusedError.
func (m *matcher) decide(host string, port int) (target, error) {
	if m.broken != nil {
		return target{}, &RefusedError{Host: host, Port: port, Reason: m.broken.Error()}
	}
	name, ip, err := normalizeHost(host)
	if err != nil {
		return target{}, &RefusedError{Host: host, Port: port, Reason: err.Error()}
	}
	t := target{host: name, ip: ip, port: port}
	if ip.IsValid() {
		t.host = ip.String()
	}
	for _, r := range m.deny {
		if r.matches(name, ip, port) {
			return t, &RefusedError{Host: t.host, Port: port,
				Reason: fmt.Sprintf("it matches the deny pattern %q (deny wins over allow)", r.raw)}
		}
	}
	if r, ok := m.deniedAddr(ip, port); ip.IsValid() && ok {
		return t, &RefusedError{Host: t.host, Port: port,
			Reason: fmt.Sprintf("it carries the address the deny pattern %q names (deny wins over allow)", r.raw)}
	}
	if m.hostAccess && (name == HostAlias || ip.IsLoopback()) {
		t.hostAlias = name == HostAlias
		return t, nil
	}
	var portOnly bool
	for _, r := range m.allow {
		if !r.matches(name, ip, port) {
			continue
		}
		if r.port == 0 && !slices.Contains(m.defaultPorts, port) {
			portOnly = true
			continue
		}
		t.explicit = ip.IsValid()
		return t, nil
	}
	return t, m.notAllowed(t, portOnly)
}

// notAllowed explains why an unmatched request was refused and what to add.
func (m *matcher) notAllowed(t target, portOnly bool) *RefusedError {
	e := &RefusedError{Host: t.host, Port: t.port, Suggest: t.host}
	if strings.Contains(t.host, ":") {
		e.Suggest = "[" + t.host + "]"
	}
	switch {
	case t.host == HostAlias:
		e.Reason = "the host's own services are reachable only with host access"
		e.Suggest, e.NeedsHostAccess = "", true
	case portOnly:
		e.Reason = fmt.Sprintf("port %d is not allowed: a pattern without a port allows only %s", t.port, portList(m.defaultPorts))
		e.Suggest += ":" + strconv.Itoa(t.port)
	case t.ip.IsValid():
		e.Reason = "the request names an IP address, and only addresses listed in the allow list are reachable"
	default:
		e.Reason = "it is not in the allow list"
	}
	return e
}

// portList formats ports as "80 and 443".
func portList(ports []int) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p)
	}
	switch len(s) {
	case 0:
		return "no port"
	case 1:
		return "port " + s[0]
	}
	return "ports " + strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
