package tests

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/silo-dev/silo/lsp"
)

// pylspLayout is an OCI layout of the busybox image plus a layer with the
// host's python3-pylsp, python3-pyflakes and python3-setuptools (its
// plugins load only with it) and all they depend on, copied
// from the host's installed Debian packages.
func pylspLayout(t *testing.T) string {
	t.Helper()
	pkgs := hostPackages(t, "python3-pylsp", "python3-pyflakes", "python3-setuptools")
	return ociLayout(t, imageFromLayers(t, tarLayer(t, busyboxEntries(t)), tarLayer(t, hostPackageEntries(t, pkgs))))
}

// lspMsg is the part of a message the test looks at.
type lspMsg struct {
	ID     *int            `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
}

// await reads messages until one satisfies ok, answering nothing; it
// returns that one.
func (p *lspProc) await(t *testing.T, what string, ok func(lspMsg) bool) lspMsg {
	t.Helper()
	for i := 0; i < 200; i++ {
		raw := p.recv(t)
		var m lspMsg
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			t.Fatalf("silo lsp sent a message that is not JSON: %v\n%s", err, raw)
		}
		if ok(m) {
			return m
		}
	}
	t.Fatalf("no %s among 200 messages (stderr: %s)", what, p.stderr.String())
	return lspMsg{}
}

func isResponse(id int) func(lspMsg) bool {
	return func(m lspMsg) bool { return m.ID != nil && *m.ID == id && m.Method == "" }
}

// TestLspPylsp drives Debian's python-lsp-server in a sandbox as an editor
// would, in a project whose path has a space and a non-ASCII letter: the
// editor speaks host paths, diagnostics and go-to-definition across two
// files come back with host paths, and exit tears the sandbox down.
func TestLspPylsp(t *testing.T) {
	layout := pylspLayout(t)
	s := newSandbox(t, "namespace")
	writeFile(t, filepath.Join(s.home, "config.toml"), fmt.Sprintf("[tool.py]\nimage = %q\nlsp = [\"pylsp\"]\n", "oci-layout:"+layout))
	ws := filepath.Join(t.TempDir(), "py proj é")
	writeFile(t, filepath.Join(ws, "silo.toml"), "tools = [\"py\"]\n")
	aText := "from helper import greet\n\ngreet()\nprint(undefined_name)\n"
	writeFile(t, filepath.Join(ws, "app.py"), aText)
	writeFile(t, filepath.Join(ws, "helper.py"), "def greet():\n    return 1\n")
	root := "file://" + lsp.EncodePath(ws)
	aURI, bURI := root+"/app.py", root+"/helper.py"
	marker := "pylsp-" + randomWord(t)

	p := startLsp(t, s, ws, "--timing", "py", "--", "--log-file", "/tmp/"+marker+".log")
	q := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	p.send(t, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":null,"rootUri":%s,"rootPath":%s,"workspaceFolders":[{"uri":%s,"name":"proj"}],"capabilities":{"textDocument":{"publishDiagnostics":{}}}}}`, q(root), q(ws), q(root)))
	init := p.await(t, "initialize response", isResponse(1))
	if len(init.Error) > 0 || !strings.Contains(string(init.Result), "definitionProvider") {
		t.Fatalf("initialize: %s %s", init.Error, init.Result)
	}
	p.send(t, `{"jsonrpc":"2.0","method":"initialized","params":{}}`)
	p.send(t, fmt.Sprintf(`{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":%s,"languageId":"python","version":1,"text":%s}}}`, q(aURI), q(aText)))

	diag := p.await(t, "diagnostics for app.py", func(m lspMsg) bool {
		return m.Method == "textDocument/publishDiagnostics" && strings.Contains(string(m.Params), "undefined_name")
	})
	var d struct {
		URI         string `json:"uri"`
		Diagnostics []struct {
			Message string `json:"message"`
		} `json:"diagnostics"`
	}
	if err := json.Unmarshal(diag.Params, &d); err != nil {
		t.Fatal(err)
	}
	if d.URI != aURI {
		t.Errorf("diagnostics for %q, want the host's %q", d.URI, aURI)
	}
	if len(d.Diagnostics) == 0 || !strings.Contains(d.Diagnostics[0].Message, "undefined name 'undefined_name'") {
		t.Errorf("diagnostics: %s", diag.Params)
	}

	p.send(t, fmt.Sprintf(`{"jsonrpc":"2.0","id":2,"method":"textDocument/definition","params":{"textDocument":{"uri":%s},"position":{"line":2,"character":1}}}`, q(aURI)))
	def := p.await(t, "definition response", isResponse(2))
	var locs []struct {
		URI   string `json:"uri"`
		Range struct {
			Start struct{ Line int } `json:"start"`
		} `json:"range"`
	}
	if err := json.Unmarshal(def.Result, &locs); err != nil || len(locs) == 0 {
		t.Fatalf("definition: %v %s %s", err, def.Result, def.Error)
	}
	if locs[0].URI != bURI || locs[0].Range.Start.Line != 0 {
		t.Errorf("definition at %q line %d, want the host's %q line 0", locs[0].URI, locs[0].Range.Start.Line, bURI)
	}
	if strings.Contains(p.raw.String(), "/workspace") {
		t.Errorf("a guest path reached the editor: %s", p.raw.String())
	}

	if len(guestProcs(marker)) == 0 {
		t.Fatal("pylsp is not running")
	}
	p.send(t, `{"jsonrpc":"2.0","id":3,"method":"shutdown"}`)
	p.await(t, "shutdown response", isResponse(3))
	p.send(t, `{"jsonrpc":"2.0","method":"exit"}`)
	if code := p.wait(t); code != 0 {
		t.Errorf("silo lsp exited %d after exit: %s", code, p.stderr.String())
	}
	waitGone(t, marker)
}
