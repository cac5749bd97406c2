package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/silo-dev/silo/internal/jsonc"
)

// ideProject is a project using a python-like tool with pylsp and a tool
// without a language server.
func ideProject(t *testing.T) (*sandbox, string) {
	t.Helper()
	s := newSandbox(t, "namespace")
	writeFile(t, filepath.Join(s.home, "config.toml"), "[tool.py]\nimage = \"busybox\"\nlsp = [\"pylsp\"]\n[tool.bb]\nimage = \"busybox\"\n")
	ws := t.TempDir()
	writeFile(t, filepath.Join(ws, "silo.toml"), "tools = [\"py\", \"bb\"]\n")
	return s, ws
}

// TestIdeVSCodeMerges: silo ide vscode merges its servers into an existing
// settings.json, keeping the user's keys, comments, trailing commas and
// other servers; run again, it replaces its own entries, not adds more.
func TestIdeVSCodeMerges(t *testing.T) {
	s, ws := ideProject(t)
	user := `// workspace settings
{
	"editor.tabSize": 4, // keep me
	/* and me */
	"vscode-lspconfig.serverConfigurations": [
		{"name": "mine", "document_selector": [{"language": "lua"}], "command": ["lua-ls"]},
	],
	"files.exclude": {"**/.git": true,},
}
`
	path := filepath.Join(ws, ".vscode", "settings.json")
	writeFile(t, path, user)
	for run := 0; run < 2; run++ {
		if r := s.silo(t, ws, nil, nil, "ide", "vscode"); r.Code != 0 {
			t.Fatalf("silo ide vscode: exit %d: %s", r.Code, r.Stderr)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, keep := range []string{"// workspace settings\n{", `"editor.tabSize": 4, // keep me`, "/* and me */", `"files.exclude": {"**/.git": true,},`} {
		if !strings.Contains(string(got), keep) {
			t.Errorf("lost %q:\n%s", keep, got)
		}
	}
	var v struct {
		Servers []struct {
			Name     string   `json:"name"`
			Command  []string `json:"command"`
			Selector []struct {
				Language string `json:"language"`
			} `json:"document_selector"`
		} `json:"vscode-lspconfig.serverConfigurations"`
		TabSize int `json:"editor.tabSize"`
	}
	if err := json.Unmarshal(jsonc.Standard(got), &v); err != nil {
		t.Fatalf("%v\n%s", err, got)
	}
	if len(v.Servers) != 2 || v.Servers[0].Name != "mine" || v.Servers[1].Name != "silo-py" ||
		strings.Join(v.Servers[1].Command, " ") != "silo lsp py" || v.Servers[1].Selector[0].Language != "python" || v.TabSize != 4 {
		t.Errorf("settings: %+v\n%s", v, got)
	}
}

// TestIdeZed: a fresh .zed/settings.json, then a user's own binary for a
// server is kept.
func TestIdeZed(t *testing.T) {
	s, ws := ideProject(t)
	if r := s.silo(t, ws, nil, nil, "ide", "zed"); r.Code != 0 {
		t.Fatalf("silo ide zed: exit %d: %s", r.Code, r.Stderr)
	}
	path := filepath.Join(ws, ".zed", "settings.json")
	got, _ := os.ReadFile(path)
	var v struct {
		LSP map[string]struct {
			Binary struct {
				Path      string   `json:"path"`
				Arguments []string `json:"arguments"`
			} `json:"binary"`
		} `json:"lsp"`
		Languages map[string]struct {
			Servers []string `json:"language_servers"`
		} `json:"languages"`
	}
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("%v\n%s", err, got)
	}
	if b := v.LSP["pylsp"].Binary; b.Path != "silo" || strings.Join(b.Arguments, " ") != "lsp py" || v.Languages["Python"].Servers[0] != "pylsp" {
		t.Errorf("zed settings:\n%s", got)
	}
	mine := "{\n  // mine\n  \"lsp\": {\"pylsp\": {\"binary\": {\"path\": \"/opt/pylsp\"}}}\n}\n"
	writeFile(t, path, mine)
	r := s.silo(t, ws, nil, nil, "ide", "zed")
	if got, _ := os.ReadFile(path); r.Code != 0 || !strings.Contains(string(got), `"path": "/opt/pylsp"`) || !strings.Contains(string(got), "// mine") || !strings.Contains(r.Stderr, "kept your own lsp.pylsp.binary") {
		t.Errorf("a user's own binary: exit %d, %s\n%s", r.Code, r.Stderr, got)
	}
}

// TestIdePrinted: neovim's and helix's configuration is printed, nothing
// written; a project without a language server is told what to set.
func TestIdePrinted(t *testing.T) {
	s, ws := ideProject(t)
	nv := s.silo(t, ws, nil, nil, "ide", "neovim")
	if nv.Code != 0 || !strings.Contains(nv.Stdout, `vim.lsp.config("pylsp", {`) || !strings.Contains(nv.Stdout, `cmd = { "silo", "lsp", "py" }`) {
		t.Errorf("neovim: exit %d\n%s%s", nv.Code, nv.Stdout, nv.Stderr)
	}
	hx := s.silo(t, ws, nil, nil, "ide", "helix")
	if hx.Code != 0 || !strings.Contains(hx.Stdout, "[language-server.silo-py]\ncommand = \"silo\"\nargs = [\"lsp\", \"py\"]") || !strings.Contains(hx.Stdout, "language-servers = [\"silo-py\"]") {
		t.Errorf("helix: exit %d\n%s%s", hx.Code, hx.Stdout, hx.Stderr)
	}
	if _, err := os.Stat(filepath.Join(ws, ".helix")); err == nil {
		t.Error("silo ide helix wrote files")
	}
	writeFile(t, filepath.Join(ws, "silo.toml"), "tools = [\"bb\"]\n")
	if r := s.silo(t, ws, nil, nil, "ide", "vscode"); r.Code == 0 || !strings.Contains(r.Stderr, "has a language server: set lsp") {
		t.Errorf("no server: exit %d, %s", r.Code, r.Stderr)
	}
}
