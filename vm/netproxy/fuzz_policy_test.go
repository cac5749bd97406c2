package netproxy

import (
	"strings"
	"testing"
)

// FuzzPolicy throws arbitrary patterns and hosts at the matcher: nothing
// panics, normalisation is idempotent and yields a clean ASCII name, and a
// match is only ever the exact name or a strict subdomain. Its seed corpus
// is testdata/fuzz/FuzzPolicy, which lock's tests also read: every string
// there gets the same verdict at config load and in the proxy.
func FuzzPolicy(f *testing.F) {
	f.Fuzz(func(t *testing.T, pattern, host string, port int) {
		if r, err := ParsePattern(pattern); err == nil {
			checkRule(t, r, host, port)
		}
		name, ip, err := normalizeHost(host)
		if err != nil {
			return
		}
		if ip.IsValid() {
			if name != "" {
				t.Fatalf("normalizeHost(%q) = both %q and %v", host, name, ip)
			}
			return
		}
		if err := validName(name); err != nil {
			t.Fatalf("normalizeHost(%q) = %q, which is not valid: %v", host, name, err)
		}
		again, ip2, err := normalizeHost(name)
		if err != nil || again != name || ip2.IsValid() {
			t.Fatalf("normalizeHost is not idempotent: %q -> %q -> %q, %v, %v", host, name, again, ip2, err)
		}
		m := compile(Policy{Allow: []string{pattern}, Deny: []string{host}}, false, []int{80, 443})
		if _, err := m.decide(host, port); err == nil {
			t.Fatalf("deny %q did not beat allow %q", host, pattern)
		}
	})
}

// checkRule checks what a matching rule implies about host.
func checkRule(t *testing.T, r Pattern, host string, port int) {
	name, ip, err := normalizeHost(host)
	if err != nil || !r.matches(name, ip, port) {
		return
	}
	switch {
	case r.ip.IsValid():
		if ip != r.ip {
			t.Fatalf("IP rule %q matched %q", r.raw, host)
		}
	case ip.IsValid():
		t.Fatalf("name rule %q matched IP %q", r.raw, host)
	case r.wildcard:
		if !strings.HasSuffix(name, "."+r.name) || name == r.name {
			t.Fatalf("wildcard %q matched %q", r.raw, name)
		}
	case !r.any && name != r.name:
		t.Fatalf("exact %q matched %q", r.raw, name)
	}
}
