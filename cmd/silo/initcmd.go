package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/silo-dev/silo/lock"
)

// InitCmd is silo init.
type InitCmd struct {
	Tool          []string `help:"The project's tools (default: detected from its files)." sep:"," placeholder:"TOOL" predictor:"tool"`
	Port          []string `help:"Forward a port to the first tool: PORT, or HOST:GUEST (comma-separated or repeated)." sep:"," placeholder:"PORT"`
	PassEnv       []string `name:"pass-env" help:"Host variables to pass in." sep:"," placeholder:"VAR"`
	PassFile      []string `name:"pass-file" help:"Project files to pass in read-only (such as .netrc)." sep:"," placeholder:"FILE"`
	Allow         []string `help:"More hosts the tools may reach through silo's proxy." sep:"," placeholder:"HOST"`
	Exclude       []string `help:"Paths the sandbox gets its own empty copy of (default: per tool, such as node_modules)." sep:"," placeholder:"PATH"`
	NoInteractive bool     `name:"no-interactive" help:"Ask nothing, even on a terminal: take the flags and the defaults."`
	Force         bool     `help:"Overwrite an existing silo.toml."`
}

// Help is silo init's example.
func (c *InitCmd) Help() string {
	return `Examples:
  silo init                                  # detect the tools, ask on a terminal
  silo init --no-interactive --tool node --port 3000 --pass-env NPM_TOKEN`
}

// projectMarkers map a file of a project to the tool it needs.
var projectMarkers = []struct{ file, tool string }{
	{"package.json", "node"}, {"requirements.txt", "python"}, {"pyproject.toml", "python"},
	{"Cargo.toml", "rust"}, {"go.mod", "go"}, {"deno.json", "deno"}, {"deno.jsonc", "deno"}, {"Gemfile", "ruby"},
}

// toolExcludes are the directories a tool's runs fill that the host's
// own copy should not share with the sandbox.
var toolExcludes = map[string][]string{
	"node": {"node_modules"}, "python": {".venv", "__pycache__"}, "uv": {".venv", "__pycache__"},
	"rust": {"target"}, "ruby": {"vendor/bundle"}, "bun": {"node_modules"}, "deno": {"node_modules"},
}

// initAnswers is what silo init writes.
type initAnswers struct {
	tools, passEnv, passFiles, allow, exclude []string
	ports                                     []lock.Port
}

// Run detects, asks and writes silo.toml.
func (c *InitCmd) Run(g *Globals) error {
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	path := filepath.Join(dir, lock.ProjectFileName)
	if _, err := os.Lstat(path); err == nil && !c.Force {
		return fmt.Errorf("%s exists: silo init does not overwrite it (silo init --force does)", path)
	}
	a, err := c.defaults(dir)
	if err != nil {
		return err
	}
	if !c.NoInteractive && isTerminal(os.Stdin) && isTerminal(os.Stderr) {
		if err := a.ask(bufio.NewReader(os.Stdin), os.Stderr); err != nil {
			return err
		}
	}
	if len(a.tools) == 0 {
		return usageErrorf("no tool found for this project (package.json, pyproject.toml, go.mod, …): name one with --tool")
	}
	if err := lock.WriteTrusted(g.home, path, a.toml()); err != nil {
		return err
	}
	if _, err := lock.Load(lock.Options{Home: g.home, Dir: dir}); err != nil {
		return fmt.Errorf("silo init wrote %s, but it does not load: %w", path, err)
	}
	ignored := ignoreSilo(dir)
	return c.report(g, path, a, ignored)
}

// defaults are the answers from the project's files and the flags.
func (c *InitCmd) defaults(dir string) (*initAnswers, error) {
	a := &initAnswers{passEnv: c.PassEnv, passFiles: c.PassFile, allow: c.Allow, exclude: c.Exclude}
	for _, t := range c.Tool {
		a.tools = appendNew(a.tools, lock.CanonicalTool(t))
	}
	if len(a.tools) == 0 {
		for _, m := range projectMarkers {
			if _, err := os.Stat(filepath.Join(dir, m.file)); err == nil {
				a.tools = appendNew(a.tools, m.tool)
			}
		}
	}
	if len(a.exclude) == 0 {
		for _, t := range a.tools {
			for _, e := range toolExcludes[t] {
				a.exclude = appendNew(a.exclude, e)
			}
		}
	}
	for _, p := range c.Port {
		pt, err := parsePort(p)
		if err != nil {
			return nil, err
		}
		a.ports = append(a.ports, pt)
	}
	return a, nil
}

func appendNew(list []string, s string) []string {
	if s == "" || slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// parsePort reads PORT or HOST:GUEST.
func parsePort(s string) (lock.Port, error) {
	h, gs, two := strings.Cut(strings.TrimSpace(s), ":")
	host, err1 := strconv.Atoi(h)
	guest := host
	var err2 error
	if two {
		guest, err2 = strconv.Atoi(gs)
	}
	if err1 != nil || err2 != nil || host < 1 || host > 65535 || guest < 1 || guest > 65535 {
		return lock.Port{}, usageErrorf("port %q is not PORT or HOST:GUEST with numbers from 1 to 65535", s)
	}
	return lock.Port{Host: host, Guest: guest}, nil
}

// ask asks each question on the terminal; Enter keeps the default shown.
func (a *initAnswers) ask(in *bufio.Reader, out io.Writer) error {
	q := func(prompt string, def []string) ([]string, error) {
		fmt.Fprintf(out, "%s [%s]: ", prompt, strings.Join(def, ", "))
		line, err := in.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		line = strings.TrimSpace(line)
		switch line {
		case "":
			return def, nil
		case "-", "none":
			return nil, nil
		}
		var out []string
		for _, f := range strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ' ' }) {
			out = appendNew(out, f)
		}
		return out, nil
	}
	fmt.Fprintln(out, "silo init: Enter keeps the default in brackets; - leaves a list empty.")
	var err error
	steps := []struct {
		prompt string
		v      *[]string
	}{
		{"Tools", &a.tools},
		{"Hosts the tools may reach besides their registries", &a.allow},
		{"Host variables to pass in (passEnv)", &a.passEnv},
		{"Project files to pass in read-only (passFiles)", &a.passFiles},
		{"Paths the sandbox keeps its own copy of (mount.exclude)", &a.exclude},
	}
	for _, s := range steps {
		if *s.v, err = q(s.prompt, *s.v); err != nil {
			return err
		}
	}
	var ports []string
	for _, p := range a.ports {
		ports = append(ports, fmt.Sprintf("%d:%d", p.Host, p.Guest))
	}
	if ports, err = q("Ports to forward (PORT or HOST:GUEST)", ports); err != nil {
		return err
	}
	a.ports = nil
	for _, p := range ports {
		pt, err := parsePort(p)
		if err != nil {
			return err
		}
		a.ports = append(a.ports, pt)
	}
	for i, t := range a.tools {
		a.tools[i] = lock.CanonicalTool(t)
	}
	return nil
}

// toml is the silo.toml text.
func (a *initAnswers) toml() []byte {
	var b strings.Builder
	b.WriteString("# silo.toml, written by silo init. silo config show explains every value.\n")
	fmt.Fprintf(&b, "tools = %s\n", lock.TOMLStrings(a.tools))
	if len(a.passEnv) > 0 {
		fmt.Fprintf(&b, "passEnv = %s\n", lock.TOMLStrings(a.passEnv))
	}
	if len(a.passFiles) > 0 {
		fmt.Fprintf(&b, "passFiles = %s\n", lock.TOMLStrings(a.passFiles))
	}
	if len(a.exclude) > 0 {
		fmt.Fprintf(&b, "\n[mount]\nexclude = %s\n", lock.TOMLStrings(a.exclude))
	}
	for i, t := range a.tools {
		if len(a.allow) > 0 {
			fmt.Fprintf(&b, "\n[overrides.%s.network]\nproxy.allow = %s\n", t, lock.TOMLStrings(a.allow))
		}
		if i == 0 {
			for _, p := range a.ports {
				fmt.Fprintf(&b, "\n[[overrides.%s.ports]]\nhost = %d\nguest = %d\n", t, p.Host, p.Guest)
			}
		}
	}
	return []byte(b.String())
}

// ignoreSilo adds .silo/ to the .gitignore of a git repository's root
// directory dir; it reports whether it did.
func ignoreSilo(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		return false
	}
	p := filepath.Join(dir, ".gitignore")
	data, err := os.ReadFile(p)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false
	}
	for _, l := range strings.Split(string(data), "\n") {
		if t := strings.TrimSpace(l); t == ".silo/" || t == ".silo" || t == "/.silo/" {
			return false
		}
	}
	if len(data) > 0 && !strings.HasSuffix(string(data), "\n") {
		data = append(data, '\n')
	}
	data = append(data, ".silo/\n"...)
	return os.WriteFile(p, data, 0o644) == nil
}

// report says what was written and which tools still need silo install.
func (c *InitCmd) report(g *Globals, path string, a *initAnswers, ignored bool) error {
	if g.Quiet {
		return nil
	}
	fmt.Fprintf(os.Stderr, "silo: wrote %s (trusted: you wrote it through silo)\n", path)
	if ignored {
		fmt.Fprintln(os.Stderr, "silo: added .silo/ to .gitignore")
	}
	var missing []string
	for _, t := range a.tools {
		if !installed(g.home, t) {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "silo: not installed yet: %s; install with: silo install %s\n", strings.Join(missing, ", "), strings.Join(missing, " && silo install "))
	}
	return nil
}
