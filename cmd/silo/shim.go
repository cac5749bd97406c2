package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/silo-dev/silo/internal/fsutil"
	"github.com/silo-dev/silo/internal/home"
	"github.com/silo-dev/silo/lock"
)

// shimName is the shim silo was called as: the base name of argv[0] when
// it is neither silo's own name (silo, silo-*) nor the binary's file
// name (a renamed silo is still silo; a shim is a link to it), else "".
func shimName(argv0 string) string {
	n := filepath.Base(argv0)
	if n == "silo" || strings.HasPrefix(n, "silo-") || strings.HasPrefix(n, "silo.") || n == "." || n == "/" {
		return ""
	}
	if exe, err := os.Executable(); err == nil && filepath.Base(exe) == n {
		return ""
	}
	return n
}

// shimGlobals are the environment a shim honours: a shim has no command
// line of its own (its arguments are the tool's), so kong reads only the
// environment into the globals.
type shimGlobals struct{ Globals }

// runShim is silo called as a shim, NAME ARGS: the tool that owns NAME
// runs NAME ARGS in its sandbox when the project here claims the tool or
// the tool is pinned; otherwise the next NAME on PATH runs, as if the
// shim were not there.
func runShim(name string, args []string) error {
	var sg shimGlobals
	p, err := kong.New(&sg, kong.Name(name))
	if err == nil {
		_, err = p.Parse(nil)
	}
	if err != nil {
		return err
	}
	g := &sg.Globals
	d, err := shimDecision(g, name)
	if err != nil {
		return err
	}
	if !d.sandbox {
		return fallThrough(g.home, name, args)
	}
	if err := g.resolve(); err != nil {
		return err
	}
	// The guest command and the arguments exactly as given: a shim's
	// arguments are the tool's, "--" included.
	tty := isTerminal(os.Stdin) && isTerminal(os.Stdout)
	argv := append([]string{d.tool, d.command}, args...)
	return runSandbox(g, sandboxFlags{}, argv, runMode{TTY: tty, Exec: true, Config: d.cfg})
}

// decision is what a shim does in a directory, and why.
type decision struct {
	tool    string       // the tool that owns the shim; "" when none does
	command string       // the shim's command inside the sandbox
	sandbox bool         // run the tool in its sandbox
	why     string       // "claimed by ./silo.toml", "globally pinned", …
	cfg     *lock.Config // the configuration loaded, when it was
}

// shimDecision decides, for the working directory, whether the shim name
// runs its tool in the sandbox: the project's silo.toml claims the tool,
// or the tool is pinned. It loads the configuration only when a project
// file is found or the tool is pinned: outside projects a shim that
// steps aside costs a directory walk.
func shimDecision(g *Globals, name string) (decision, error) {
	h, err := home.Resolve(g.Home)
	if err != nil {
		return decision{}, err
	}
	g.home = h.Path()
	wd, err := os.Getwd()
	if err != nil {
		return decision{}, fmt.Errorf("find the working directory: %w", err)
	}
	userHome, _ := os.UserHomeDir()
	opts := lock.Options{Home: g.home, Dir: wd, UserHome: userHome, Notes: os.Stderr}
	pins := readPins(g.home)
	project, _ := lock.FindProjectFile(opts)
	if project == "" && len(pins) == 0 {
		return decision{why: "no silo.toml here or above, and no tool is pinned"}, nil
	}
	cfg, err := loadConfig(g.home, opts)
	if err != nil {
		return decision{}, err
	}
	tool, command, ok := cfg.Shim(name)
	if !ok {
		return decision{why: fmt.Sprintf("no tool has the shim %s", name), cfg: cfg}, nil
	}
	d := decision{tool: tool, command: command, cfg: cfg}
	switch {
	case cfg.Claims(tool):
		d.sandbox, d.why = true, "claimed by "+relPath(wd, filepath.Join(cfg.ProjectRoot(), lock.ProjectFileName))
	case pins[tool]:
		d.sandbox, d.why = true, "globally pinned (silo unpin "+tool+" undoes it)"
	case cfg.ProjectRoot() != "":
		d.why = fmt.Sprintf("%s does not name %s, and %s is not pinned", relPath(wd, filepath.Join(cfg.ProjectRoot(), lock.ProjectFileName)), tool, tool)
	default:
		d.why = fmt.Sprintf("no silo.toml here or above, and %s is not pinned", tool)
	}
	return d, nil
}

// relPath is p relative to dir when it is beneath it ("./silo.toml",
// "../silo.toml"), else p.
func relPath(dir, p string) string {
	rel, err := filepath.Rel(dir, p)
	if err != nil || strings.Count(rel, "..") > 3 {
		return p
	}
	if !strings.HasPrefix(rel, "..") {
		rel = "./" + rel
	}
	return rel
}

// hostCommand finds the next NAME on PATH that is not silo: it skips the
// shim directory however PATH names it (twice, through a symlink) and any
// file that is the silo binary itself (a link or a copy's hard link).
func hostCommand(homeDir, name string) (string, bool) {
	bin, _ := os.Stat(home.Dir(homeDir).Bin())
	var self os.FileInfo
	if exe, err := os.Executable(); err == nil {
		self, _ = os.Stat(exe)
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue // a relative PATH entry would find the project's own files
		}
		if di, err := os.Stat(dir); err != nil || (bin != nil && os.SameFile(di, bin)) {
			continue
		}
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 || (self != nil && os.SameFile(fi, self)) {
			continue
		}
		return p, true
	}
	return "", false
}

// fallThrough runs the host's own NAME, as if the shim were not on PATH:
// silo prints nothing and is replaced by it.
func fallThrough(homeDir, name string, args []string) error {
	p, ok := hostCommand(homeDir, name)
	if !ok {
		fmt.Fprintf(os.Stderr, "%s: command not found (silo's shim steps aside here: the project does not name the tool, and it is not pinned; silo current %s says why)\n", name, name)
		return &ExitError{Code: 127}
	}
	err := syscall.Exec(p, append([]string{p}, args...), os.Environ())
	return fmt.Errorf("run %s: %w", p, err)
}

// readPins reads the pinned tools.
func readPins(homeDir string) map[string]bool {
	data, err := os.ReadFile(home.Dir(homeDir).Pins())
	pins := map[string]bool{}
	if err != nil {
		return pins
	}
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			pins[lock.CanonicalTool(l)] = true
		}
	}
	return pins
}

// setPin pins or unpins a tool; it reports whether anything changed.
func setPin(homeDir, tool string, pin bool) (bool, error) {
	pins := readPins(homeDir)
	if pins[tool] == pin {
		return false, nil
	}
	if pin {
		pins[tool] = true
	} else {
		delete(pins, tool)
	}
	var b strings.Builder
	b.WriteString("# The tools whose shims run the sandbox outside any project (silo pin, silo unpin).\n")
	for _, t := range sortedSet(pins) {
		b.WriteString(t + "\n")
	}
	return true, fsutil.WriteFile(home.Dir(homeDir).Pins(), []byte(b.String()), fsutil.WriteOptions{Perm: 0o600, Sync: true, MkdirPerm: 0o700})
}

// sortedSet is the keys of a set, sorted.
func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// linkShim makes $SILO_HOME/bin/name a link to the silo binary. A file
// there that is not silo's is left alone, with an error.
func linkShim(homeDir, name string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the silo binary: %w", err)
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return fmt.Errorf("find the silo binary: %w", err)
	}
	d := home.Dir(homeDir)
	if err := os.MkdirAll(d.Bin(), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", d.Bin(), err)
	}
	p := d.Shim(name)
	if fi, err := os.Lstat(p); err == nil {
		if fi.Mode()&os.ModeSymlink == 0 {
			return fmt.Errorf("%s exists and is not one of silo's shims: move it away, then run the command again", p)
		}
		if cur, _ := os.Readlink(p); cur == exe {
			return nil
		}
	}
	tmp := p + ".new"
	os.Remove(tmp)
	if err := os.Symlink(exe, tmp); err != nil {
		return fmt.Errorf("create the shim %s: %w", p, err)
	}
	return os.Rename(tmp, p)
}

// unlinkShim removes the shim name, if it is one of silo's links.
func unlinkShim(homeDir, name string) error {
	p := home.Dir(homeDir).Shim(name)
	fi, err := os.Lstat(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSymlink == 0 {
		return fmt.Errorf("%s is not one of silo's shims: silo leaves it alone", p)
	}
	return os.Remove(p)
}

// checkShimName refuses a shim name that would shadow silo itself or
// could not be a file name.
func checkShimName(name string) error {
	if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." || shimName(name) == "" {
		return fmt.Errorf("%q cannot be a shim: a shim is a command name, not silo's own", name)
	}
	return nil
}
