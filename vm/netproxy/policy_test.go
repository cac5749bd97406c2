package netproxy

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestNormalizeHost(t *testing.T) {
	tests := []struct {
		in, name, ip string
		bad          bool
	}{
		{in: "PyPI.org", name: "pypi.org"},
		{in: "pypi.org.", name: "pypi.org"},
		{in: "files.pythonhosted.org", name: "files.pythonhosted.org"},
		{in: "bücher.example", name: "xn--bcher-kva.example"},
		{in: "XN--BCHER-KVA.example", name: "xn--bcher-kva.example"},
		{in: "ＥＸＡＭＰＬＥ.com", name: "example.com"}, // full-width letters map to ASCII
		{in: "_acme.example.com", name: "_acme.example.com"},
		{in: "127.0.0.1", ip: "127.0.0.1"},
		{in: "[::1]", ip: "::1"},
		{in: "::ffff:10.0.0.1", ip: "10.0.0.1"},
		{in: "１２７.０.０.１", ip: "127.0.0.1"}, // full-width digits are still an address
		{in: "2130706433", bad: true},      // numeric forms of 127.0.0.1
		{in: "127.1", bad: true},
		{in: "0x7f.0.0.1", bad: true},
		{in: "a..b", bad: true},
		{in: "", bad: true},
		{in: ".", bad: true},
		{in: "exa mple.com", bad: true},
		{in: "evil.com\r\nX: y", bad: true},
		{in: "fe80::1%eth0", bad: true},
		{in: "[fe80::1%eth0]", bad: true},
		{in: "[127.0.0.1]", bad: true},
		{in: strings.Repeat("a", 64) + ".com", bad: true},
		{in: "xn--zz.example", bad: true}, // invalid punycode
	}
	for _, tt := range tests {
		name, ip, err := normalizeHost(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("normalizeHost(%q) = %q, %v; want an error", tt.in, name, ip)
			}
			continue
		}
		if err != nil {
			t.Errorf("normalizeHost(%q): %v", tt.in, err)
			continue
		}
		gotIP := ""
		if ip.IsValid() {
			gotIP = ip.String()
		}
		if name != tt.name || gotIP != tt.ip {
			t.Errorf("normalizeHost(%q) = %q, %q; want %q, %q", tt.in, name, gotIP, tt.name, tt.ip)
		}
	}
}

// TestPatterns is the wildcard semantics table: what each pattern lets
// through on which port.
func TestPatterns(t *testing.T) {
	tests := []struct {
		pattern string
		host    string
		port    int
		want    bool
	}{
		{"pypi.org", "pypi.org", 443, true},
		{"pypi.org", "PYPI.ORG.", 443, true},
		{"pypi.org", "pypi.org", 80, true},
		{"pypi.org", "pypi.org", 8080, false}, // default ports only
		{"pypi.org", "www.pypi.org", 443, false},
		{"pypi.org", "pypi.org.evil.com", 443, false},
		{"pypi.org", "evilpypi.org", 443, false},
		{"*.pythonhosted.org", "files.pythonhosted.org", 443, true},
		{"*.pythonhosted.org", "a.b.pythonhosted.org", 443, true},
		{"*.pythonhosted.org", "pythonhosted.org", 443, false}, // apex is not a subdomain
		{"*.pythonhosted.org", "evilpythonhosted.org", 443, false},
		{"*.pythonhosted.org", "pythonhosted.org.evil.com", 443, false},
		{"*.PythonHosted.ORG.", "files.pythonhosted.org", 443, true},
		{"pypi.org:8443", "pypi.org", 8443, true},
		{"pypi.org:8443", "pypi.org", 443, false},
		{"*", "anything.example", 443, true},
		{"*", "203.0.113.7", 443, false}, // * never matches IP literals
		{"203.0.113.7", "203.0.113.7", 443, true},
		{"203.0.113.7", "203.0.113.8", 443, false},
		{"[2001:db8::1]", "2001:db8::1", 443, true},
		{"2001:db8::1", "[2001:db8::1]", 443, true},
		{"[2001:db8::1]:8443", "2001:db8::1", 8443, true},
		{"bücher.example", "xn--bcher-kva.example", 443, true},
		{"xn--bcher-kva.example", "BÜCHER.example", 443, true},
	}
	for _, tt := range tests {
		m := compile(Policy{Allow: []string{tt.pattern}}, false, []int{80, 443})
		_, err := m.decide(tt.host, tt.port)
		if got := err == nil; got != tt.want {
			t.Errorf("allow %q, request %s port %d: allowed = %v, want %v (%v)", tt.pattern, tt.host, tt.port, got, tt.want, err)
		}
	}
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name    string
		policy  Policy
		install bool
		host    string
		port    int
		want    bool
		reason  string // substring of the refusal
		suggest string
	}{
		{name: "deny beats allow", policy: Policy{Allow: []string{"*.example.com"}, Deny: []string{"evil.example.com"}},
			host: "evil.example.com", port: 443, reason: `deny pattern "evil.example.com"`},
		{name: "deny wildcard beats exact allow", policy: Policy{Allow: []string{"a.example.com"}, Deny: []string{"*.example.com"}},
			host: "a.example.com", port: 443, reason: "deny"},
		{name: "deny without port covers every port", policy: Policy{Allow: []string{"x.test:8080"}, Deny: []string{"x.test"}},
			host: "x.test", port: 8080, reason: "deny"},
		{name: "deny with port covers that port", policy: Policy{Allow: []string{"x.test"}, Deny: []string{"x.test:80"}},
			host: "x.test", port: 443, want: true},
		{name: "not listed", policy: Policy{Allow: []string{"pypi.org"}},
			host: "github.com", port: 443, reason: "not in the allow list", suggest: "github.com"},
		{name: "port", policy: Policy{Allow: []string{"pypi.org"}},
			host: "pypi.org", port: 22, reason: "port 22", suggest: "pypi.org:22"},
		{name: "ip literal", policy: Policy{Allow: []string{"*"}},
			host: "203.0.113.9", port: 443, reason: "IP address", suggest: "203.0.113.9"},
		{name: "ipv6 literal suggestion", policy: Policy{Allow: []string{"*"}},
			host: "2001:db8::9", port: 443, reason: "IP address", suggest: "[2001:db8::9]"},
		{name: "install domain outside install", policy: Policy{Allow: []string{"pypi.org"}, InstallAllow: []string{"github.com"}},
			host: "github.com", port: 443, reason: "not in the allow list", suggest: "github.com"},
		{name: "install domain during install", policy: Policy{Allow: []string{"pypi.org"}, InstallAllow: []string{"github.com"}},
			install: true, host: "github.com", port: 443, want: true},
		{name: "host alias needs host access", policy: Policy{Allow: []string{"pypi.org"}},
			host: HostAlias, port: 5432, reason: "host access"},
		{name: "host alias any port", policy: Policy{HostAccess: true},
			host: HostAlias, port: 5432, want: true},
		{name: "loopback literal with host access", policy: Policy{HostAccess: true},
			host: "127.0.0.1", port: 8000, want: true},
		{name: "host access does not open names", policy: Policy{HostAccess: true},
			host: "github.com", port: 443, reason: "not in the allow list", suggest: "github.com"},
		{name: "deny beats host access", policy: Policy{HostAccess: true, Deny: []string{HostAlias}},
			host: HostAlias, port: 80, reason: "deny"},
		{name: "broken deny refuses everything", policy: Policy{Allow: []string{"pypi.org"}, Deny: []string{"ev*il.com"}},
			host: "pypi.org", port: 443, reason: "unreadable"},
		{name: "broken allow refuses everything", policy: Policy{Allow: []string{"pypi.org", "a..b"}},
			host: "pypi.org", port: 443, reason: "unreadable"},
		{name: "invalid request host", policy: Policy{Allow: []string{"*"}},
			host: "2130706433", port: 80, reason: "numeric"},
		{name: "no network", policy: Policy{}, host: "pypi.org", port: 443, reason: "not in the allow list", suggest: "pypi.org"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := compile(tt.policy, tt.install, []int{80, 443})
			_, err := m.decide(tt.host, tt.port)
			if tt.want {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var re *RefusedError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want a *RefusedError", err)
			}
			if !strings.Contains(re.Reason, tt.reason) {
				t.Errorf("reason %q does not mention %q", re.Reason, tt.reason)
			}
			if re.Suggest != tt.suggest {
				t.Errorf("suggest = %q, want %q", re.Suggest, tt.suggest)
			}
		})
	}
}

func TestAddrClass(t *testing.T) {
	tests := map[string]string{
		"93.184.215.14":    "",
		"2606:4700::1111":  "",
		"127.0.0.1":        "loopback",
		"127.9.9.9":        "loopback",
		"::1":              "loopback",
		"::ffff:127.0.0.1": "loopback",
		"64:ff9b::7f00:1":  "loopback", // NAT64 of 127.0.0.1
		"10.1.2.3":         "private",
		"172.16.0.1":       "private",
		"192.168.1.1":      "private",
		"100.64.0.1":       "private",
		"fd00::1":          "private",
		"169.254.169.254":  "link-local",
		"fe80::1":          "link-local",
		"0.0.0.0":          "unspecified",
		"0.1.2.3":          "unspecified",
		"::":               "unspecified",
		"224.0.0.1":        "multicast",
		"ff02::1":          "multicast",
		"255.255.255.255":  "broadcast",
		"240.0.0.1":        "broadcast",
		// Addresses that carry an IPv4 one take its class.
		"::7f00:1":                             "loopback",        // IPv4-compatible ::127.0.0.1
		"::a00:1":                              "private",         // ::10.0.0.1
		"::c633:6407":                          "IPv4-compatible", // ::198.51.100.7: deprecated, never a real host
		"::ffff:0:7f00:1":                      "loopback",        // IPv4-translated ::ffff:0:127.0.0.1
		"2002:7f00:1::1":                       "loopback",        // 6to4 of 127.0.0.1
		"2002:c0a8:101::1":                     "private",         // 6to4 of 192.168.1.1
		"2002:a9fe:a9fe::1":                    "link-local",      // 6to4 of the metadata address
		"2002:c633:6407::1":                    "",                // 6to4 of a public address
		"2001:0:4136:e378:8000:63bf:80ff:fffe": "loopback",        // Teredo, client 127.0.0.1
		"2001:0:4136:e378:8000:63bf:39cc:9bf8": "Teredo",          // Teredo, client 198.51.100.7
		"64:ff9b:1::a00:1":                     "private",         // local-use NAT64
		"fec0::1":                              "private",         // site-local
	}
	for in, want := range tests {
		if got := addrClass(netip.MustParseAddr(in)); got != want {
			t.Errorf("addrClass(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestAddrRefusal(t *testing.T) {
	tests := []struct {
		name       string
		hostAccess bool
		explicit   bool
		addr       string
		refused    bool
		local      []netip.Addr
	}{
		{"public", false, false, "93.184.215.14", false, nil},
		{"loopback", false, false, "127.0.0.1", true, nil},
		{"loopback with host access", true, false, "127.0.0.1", false, nil},
		{"private with host access", true, false, "10.0.0.1", false, nil},
		{"metadata even with host access", true, false, "169.254.169.254", true, nil},
		{"metadata listed explicitly", false, true, "169.254.169.254", false, nil},
		{"unspecified even listed", true, true, "0.0.0.0", true, nil},
		{"multicast even listed", true, true, "224.0.0.1", true, nil},
		{"host's own address", false, false, "198.51.100.7", true, []netip.Addr{netip.MustParseAddr("198.51.100.7")}},
		{"host's own address, 6to4", false, false, "2002:c633:6407::1", true, []netip.Addr{netip.MustParseAddr("198.51.100.7")}},
		{"host's own address with host access", true, false, "198.51.100.7", false, []netip.Addr{netip.MustParseAddr("198.51.100.7")}},
		{"another host's address", false, false, "198.51.100.8", false, []netip.Addr{netip.MustParseAddr("198.51.100.7")}},
		{"IPv4-compatible", false, false, "::7f00:1", true, nil},
		{"IPv4-compatible with host access", true, false, "::7f00:1", false, nil},
		{"Teredo", false, false, "2001:0:4136:e378:8000:63bf:39cc:9bf8", true, nil},
		{"Teredo with host access", true, false, "2001:0:4136:e378:8000:63bf:39cc:9bf8", false, nil},
		{"6to4 metadata even with host access", true, false, "2002:a9fe:a9fe::1", true, nil},
	}
	for _, tt := range tests {
		m := &matcher{hostAccess: tt.hostAccess}
		why := m.addrRefusal(target{explicit: tt.explicit}, netip.MustParseAddr(tt.addr), tt.local)
		if (why != "") != tt.refused {
			t.Errorf("%s: refusal %q, want refused=%v", tt.name, why, tt.refused)
		}
	}
}

func TestValidate(t *testing.T) {
	good := Policy{Allow: []string{"pypi.org", "*.pythonhosted.org", "*", "10.0.0.1", "[::1]:8080", "bücher.example"},
		Deny: []string{"evil.com:443"}, InstallAllow: []string{"github.com"}}
	if err := good.Validate(); err != nil {
		t.Errorf("Validate(good) = %v", err)
	}
	for _, p := range []Policy{
		{Allow: []string{"py*pi.org"}},
		{Allow: []string{"*.10.0.0.1"}},
		{Deny: []string{"pypi.org:0"}},
		{Deny: []string{"pypi.org:99999"}},
		{InstallAllow: []string{""}},
		{Allow: []string{"a b"}},
	} {
		err := p.Validate()
		if err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", p)
			continue
		}
		if !strings.Contains(err.Error(), "proxy.") {
			t.Errorf("Validate error %q does not name the key", err)
		}
	}
}

func TestAdvice(t *testing.T) {
	e := &RefusedError{Host: "github.com", Port: 443, Reason: "it is not in the allow list", Suggest: "github.com"}
	got := e.Advice("python")
	for _, want := range []string{"blocked github.com:443", "[overrides.python.network]", `proxy.allow = ["github.com"]`} {
		if !strings.Contains(got, want) {
			t.Errorf("advice %q lacks %q", got, want)
		}
	}
	e = &RefusedError{Host: "db.test", Port: 5432, Reason: "loopback", NeedsHostAccess: true}
	if got := e.Advice(""); !strings.Contains(got, "hostAccess = true") || !strings.Contains(got, "[overrides.TOOL.network]") {
		t.Errorf("advice %q does not point at hostAccess", got)
	}
}

func TestPortList(t *testing.T) {
	for ports, want := range map[string]string{"": "no port", "80": "port 80", "80,443": "ports 80 and 443", "1,2,3": "ports 1, 2 and 3"} {
		var ps []int
		for _, s := range strings.Split(ports, ",") {
			if s != "" {
				n, _ := parsePort(s)
				ps = append(ps, n)
			}
		}
		if got := portList(ps); got != want {
			t.Errorf("portList(%v) = %q, want %q", ps, got, want)
		}
	}
}

func TestPrintRefusals(t *testing.T) {
	var b strings.Builder
	fn := PrintRefusals(&b)
	refused := &RefusedError{Host: "github.com", Port: 443, Reason: "it is not in the allow list"}
	fn(Event{Host: "github.com", Port: 443, Refused: refused})
	fn(Event{Host: "github.com", Port: 443, Refused: refused})
	fn(Event{Host: "pypi.org", Port: 443, Allowed: true})
	if want := "silo: blocked github.com:443: it is not in the allow list\n"; b.String() != want {
		t.Errorf("printed %q, want %q", b.String(), want)
	}
}
