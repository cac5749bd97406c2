package lock

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/silo-dev/silo/vm/netproxy"
)

// patternCorpus is every host pattern the one-grammar test tries: the
// strings on which silo.toml validation and the proxy once disagreed, and
// every string of the proxy's fuzz corpus.
func patternCorpus(t *testing.T) []string {
	t.Helper()
	corpus := []string{"127.1", "foo.123", "0x7f.1", "[fe80::1%eth0]", "fe80::1%eth0", "bücher.de", "*.bücher.de",
		"pypi.org", "*.npmjs.org", "*", "pypi.org:8443", "203.0.113.7", "[2001:db8::1]:443", "2130706433",
		"-lead.com", "under_score.example", "https://pypi.org/simple", "a.*.com", "*.10.0.0.1", "", " "}
	dir := filepath.Join("..", "vm", "netproxy", "testdata", "fuzz", "FuzzPolicy")
	files, err := os.ReadDir(dir)
	if err != nil || len(files) == 0 {
		t.Fatalf("read the proxy's fuzz corpus: %v (%d files)", err, len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if q, ok := strings.CutPrefix(line, "string("); ok {
				s, err := strconv.Unquote(strings.TrimSuffix(q, ")"))
				if err != nil {
					t.Fatalf("%s: %q: %v", f.Name(), line, err)
				}
				corpus = append(corpus, s)
			}
		}
	}
	return corpus
}

// TestOneGrammar loads each pattern from a silo.toml, in each list, and
// asks a proxy built with the loaded policy (or, when loading refused it,
// with the pattern as written) whether it can read it: the two verdicts
// must agree.
func TestOneGrammar(t *testing.T) {
	for _, pattern := range patternCorpus(t) {
		for _, list := range []string{"allow", "deny", "installAllow"} {
			loadErr, pol := loadPattern(t, list, pattern)
			if pol == nil {
				pol = &netproxy.Policy{}
				switch list {
				case "allow":
					pol.Allow = []string{pattern}
				case "deny":
					pol.Deny = []string{pattern}
				default:
					pol.InstallAllow = []string{pattern}
				}
			}
			proxyRefused, body := proxyRefuses(t, *pol)
			loadRefused := loadErr != ""
			if loadRefused != proxyRefused {
				t.Errorf("proxy.%s = [%q]: config load refused=%v (%s), proxy refused=%v (%s)",
					list, pattern, loadRefused, loadErr, proxyRefused, body)
			}
		}
	}
}

// loadPattern loads a user-wide silo.toml whose python tool has pattern in
// list. It returns the load error ("" when none; a pattern that is not
// UTF-8 cannot be written in TOML, so checkDomain alone judges it) and the
// loaded policy.
func loadPattern(t *testing.T, list, pattern string) (string, *netproxy.Policy) {
	t.Helper()
	if !utf8.ValidString(pattern) {
		return checkDomain(pattern), nil
	}
	f := newFixture(t)
	path := f.user(t, fmt.Sprintf("[overrides.python.network.proxy]\n%s = [%s]\n", list, tomlString(pattern)))
	c, err := f.load(f.project)
	if err != nil {
		if !strings.Contains(err.Error(), path+":2:") {
			t.Errorf("proxy.%s = [%q]: the error does not name the file and line: %v", list, pattern, err)
		}
		return err.Error(), nil
	}
	tool, err := c.Tool("python")
	if err != nil {
		t.Fatal(err)
	}
	pol := tool.Network
	return "", &pol
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteString(`\` + string(r))
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String() + `"`
}

// proxyRefuses asks a proxy enforcing pol for a tunnel to a name that
// resolves nowhere (no traffic leaves the test) and reports whether it
// refused because a pattern could not be read, with the body it answered.
func proxyRefuses(t *testing.T, pol netproxy.Policy) (bool, string) {
	t.Helper()
	p := netproxy.New(pol, netproxy.WithInstall(true), netproxy.WithResolver(netproxy.StaticResolver{}))
	defer p.Close()
	client, server := net.Pipe()
	defer client.Close()
	go p.ServeConn(server)
	_ = client.SetDeadline(time.Now().Add(time.Minute))
	if _, err := fmt.Fprint(client, "CONNECT verdict.invalid:443 HTTP/1.1\r\nHost: verdict.invalid:443\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(client), nil)
	if err != nil {
		t.Fatalf("read the proxy's answer: %v", err)
	}
	defer resp.Body.Close()
	body := make([]byte, 4096)
	n, _ := resp.Body.Read(body)
	text := string(body[:n])
	return resp.StatusCode == http.StatusForbidden && strings.Contains(text, "unreadable"), resp.Status + " " + text
}
