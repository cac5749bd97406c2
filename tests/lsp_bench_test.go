package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/silo-dev/silo/lsp"
)

// lspClient is a minimal editor: it writes requests to a server's stdin
// and reads its answers.
type lspClient struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *lsp.Reader
}

func newLspClient(b *testing.B, dir string, env []string, argv ...string) *lspClient {
	b.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Env, cmd.Stderr = dir, env, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	c := &lspClient{cmd: cmd}
	var err error
	if c.in, err = cmd.StdinPipe(); err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	c.out = lsp.NewReader(stdout)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.in.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return c
}

func (c *lspClient) send(b *testing.B, body string) {
	if _, err := io.WriteString(c.in, frameMsg(body)); err != nil {
		b.Fatal(err)
	}
}

// call sends a request and reads until its response; it returns the
// round trip's time and the response.
func (c *lspClient) call(b *testing.B, id int, body string) (time.Duration, string) {
	start := time.Now()
	c.send(b, body)
	want := fmt.Sprintf(`"id":%d`, id)
	for {
		m, err := c.out.Next()
		if err != nil {
			b.Fatalf("waiting for the answer to %d: %v", id, err)
		}
		if s := string(m.Body); strings.Contains(s, want) && !strings.Contains(s, `"method"`) {
			return time.Since(start), s
		}
	}
}

func medianRT(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// BenchmarkLspRewriterRoundTrip measures the rewriter alone: a request
// that names project files, echoed back by cat inside the tool's sandbox,
// through `silo lsp` (mapped both ways) beside `silo exec … cat` (the same
// sandbox and relay, no mapping), interleaved; it reports the median
// round trips and their ratio.
func BenchmarkLspRewriterRoundTrip(b *testing.B) {
	s := newSandbox(b, "namespace")
	writeFile(b, filepath.Join(s.home, "config.toml"), fmt.Sprintf("[tool.echo]\nimage = %q\nlsp = [\"cat\"]\n", s.image))
	ws := filepath.Join(b.TempDir(), "proj é")
	writeFile(b, filepath.Join(ws, "silo.toml"), "tools = [\"echo\"]\n")
	env := append(os.Environ(), "SILO_HOME="+s.home, "HOME="+s.userHome, "SILO_BACKEND=namespace")
	through := newLspClient(b, ws, env, siloBin, "lsp", "echo")
	direct := newLspClient(b, ws, env, siloBin, "exec", "echo", "--", "cat")
	root := "file://" + lsp.EncodePath(ws)
	req := func(id int) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"result":[{"uri":"%s/a.py","range":{"start":{"line":1,"character":2},"end":{"line":1,"character":7}}},{"uri":"%s/pkg/b.py","range":{"start":{"line":0,"character":0},"end":{"line":0,"character":5}}}]}`, id, root, root)
	}
	through.call(b, 0, req(0)) // warm: both sandboxes up
	direct.call(b, 0, req(0))
	var t, d []time.Duration
	id := 1
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := 0; j < 200; j++ {
			rt, got := through.call(b, id, req(id))
			if got != req(id) {
				b.Fatalf("through silo lsp the answer changed:\n%s\n%s", got, req(id))
			}
			t = append(t, rt)
			rd, _ := direct.call(b, id, req(id))
			d = append(d, rd)
			id++
		}
	}
	mt, md := medianRT(t), medianRT(d)
	b.ReportMetric(float64(mt.Microseconds()), "lsp-µs")
	b.ReportMetric(float64(md.Microseconds()), "exec-µs")
	b.ReportMetric(float64(mt)/float64(md), "lsp/exec")
}

// BenchmarkLspPylspRoundTrip measures go-to-definition with Debian's
// python-lsp-server through `silo lsp` (in its sandbox, paths mapped)
// beside the same server run directly in the same kind of sandbox (silo
// exec, guest paths: the mapping's cost) and directly on the host (the
// whole cost, the sandbox's file system included), interleaved; it
// reports the median round trips and the ratios.
func BenchmarkLspPylspRoundTrip(b *testing.B) {
	if _, err := exec.LookPath("pylsp"); err != nil {
		b.Skip("pylsp is not installed on the host: apt-get install python3-pylsp")
	}
	layout := ociLayout(b, imageFromLayers(b, tarLayer(b, busyboxEntries(b)), tarLayer(b, hostPackageEntries(b, hostPackages(b, "python3-pylsp", "python3-pyflakes", "python3-setuptools")))))
	s := newSandbox(b, "namespace")
	writeFile(b, filepath.Join(s.home, "config.toml"), fmt.Sprintf("[tool.py]\nimage = %q\nlsp = [\"pylsp\"]\n", "oci-layout:"+layout))
	ws := b.TempDir()
	writeFile(b, filepath.Join(ws, "silo.toml"), "tools = [\"py\"]\n")
	text := "from helper import greet\n\ngreet()\n"
	writeFile(b, filepath.Join(ws, "app.py"), text)
	writeFile(b, filepath.Join(ws, "helper.py"), "def greet():\n    return 1\n")
	env := append(os.Environ(), "SILO_HOME="+s.home, "HOME="+s.userHome, "SILO_BACKEND=namespace")
	root := "file://" + lsp.EncodePath(ws)
	q := func(v any) string { j, _ := json.Marshal(v); return string(j) }
	// silo lsp (host paths, mapped), pylsp run directly in the same
	// sandbox (silo exec, guest paths, no mapping), pylsp on the host.
	clients := []*lspClient{
		newLspClient(b, ws, env, siloBin, "lsp", "py"),
		newLspClient(b, ws, env, siloBin, "exec", "py", "--", "pylsp"),
		newLspClient(b, ws, env, "pylsp"),
	}
	roots := []string{root, "file:///workspace", root}
	for i, c := range clients {
		c.call(b, 1, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":null,"rootUri":%s,"capabilities":{}}}`, q(roots[i])))
		c.send(b, `{"jsonrpc":"2.0","method":"initialized","params":{}}`)
		c.send(b, fmt.Sprintf(`{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":%s,"languageId":"python","version":1,"text":%s}}}`, q(roots[i]+"/app.py"), q(text)))
	}
	def := func(id, c int) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"textDocument/definition","params":{"textDocument":{"uri":%s},"position":{"line":2,"character":1}}}`, id, q(roots[c]+"/app.py"))
	}
	for i, c := range clients { // warm: jedi's caches
		if _, got := c.call(b, 2, def(2, i)); !strings.Contains(got, "helper.py") {
			b.Fatalf("definition: %s", got)
		}
	}
	rts := make([][]time.Duration, len(clients))
	id := 3
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := 0; j < 50; j++ {
			for k, c := range clients {
				rt, got := c.call(b, id, def(id, k))
				if k == 0 && !strings.Contains(got, q(root + "/helper.py")[1:]) {
					b.Fatalf("through silo lsp: %s", got)
				}
				rts[k] = append(rts[k], rt)
			}
			id++
		}
	}
	ml, me, mh := medianRT(rts[0]), medianRT(rts[1]), medianRT(rts[2])
	b.ReportMetric(float64(ml.Microseconds()), "silo-lsp-µs")
	b.ReportMetric(float64(me.Microseconds()), "silo-exec-µs")
	b.ReportMetric(float64(mh.Microseconds()), "host-µs")
	b.ReportMetric(float64(ml)/float64(me), "silo-lsp/silo-exec")
	b.ReportMetric(float64(ml)/float64(mh), "silo-lsp/host")
}
