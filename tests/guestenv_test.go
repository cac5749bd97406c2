package tests

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// selfSignedPEM returns a new self-signed CA certificate in PEM.
func selfSignedPEM(t *testing.T, cn string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: fixtureTime, NotAfter: fixtureTime.AddDate(20, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestTrustHostCAs: with network.trustHostCAs the host's CA bundle (here
// $SSL_CERT_FILE, as behind a TLS-inspecting proxy) is inside, read-only,
// and every usual client's CA variable names it; without, nothing is.
// silo doctor says when the host trusts a certificate an image lacks.
func TestTrustHostCAs(t *testing.T) {
	s := namespaceSandbox(t)
	imageCA, proxyCA := selfSignedPEM(t, "image root"), selfSignedPEM(t, "corporate proxy")
	// An image whose bundle has the public root only.
	layer := tarLayer(t, append(busyboxEntries(t), tarEntry{Name: "etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Body: imageCA}))
	s.image = "oci-layout:" + ociLayout(t, imageFromLayers(t, layer))
	writeFile(t, filepath.Join(s.home, "config.toml"), fmt.Sprintf("[tool.bb]\nimage = %q\nshims = [\"sh\"]\n", s.image))
	hostBundle := filepath.Join(t.TempDir(), "host-ca.pem")
	writeFile(t, hostBundle, string(imageCA)+string(proxyCA))
	env := []string{"SSL_CERT_FILE=" + hostBundle}
	ws := s.project(t)
	script := `for v in SSL_CERT_FILE NODE_EXTRA_CA_CERTS PIP_CERT REQUESTS_CA_BUNDLE CARGO_HTTP_CAINFO GIT_SSL_CAINFO; do eval echo "$v=\${$v:-unset}"; done
cat /etc/silo/host-ca.pem 2>/dev/null | grep -c BEGIN
echo x >> /etc/silo/host-ca.pem 2>/dev/null && echo BREACH-writable
true`
	r := s.run(t, ws, env, nil, "sh", "-c", script)
	if r.Code != 0 || strings.Contains(r.Stdout, "/etc/silo") || !strings.Contains(r.Stdout, "SSL_CERT_FILE=unset") {
		t.Fatalf("without trustHostCAs: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	// The user's own silo.toml turns it on for bb.
	writeFile(t, filepath.Join(s.home, "silo.toml"), "[overrides.bb.network]\ntrustHostCAs = true\n")
	r = s.run(t, ws, env, nil, "sh", "-c", script)
	if r.Code != 0 || strings.Contains(r.Stdout, "BREACH") {
		t.Fatalf("exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	for _, v := range []string{"SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "PIP_CERT", "REQUESTS_CA_BUNDLE", "CARGO_HTTP_CAINFO", "GIT_SSL_CAINFO"} {
		if !strings.Contains(r.Stdout, v+"=/etc/silo/host-ca.pem\n") {
			t.Errorf("%s does not name the host bundle:\n%s", v, r.Stdout)
		}
	}
	if !strings.Contains(r.Stdout, "\n2\n") {
		t.Errorf("the host bundle's two certificates are not inside:\n%s", r.Stdout)
	}
	d := s.silo(t, ws, env, nil, "doctor", "--no-probe")
	if !strings.Contains(d.Stdout, "trusts 1 certificate(s)") || !strings.Contains(d.Stdout, "trustHostCAs") {
		t.Errorf("doctor does not suggest trustHostCAs:\n%s", d.Stdout)
	}
	writeFile(t, hostBundle, string(imageCA))
	if d := s.silo(t, ws, env, nil, "doctor", "--no-probe"); strings.Contains(d.Stdout, "trusts 1") {
		t.Errorf("doctor suggests trustHostCAs with no extra certificate:\n%s", d.Stdout)
	}
}

// TestVenvActivated: a Python tool runs the project's .venv, as Silo
// does; another tool does not.
func TestVenvActivated(t *testing.T) {
	s := namespaceSandbox(t)
	writeFile(t, filepath.Join(s.home, "config.toml"), fmt.Sprintf("[tool.bb]\nimage = %q\nshims = [\"sh\"]\n[tool.py]\nimage = %q\nshims = [\"python3\"]\n", s.image, s.image))
	ws := t.TempDir()
	writeTrusted(t, s.home, filepath.Join(ws, "silo.toml"), "tools = [\"py\", \"bb\"]\n")
	venvPy := filepath.Join(ws, ".venv", "bin", "python3")
	writeFile(t, venvPy, "#!/bin/sh\necho \"venv python, VIRTUAL_ENV=$VIRTUAL_ENV\"\n")
	if err := os.Chmod(venvPy, 0o755); err != nil {
		t.Fatal(err)
	}
	r := s.silo(t, ws, nil, nil, "exec", "py", "python3")
	if r.Code != 0 || r.Stdout != "venv python, VIRTUAL_ENV=/workspace/.venv\n" {
		t.Errorf("py: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	r = s.silo(t, ws, nil, nil, "exec", "bb", "sh", "-c", "echo ${VIRTUAL_ENV:-none} $PATH")
	if r.Code != 0 || strings.Contains(r.Stdout, ".venv") {
		t.Errorf("bb got the venv: exit %d, %q %q", r.Code, r.Stdout, r.Stderr)
	}
}
