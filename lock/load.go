package lock

import (
	_ "embed"
	"errors"
	"fmt"
	"github.com/silo-dev/silo/internal/home"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"

	"github.com/pelletier/go-toml/v2"
)

// File names silo reads.
const (
	GlobalConfigName = "config.toml" // in $SILO_HOME: tool definitions
	ProjectFileName  = "silo.toml"   // in a project, and user-wide in $SILO_HOME
)

// maxFileSize bounds a configuration file; anything larger is a mistake.
const maxFileSize = 1 << 20

//go:embed defaults.toml
var defaultsTOML []byte

// Options say where to look for configuration.
type Options struct {
	Home     string // silo's home ($SILO_HOME): config.toml and the user-wide silo.toml
	Dir      string // the working directory, where the walk up to silo.toml starts; "" for the current one
	UserHome string // the user's $HOME: expands ~ and stops the walk up; "" for the current user's
	// Notes, when set, receives Config.Notes, one line each, once the
	// configuration has loaded: silo passes os.Stderr.
	Notes io.Writer
}

// input is one configuration file's bytes.
type input struct {
	path string
	data []byte
}

// inputs are the files Load found; nil when absent.
type inputs struct {
	global, user, project *input
}

// Load reads the built-in tool definitions, $SILO_HOME/config.toml,
// $SILO_HOME/silo.toml and the project's silo.toml (found by walking up from
// opts.Dir), validates them and merges them. Any problem in any file fails
// the whole load: the returned error lists each one as file:line:column.
// A project file that grants more than the defaults, or a nested one a
// sandbox could have written, must be trusted in its present content;
// otherwise Load fails with an *UntrustedError holding the bytes it
// refused and what they grant.
func Load(opts Options) (*Config, error) {
	o, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	in, err := readInputs(o)
	if err != nil {
		return nil, err
	}
	if in.project, err = findProject(o.Dir, o.UserHome, home.Dir(o.Home).UserProject()); err != nil {
		return nil, err
	}
	c, err := build(o, in)
	if err != nil {
		return nil, err
	}
	if in.project != nil {
		if err := checkTrust(o, in.project, c); err != nil {
			return nil, err
		}
	}
	if opts.Notes != nil {
		for _, n := range c.notes {
			fmt.Fprintln(opts.Notes, n)
		}
	}
	return c, nil
}

// readInputs reads the user's own files: config.toml and the user-wide
// silo.toml, which need no trust.
func readInputs(o Options) (inputs, error) {
	var in inputs
	var err error
	if in.global, err = readConfig(home.Dir(o.Home).GlobalConfig()); err != nil {
		return in, err
	}
	in.user, err = readConfig(home.Dir(o.Home).UserProject())
	return in, err
}

// normalize fills in defaults and makes the paths absolute.
func (o Options) normalize() (Options, error) {
	if o.Home == "" {
		return o, errors.New("load configuration: silo's home directory is not set (set SILO_HOME)")
	}
	if o.Dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return o, fmt.Errorf("load configuration: find the working directory: %w", err)
		}
		o.Dir = wd
	}
	if o.UserHome == "" {
		o.UserHome, _ = os.UserHomeDir() // without one, ~ is an error where used
	}
	for _, p := range []*string{&o.Home, &o.Dir, &o.UserHome} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return o, fmt.Errorf("load configuration: %w", err)
		}
		*p = abs
	}
	return o, nil
}

// readConfig reads a configuration file, or returns nil if there is none.
func readConfig(path string) (*input, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil, nil
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s: it is not a regular file: remove or rename it", path)
	}
	if st.Size() > maxFileSize {
		return nil, fmt.Errorf("read %s: the file is %d bytes, more than the %d a configuration file may have", path, st.Size(), maxFileSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("read %s: the file is larger than the %d bytes a configuration file may have", path, maxFileSize)
	}
	return &input{path: path, data: data}, nil
}

// findProject walks up from dir looking for silo.toml. The walk stops after
// the user's home directory (its parent is not looked at) or at the root.
// skip is the user-wide silo.toml, which is never a project's.
func findProject(dir, userHome, skip string) (*input, error) {
	for d := dir; ; {
		p := filepath.Join(d, ProjectFileName)
		if p != skip {
			in, err := readConfig(p)
			if in != nil || err != nil {
				return in, err
			}
		}
		parent := filepath.Dir(d)
		if d == userHome || parent == d {
			return nil, nil
		}
		d = parent
	}
}

// builtins returns the decoded built-in tool definitions, decoded once per
// process.
var builtins = sync.OnceValues(decodeBuiltins)

// decodeBuiltins decodes defaults.toml. Built-in values have no position
// (their Source is BuiltIn), so the file is not indexed here: every shim
// call pays this. TestBuiltIns checks it strictly instead.
func decodeBuiltins() (*globalFile, *layer) {
	var g globalFile
	if err := toml.Unmarshal(defaultsTOML, &g); err != nil {
		panic(fmt.Sprintf("lock: the built-in defaults.toml is invalid: %v", err)) // a build defect, caught by the tests
	}
	return &g, &layer{file: BuiltIn, ix: posIndex{}}
}

// build decodes, validates and merges the inputs.
func build(o Options, in inputs) (*Config, error) {
	b := &builder{home: o.Home, userHome: o.UserHome, workspace: o.Dir}
	c := &Config{workspace: o.Dir, shims: map[string]Shim{}}
	if in.project != nil {
		c.projectRoot = filepath.Dir(in.project.path)
		c.workspace = c.projectRoot
		b.workspace = c.projectRoot
	}
	var g globalFile
	var gl *layer
	if in.global != nil {
		gl = b.decode(c, in.global, &g, false)
	}
	var user, proj projectFile
	var ul, pl *layer
	if in.user != nil {
		ul = b.decode(c, in.user, &user, false)
	}
	if in.project != nil {
		pl = b.decode(c, in.project, &proj, true)
	}
	for _, pf := range []struct {
		f *projectFile
		l *layer
	}{{&user, ul}, {&proj, pl}} {
		if pf.l != nil {
			if note := b.readSnakeCase(pf.l, pf.f); note != "" {
				c.notes = append(c.notes, note)
			}
		}
	}
	if (in.global != nil && gl == nil) || (in.user != nil && ul == nil) || (in.project != nil && pl == nil) {
		return nil, errors.Join(b.errs...) // a file that is not TOML, or has a value of the wrong type
	}
	c.tools = b.baseTools(&g, gl)
	c.image = b.imageTool()
	c.cache.Origins = map[string]Source{}
	names := slices.Sorted(maps.Keys(c.tools))
	for _, pf := range []struct {
		f *projectFile
		l *layer
	}{{&user, ul}, {&proj, pl}} {
		if pf.l == nil {
			continue
		}
		b.applyProject(c, pf.f, pf.l, names)
	}
	if user.Mount != nil && user.Mount.Mode != nil {
		c.userMode = *user.Mount.Mode
	}
	b.indexShims(c, &g, gl)
	for _, t := range c.tools {
		t.ProjectRoot = c.projectRoot
	}
	applyCacheLimits(c)
	b.checkCacheDirs(c)
	if len(b.errs) > 0 {
		return nil, errors.Join(b.errs...)
	}
	return c, nil
}

// decode strictly decodes one file into v and indexes its positions. It
// returns nil, recording the error, if the file does not decode.
func (b *builder) decode(c *Config, in *input, v any, project bool) *layer {
	c.files = append(c.files, in.path)
	ix, err := decodeStrict(in.path, in.data, v)
	if err != nil {
		b.errs = append(b.errs, err)
	}
	if ix == nil {
		return nil
	}
	return &layer{file: in.path, dir: filepath.Dir(in.path), ix: ix, project: project}
}

// baseTools builds every defined tool: the built-in ones, each replaced
// whole by a global definition of the same name.
func (b *builder) baseTools(g *globalFile, gl *layer) map[string]*Tool {
	defs, bl := builtins()
	tools := make(map[string]*Tool, len(defs.Tool)+len(g.Tool))
	global := b.canonicalKeys(gl, "tool", sortedKeys(g.Tool))
	for _, name := range sortedKeys(defs.Tool) {
		if _, replaced := global[name]; !replaced {
			tools[name] = b.baseTool(name, name, defs.Tool[name], bl)
		}
	}
	for _, name := range sortedKeys(global) {
		key := global[name]
		d := g.Tool[key]
		if d == nil {
			d = &toolDef{}
		}
		tools[name] = b.baseTool(name, key, d, gl)
	}
	return tools
}

// canonicalKeys maps the canonical name of each tool key of a table
// ([tool.*] or [overrides.*]) to the key as written. Two keys naming one
// tool ("claude" and "claude-code") are an error.
func (b *builder) canonicalKeys(l *layer, table string, keys []string) map[string]string {
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		n := CanonicalTool(k)
		if prev, dup := out[n]; dup {
			p, _ := l.ix.at(table, prev)
			b.fail(l, []string{table, k}, "[%s.%s] and [%s.%s] (line %d) name one tool, %s: merge them into [%s.%s]",
				table, k, table, prev, p.Line, n, table, n)
			continue
		}
		out[n] = k
	}
	return out
}

// applyProject merges one silo.toml into every tool.
func (b *builder) applyProject(c *Config, f *projectFile, l *layer, names []string) {
	s := b.settings(f, l)
	refs := b.toolRefs(f, l, names)
	for _, n := range refs {
		if !slices.Contains(c.projectTools, n) {
			c.projectTools = append(c.projectTools, n)
		}
	}
	overrides := b.canonicalKeys(l, "overrides", sortedKeys(f.Overrides))
	if l.project {
		c.claims = append(c.claims, refs...)
		for n := range overrides {
			c.claims = append(c.claims, n)
		}
	}
	s.apply(c.image)
	for _, n := range names {
		t := c.tools[n]
		s.apply(t)
		if key, ok := overrides[n]; ok && f.Overrides[key] != nil {
			b.overlay(t, key, f.Overrides[key], l)
		}
	}
	b.cachePolicy(&c.cache, f, l)
}

// indexShims maps each shim name to its tool. A tool defined in config.toml
// takes a shim name from a built-in tool; two tools of config.toml, or two
// built-in ones, claiming one name is an error.
func (b *builder) indexShims(c *Config, g *globalFile, gl *layer) {
	global := func(tool string) bool { _, ok := g.Tool[tool]; return ok }
	names := slices.Sorted(maps.Keys(c.tools))
	// Global tools first, so that they win.
	slices.SortStableFunc(names, func(a, b string) int { return boolCmp(global(b), global(a)) })
	for _, n := range names {
		t := c.tools[n]
		kept := t.Shims[:0:0]
		for i, s := range t.Shims {
			if prev, taken := c.shims[s.Name]; taken {
				if global(n) && global(prev.Name) {
					b.fail(gl, []string{"tool", n, "shims"}, "shim %q of tool %q is already the shim of tool %q: remove it from one of them", s.Name, n, prev.Name)
				}
				continue
			}
			c.shims[s.Name] = Shim{Name: n, Command: s.Command}
			if len(kept) != i {
				t.Origins["shims."+idx(len(kept))] = t.Origins["shims."+idx(i)]
			}
			kept = append(kept, s)
		}
		for i := len(kept); i < len(t.Shims); i++ {
			delete(t.Origins, "shims."+idx(i))
		}
		t.Shims = kept
	}
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
