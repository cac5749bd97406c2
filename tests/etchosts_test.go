package tests

import (
	"path/filepath"
	"strings"
	"testing"
)

// hostsScript serves a page on the sandbox's own 127.0.0.1 and fetches it
// by the name localhost, which only an /etc/hosts resolves (the busybox
// image has none, and the sandbox no DNS); then prints /etc/hosts.
const hostsScript = `mkdir -p /tmp/www && echo served-by-name > /tmp/www/page &&
httpd -p 127.0.0.1:18080 -h /tmp/www &&
for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O- http://localhost:18080/page && break; sleep 0.5; done; echo ---; cat /etc/hosts`

// TestEtcHosts: a sandbox whose image has no /etc/hosts gets one, so that
// localhost and the sandbox's host name resolve; host.silo.internal is in
// it only when the policy grants hostAccess; an image's own /etc/hosts is
// kept as it is.
func TestEtcHosts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) { checkEtcHosts(t, s) })
}

// TestQemuEtcHosts is TestEtcHosts on the qemu backend.
func TestQemuEtcHosts(t *testing.T) {
	checkEtcHosts(t, qemuSandbox(t))
}

func checkEtcHosts(t *testing.T, s *sandbox) {
	ws := s.project(t)
	out := s.sh(t, ws, hostsScript)
	page, hosts, _ := strings.Cut(out, "---\n")
	if page != "served-by-name\n" {
		t.Errorf("wget http://localhost: got %q, want the page served on 127.0.0.1 (hosts:\n%s)", page, hosts)
	}
	if !strings.Contains(hosts, "127.0.0.1\tlocalhost") || !strings.Contains(hosts, "\tsilo\n") {
		t.Errorf("/etc/hosts lacks localhost or the host name:\n%s", hosts)
	}
	if strings.Contains(hosts, "host.silo.internal") {
		t.Errorf("/etc/hosts names host.silo.internal without hostAccess:\n%s", hosts)
	}

	// hostAccess: host.silo.internal is named too.
	writeTrusted(t, s.home, filepath.Join(ws, "silo.toml"), "tools = [\"bb\"]\n[overrides.bb.network]\nhostAccess = true\n")
	if hosts := s.sh(t, ws, "cat /etc/hosts"); !strings.Contains(hosts, "host.silo.internal") {
		t.Errorf("with hostAccess, /etc/hosts lacks host.silo.internal:\n%s", hosts)
	}

	// An image with its own /etc/hosts keeps it.
	own := imageFromLayers(t, tarLayer(t, append(busyboxEntries(t),
		tarEntry{Name: "etc/hosts", Body: []byte("10.9.8.7\timage-own-name\n")})))
	img := "oci-layout:" + ociLayout(t, own)
	r := s.silo(t, ws, nil, nil, "exec", "--image", img, "cat", "/etc/hosts")
	if r.Code != 0 || r.Stdout != "10.9.8.7\timage-own-name\n" {
		t.Errorf("image's own /etc/hosts: exit %d, %q (stderr %s); want it unchanged", r.Code, r.Stdout, r.Stderr)
	}
}
