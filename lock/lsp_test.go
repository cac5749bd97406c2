package lock

import (
	"slices"
	"strings"
	"testing"
)

func TestLanguageServer(t *testing.T) {
	f := newFixture(t)
	f.projectFile(t, "tools = [\"python\"]\n[overrides.python]\nlsp = [\"pyright-langserver\", \"--stdio\"]\n")
	cfg, err := f.load(f.project)
	if err != nil {
		t.Fatal(err)
	}
	py, err := cfg.Tool("python")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(py.LSP, []string{"pyright-langserver", "--stdio"}) || py.Origins["lsp"].Line != 3 {
		t.Errorf("lsp = %q from %v", py.LSP, py.Origins["lsp"])
	}
	if py.LSPInstall != "pip install python-lsp-server" || py.Origins["lspInstall"].File != BuiltIn {
		t.Errorf("lspInstall = %q from %v, want the built-in", py.LSPInstall, py.Origins["lspInstall"])
	}
	var shown []string
	for _, r := range py.Rows() {
		if strings.HasPrefix(r.Key, "lsp") {
			shown = append(shown, r.Key+"="+r.Value)
		}
	}
	if want := []string{"lsp=pyright-langserver --stdio", "lspInstall=pip install python-lsp-server"}; !slices.Equal(shown, want) {
		t.Errorf("config show rows %q, want %q", shown, want)
	}
}

func TestLanguageServerErrors(t *testing.T) {
	for in, want := range map[string]string{
		"[overrides.python]\nlsp = []\n":            "2:1: lsp is empty",
		"[overrides.python]\nlsp = [\"a\", \"\"]\n": "lsp: \"\" is not a command word",
	} {
		f := newFixture(t)
		f.projectFile(t, in)
		_, err := f.load(f.project)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %q", in, err, want)
		}
	}
}
