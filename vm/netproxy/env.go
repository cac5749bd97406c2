package netproxy

import (
	"context"
	"net"
	"net/netip"
)

// GuestAddr is where the agent listens for the proxy inside a sandbox.
const GuestAddr = "127.0.0.1:3128"

// GuestEnv is the environment a sandbox gets when its policy allows some
// network: every spelling of the proxy variables that common tools read
// (curl, pip, npm, cargo, go, git), pointing at addr (GuestAddr when
// empty), and NO_PROXY for the sandbox's own loopback.
func GuestEnv(addr string) []string {
	if addr == "" {
		addr = GuestAddr
	}
	url := "http://" + addr
	noProxy := "localhost,127.0.0.1,::1"
	return []string{
		"HTTP_PROXY=" + url, "http_proxy=" + url,
		"HTTPS_PROXY=" + url, "https_proxy=" + url,
		"NO_PROXY=" + noProxy, "no_proxy=" + noProxy,
	}
}

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
