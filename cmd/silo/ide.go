package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/silo-dev/silo/internal/fsutil"
	"github.com/silo-dev/silo/internal/jsonc"
	"github.com/silo-dev/silo/lock"
)

// IdeCmd writes or prints an editor's configuration for the project's
// language servers in their sandboxes.
type IdeCmd struct {
	Editor string `arg:"" enum:"vscode,zed,neovim,helix" help:"The editor: vscode or zed (their project settings are written), neovim or helix (the configuration is printed)."`
	Silo   string `name:"silo" default:"silo" help:"How the editor runs silo: a name on its PATH or an absolute path." placeholder:"PATH"`
}

// Help is silo ide's example.
func (c *IdeCmd) Help() string {
	return "Examples:\n  silo ide vscode     # merges into .vscode/settings.json\n  silo ide neovim >> ~/.config/nvim/init.lua"
}

// ideServer is one of the project's tools with a language server, as the
// editors name it.
type ideServer struct {
	Tool      string   // silo's tool
	Name      string   // the server's name in Zed, neovim's lspconfig
	Languages []string // LSP language ids (VS Code, Helix)
	ZedLangs  []string // Zed's language names
}

// knownServers are the servers the built-in tools use (and common
// alternatives), by their command's base name.
var knownServers = map[string]ideServer{
	"pylsp":                      {Name: "pylsp", Languages: []string{"python"}, ZedLangs: []string{"Python"}},
	"pyright-langserver":         {Name: "pyright", Languages: []string{"python"}, ZedLangs: []string{"Python"}},
	"typescript-language-server": {Name: "typescript-language-server", Languages: []string{"typescript", "typescriptreact", "javascript", "javascriptreact"}, ZedLangs: []string{"TypeScript", "TSX", "JavaScript"}},
	"gopls":                      {Name: "gopls", Languages: []string{"go"}, ZedLangs: []string{"Go"}},
	"rust-analyzer":              {Name: "rust-analyzer", Languages: []string{"rust"}, ZedLangs: []string{"Rust"}},
}

// nvimNames are nvim-lspconfig's names where they differ from the server's.
var nvimNames = map[string]string{"typescript-language-server": "ts_ls", "rust-analyzer": "rust_analyzer"}

// Run writes or prints the configuration.
func (c *IdeCmd) Run(g *Globals) error {
	userHome, _ := os.UserHomeDir()
	cfg, err := loadConfig(g.home, lock.Options{Home: g.home, UserHome: userHome, Notes: os.Stderr})
	if err != nil {
		return err
	}
	servers, err := projectServers(cfg)
	if err != nil {
		return err
	}
	root := cfg.ProjectRoot()
	if root == "" {
		root = cfg.Workspace()
	}
	switch c.Editor {
	case "vscode":
		return c.writeSettings(filepath.Join(root, ".vscode", "settings.json"), servers, c.vscode)
	case "zed":
		return c.writeSettings(filepath.Join(root, ".zed", "settings.json"), servers, c.zed)
	case "neovim":
		c.neovim(os.Stdout, root, servers)
	case "helix":
		c.helix(os.Stdout, root, servers)
	}
	return nil
}

// projectServers lists the project's tools that have a language server.
func projectServers(cfg *lock.Config) ([]ideServer, error) {
	tools := cfg.ProjectTools()
	if len(tools) == 0 {
		return nil, errors.New("this project names no tools: add tools = [\"python\", …] to its silo.toml (silo init makes one)")
	}
	var out []ideServer
	for _, name := range tools {
		t, err := cfg.Tool(name)
		if err != nil {
			return nil, err
		}
		if len(t.LSP) == 0 {
			continue
		}
		s, ok := knownServers[filepath.Base(t.LSP[0])]
		if !ok {
			s = ideServer{Name: t.Name, Languages: []string{t.Name}, ZedLangs: []string{t.Name}}
		}
		s.Tool = t.Name
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("none of the project's tools (%s) has a language server: set lsp = [\"COMMAND\", …] under [overrides.TOOL] in silo.toml", strings.Join(tools, ", "))
	}
	return out, nil
}

// command is the command line that starts tool's server.
func (c *IdeCmd) command(tool string) []string { return []string{c.Silo, "lsp", tool} }

// writeSettings merges the servers into the JSONC settings file at path
// with merge, keeping everything silo does not own, and says what it did.
func (c *IdeCmd) writeSettings(path string, servers []ideServer, merge func(*jsonc.Doc, []ideServer) ([]string, error)) error {
	src, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	doc, err := jsonc.Parse(src)
	if err != nil {
		return fmt.Errorf("%s: %w: fix it, or move it aside and run silo ide again", path, err)
	}
	skipped, err := merge(doc, servers)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, s := range skipped {
		fmt.Fprintln(os.Stderr, "silo:", s)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	if err := fsutil.WriteFile(path, doc.Bytes(), fsutil.WriteOptions{Perm: mode, Sync: true}); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fmt.Fprintf(os.Stderr, "silo: wrote %s: %s through silo lsp\n", path, serverList(servers))
	return nil
}

func serverList(servers []ideServer) string {
	var w []string
	for _, s := range servers {
		w = append(w, s.Name+" ("+s.Tool+")")
	}
	return strings.Join(w, ", ")
}

// vscodeKey is the setting of the generic LSP client extension
// whtsht.vscode-lspconfig: a list of servers, each a command and the
// languages it serves. silo owns the entries named "silo-TOOL".
const vscodeKey = "vscode-lspconfig.serverConfigurations"

// vscode replaces silo's entries in the generic client's list and keeps
// the others, in order.
func (c *IdeCmd) vscode(doc *jsonc.Doc, servers []ideServer) ([]string, error) {
	var entries []any
	if raw, ok := doc.Get(vscodeKey); ok {
		var old []map[string]any
		if err := json.Unmarshal(jsonc.Standard(raw), &old); err != nil {
			return nil, fmt.Errorf("%s is not a list of servers: %w", vscodeKey, err)
		}
		for _, e := range old {
			if name, _ := e["name"].(string); !strings.HasPrefix(name, "silo-") {
				entries = append(entries, e)
			}
		}
	}
	for _, s := range servers {
		var sel []map[string]string
		for _, l := range s.Languages {
			sel = append(sel, map[string]string{"language": l})
		}
		entries = append(entries, map[string]any{"name": "silo-" + s.Tool, "document_selector": sel, "command": c.command(s.Tool)})
	}
	return []string{"VS Code starts these through the extension whtsht.vscode-lspconfig (a generic LSP client): install it, and turn off the language's own server extension for this workspace"}, doc.Set(entries, vscodeKey)
}

// zed points each server's binary at silo lsp, unless the user set one
// of their own, and makes it the language's server where the user has
// not chosen.
func (c *IdeCmd) zed(doc *jsonc.Doc, servers []ideServer) ([]string, error) {
	var notes []string
	for _, s := range servers {
		if raw, ok := doc.Get("lsp", s.Name, "binary"); ok && !c.ours(raw) {
			notes = append(notes, fmt.Sprintf("kept your own lsp.%s.binary; remove it and run silo ide zed again to use silo lsp %s", s.Name, s.Tool))
			continue
		}
		bin := map[string]any{"path": c.Silo, "arguments": c.command(s.Tool)[1:]}
		if err := doc.Set(bin, "lsp", s.Name, "binary"); err != nil {
			return nil, err
		}
		for _, l := range s.ZedLangs {
			if _, ok := doc.Get("languages", l, "language_servers"); ok {
				continue
			}
			if err := doc.Set([]string{s.Name, "..."}, "languages", l, "language_servers"); err != nil {
				return nil, err
			}
		}
	}
	return notes, nil
}

// ours reports whether a Zed binary setting is one silo ide wrote.
func (c *IdeCmd) ours(raw []byte) bool {
	var b struct {
		Path      string   `json:"path"`
		Arguments []string `json:"arguments"`
	}
	return json.Unmarshal(jsonc.Standard(raw), &b) == nil && len(b.Arguments) > 0 && b.Arguments[0] == "lsp" && filepath.Base(b.Path) == filepath.Base(c.Silo)
}

// neovim prints Lua for Neovim 0.11's vim.lsp.config.
func (c *IdeCmd) neovim(w io.Writer, root string, servers []ideServer) {
	fmt.Fprintf(w, "-- silo ide neovim: the language servers of %s, each in its tool's sandbox.\n", root)
	fmt.Fprintf(w, "-- Add to init.lua (Neovim 0.11 or later; the names are nvim-lspconfig's, whose settings merge in).\n")
	for _, s := range servers {
		name := s.Name
		if n, ok := nvimNames[name]; ok {
			name = n
		}
		var q []string
		for _, a := range c.command(s.Tool) {
			q = append(q, luaString(a))
		}
		var ft []string
		for _, l := range s.Languages {
			ft = append(ft, luaString(l))
		}
		fmt.Fprintf(w, "vim.lsp.config(%s, {\n  cmd = { %s },\n  filetypes = { %s },\n  root_markers = { \"silo.toml\" },\n})\n",
			luaString(name), strings.Join(q, ", "), strings.Join(ft, ", "))
		fmt.Fprintf(w, "vim.lsp.enable(%s)\n", luaString(name))
	}
}

// luaString quotes s for Lua (its escapes are a superset of Go's here).
func luaString(s string) string { return strconv.Quote(s) }

// helix prints a languages.toml for the project's .helix directory.
func (c *IdeCmd) helix(w io.Writer, root string, servers []ideServer) {
	fmt.Fprintf(w, "# silo ide helix: the language servers of %s, each in its tool's sandbox.\n", root)
	fmt.Fprintf(w, "# Put in %s.\n", filepath.Join(root, ".helix", "languages.toml"))
	for _, s := range servers {
		args := c.command(s.Tool)[1:]
		var q []string
		for _, a := range args {
			q = append(q, strconv.Quote(a))
		}
		fmt.Fprintf(w, "\n[language-server.silo-%s]\ncommand = %s\nargs = [%s]\n", s.Tool, strconv.Quote(c.Silo), strings.Join(q, ", "))
		for _, l := range s.Languages {
			if l == "typescriptreact" || l == "javascriptreact" {
				l = map[string]string{"typescriptreact": "tsx", "javascriptreact": "jsx"}[l]
			}
			fmt.Fprintf(w, "\n[[language]]\nname = %s\nlanguage-servers = [%s]\n", strconv.Quote(l), strconv.Quote("silo-"+s.Tool))
		}
	}
}
