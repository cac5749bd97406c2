package tests

// Holes a security review found, each tried from inside the sandbox as a
// hostile package would.

import (
	"os"
	"path/filepath"
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

// TestContractRelativeCommand: "silo run T ./script.sh" finds the script
// in the command's working directory, and in a subdirectory too.
func TestContractRelativeCommand(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		ws := s.project(t)
		writeExecutable(t, filepath.Join(ws, "script.sh"), "#!/bin/sh\necho top \"$@\"\n")
		writeExecutable(t, filepath.Join(ws, "sub/run.sh"), "#!/bin/sh\necho sub; pwd\n")
		if r := s.run(t, ws, nil, nil, "./script.sh", "a"); r.Code != 0 || r.Stdout != "top a\n" {
			t.Errorf("./script.sh: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
		}
		if r := s.run(t, filepath.Join(ws, "sub"), nil, nil, "./run.sh"); r.Code != 0 || r.Stdout != "sub\n/workspace/sub\n" {
			t.Errorf("./run.sh in sub: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
		}
		if r := s.run(t, ws, nil, nil, "sub/run.sh"); r.Code != 0 || r.Stdout != "sub\n/workspace\n" {
			t.Errorf("sub/run.sh: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
		}
		if r := s.run(t, ws, nil, nil, "./missing.sh"); r.Code != 127 || !strings.Contains(r.Stderr, "./missing.sh") {
			t.Errorf("./missing.sh: exit %d, stderr %q", r.Code, r.Stderr)
		}
	})
}

// writeExecutable writes an executable file, making its directory.
func writeExecutable(t *testing.T, p, content string) {
	t.Helper()
	writeFile(t, p, content)
	if err := os.Chmod(p, 0o755); err != nil {
		t.Fatal(err)
	}
}
