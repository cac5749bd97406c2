package netproxy

import (
	"context"
	"net"
	"net/netip"
)

// StaticResolver answers from a fixed table; names not in it do not
// resolve. Tests use it to send "allowed.test" to a local server.
type StaticResolver map[string][]netip.Addr

// LookupNetIP implements Resolver.
func (r StaticResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}
