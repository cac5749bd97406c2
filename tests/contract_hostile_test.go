package tests

// Holes a security review found, each tried from inside the sandbox as a
// hostile package would.

import (
	"strings"
	"testing"
)

// TestContractSocketFamilies: the command can make unix, inet and inet6
// sockets (and netlink route, for getifaddrs), but no vsock socket (no
// network namespace isolates vsock), no packet or other family, and no
// raw inet socket (CAP_NET_RAW is dropped).
func TestContractSocketFamilies(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		ws := s.project(t)
		probe := probeIn(t, ws)
		cases := []struct{ name, args, want string }{
			{"unix", "1 1 0", "ok"},
			{"inet", "2 1 0", "ok"},
			{"inet6", "10 2 0", "ok"},
			{"netlink route", "16 3 0", "ok"},
			{"vsock stream", "40 1 0", "address family not supported by protocol"},
			{"vsock dgram", "40 2 0", "address family not supported by protocol"},
			{"packet", "17 2 0", "address family not supported by protocol"},
			{"netlink uevent", "16 3 15", "address family not supported by protocol"},
			{"alg", "38 5 0", "address family not supported by protocol"},
			{"raw inet", "2 3 1", "operation not permitted"},
		}
		var script strings.Builder
		for _, c := range cases {
			script.WriteString(probe + " socket " + c.args + "\n")
		}
		lines := strings.Split(strings.TrimSuffix(s.sh(t, ws, script.String()), "\n"), "\n")
		if len(lines) != len(cases) {
			t.Fatalf("probe printed %q", lines)
		}
		for i, c := range cases {
			if lines[i] != c.want {
				t.Errorf("socket %s (%s) inside: %q, want %q", c.name, c.args, lines[i], c.want)
			}
		}
	})
}
