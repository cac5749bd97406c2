package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/silo-dev/silo/derive"
	"github.com/silo-dev/silo/internal/home"
	"github.com/silo-dev/silo/lock"
	"github.com/silo-dev/silo/sandbox"
	"github.com/silo-dev/silo/store"
	"github.com/silo-dev/silo/vm"
)

// InstallCmd is silo install TOOL[@VERSION], or a custom tool with --image.
type InstallCmd struct {
	Tool    string   `arg:"" help:"TOOL or TOOL@VERSION from the catalog (silo list --available); with --image, the new tool's name." predictor:"catalog"`
	Image   string   `help:"Install a custom tool from this image (a reference, or oci-layout:DIR)." placeholder:"REF"`
	Shim    []string `help:"A custom tool's shims: NAME, or HOST:GUEST to run GUEST when you type HOST (comma-separated or repeated)." sep:"," placeholder:"NAME"`
	Setup   string   `help:"A custom tool's setup: a script file (./install.sh, whose text is kept in the definition) or a command, run once at install as the tool's first build step." placeholder:"SCRIPT"`
	CPUs    int      `name:"cpus" help:"A custom tool's CPUs." placeholder:"N"`
	Memory  int      `help:"A custom tool's memory in MiB." placeholder:"MB"`
	Network bool     `help:"Let a custom tool reach services on this machine (network.hostAccess, as host.silo.internal)."`
	Allow   []string `help:"Hosts a custom tool may reach through silo's proxy (comma-separated; *.example.com for a domain)." sep:"," placeholder:"HOST"`
	Force   bool     `help:"Reinstall: write the tool's definition anew and pull its image again."`
	NoPin   bool     `name:"no-pin" help:"Do not pin the tool: outside projects that name it, its shims run the host's own commands."`
}

// Help is silo install's example.
func (c *InstallCmd) Help() string {
	return `Examples:
  silo install python              # the catalog's default version; a picker on a terminal
  silo install python@3.11-slim    # this image tag
  silo install claude-code
  silo install mytool --image ghcr.io/me/tool:1 --shim tool,tt:tool --allow api.example.com
  silo install mydb --image postgres:15 --shim psql,pg_dump --network
  silo install webdriver --image selenium/node:4.0 --setup ./install.sh --cpus 4 --memory 2048`
}

// Run writes the definition, pulls and builds what the backend boots,
// roots it, links the shims and pins the tool.
func (c *InstallCmd) Run(g *Globals) error {
	name, version, _ := strings.Cut(c.Tool, "@")
	name = lock.CanonicalTool(name)
	if err := lock.ToolNameError(name); err != nil {
		return usageErrorf("%v", err)
	}
	if installed(g.home, name) && !c.Force {
		fmt.Fprintf(os.Stderr, "silo: %s is already installed (silo install %s --force reinstalls it); linking its shims\n", name, name)
		cfg, err := lock.Load(lock.Options{Home: g.home, Dir: os.TempDir()})
		if err != nil {
			return err
		}
		t, err := cfg.Tool(name)
		if err != nil {
			return err
		}
		return c.finish(g, t)
	}
	block, err := c.definition(name, version)
	if err != nil {
		return err
	}
	path := home.Dir(g.home).GlobalConfig()
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err := c.checkShims(g.home, name, block, data); err != nil {
		return err
	}
	if err := writeConfig(g.home, lock.SetToolBlock(data, name, block)); err != nil {
		return err
	}
	cfg, err := lock.Load(lock.Options{Home: g.home, Dir: os.TempDir()})
	if err != nil {
		return err
	}
	t, err := cfg.Tool(name)
	if err != nil {
		return err
	}
	if err := pullTool(g, t); err != nil {
		return fmt.Errorf("%w (the definition is in %s; silo install %s --force tries again)", err, path, name)
	}
	if err := setupTool(g, name); err != nil {
		if _, ok := errors.AsType[*ExitError](err); ok {
			fmt.Fprintf(os.Stderr, "silo: %s's setup failed; its definition is in %s: fix it there, then silo install %s --force\n", name, path, name)
			return err
		}
		return fmt.Errorf("%s's setup: %w (the definition is in %s; silo install %s --force tries again)", name, err, path, name)
	}
	return c.finish(g, t)
}

// finish links the tool's shims and pins it, and says what to type next.
func (c *InstallCmd) finish(g *Globals, t *lock.Tool) error {
	var names []string
	for _, s := range t.Shims {
		if err := linkShim(g.home, s.Name); err != nil {
			return err
		}
		names = append(names, s.Name)
	}
	if !c.NoPin {
		if _, err := setPin(g.home, t.Name, true); err != nil {
			return err
		}
	}
	if g.Quiet {
		return nil
	}
	fmt.Fprintf(os.Stderr, "silo: installed %s (%s); shims: %s\n", t.Name, t.Image, strings.Join(names, ", "))
	bin := home.Dir(g.home).Bin()
	if !onPath(bin) {
		fmt.Fprintf(os.Stderr, "silo: to type them directly, add silo's shims to PATH: eval \"$(silo shellenv)\"\n")
	}
	if c.NoPin {
		fmt.Fprintf(os.Stderr, "silo: not pinned: its shims run it in the sandbox only in projects that name it (silo pin %s)\n", t.Name)
	}
	return nil
}

// onPath reports whether dir is on PATH.
func onPath(dir string) bool {
	di, err := os.Stat(dir)
	if err != nil {
		return false
	}
	for _, p := range filepath.SplitList(os.Getenv("PATH")) {
		if fi, err := os.Stat(p); err == nil && os.SameFile(fi, di) {
			return true
		}
	}
	return false
}

// definition is the [tool.NAME] block to write: the catalog's with the
// chosen version, or a custom tool's from the flags.
func (c *InstallCmd) definition(name, version string) ([]byte, error) {
	if c.Image != "" {
		return c.custom(name)
	}
	block := lock.CatalogBlock(name)
	if block == nil {
		return nil, usageErrorf("%q is not in silo's catalog%s: silo list --available shows it; a custom tool needs --image REF", name, didYouMean(name, catalogNames()))
	}
	cat, err := catalogTool(name)
	if err != nil {
		return nil, err
	}
	if version == "" {
		if version, err = pickVersion(cat); err != nil {
			return nil, err
		}
	}
	if version != "" {
		repo := imageRepo(cat.Image)
		block = lock.SetBlockKey(block, "image", strconv.Quote(repo+":"+version))
	}
	return block, nil
}

// custom is a custom tool's block.
func (c *InstallCmd) custom(name string) ([]byte, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "[tool.%s]\nimage = %s\n", name, lock.TOMLString(c.Image))
	shims := c.Shim
	if len(shims) == 0 {
		shims = []string{name}
	}
	fmt.Fprintf(&b, "shims = %s\n", lock.TOMLStrings(shims))
	if c.Setup != "" {
		script, err := setupScript(c.Setup)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "setup = %s\n", lock.TOMLString(script))
	}
	if c.CPUs > 0 {
		fmt.Fprintf(&b, "cpus = %d\n", c.CPUs)
	}
	if c.Memory > 0 {
		fmt.Fprintf(&b, "memoryMB = %d\n", c.Memory)
	}
	if c.Network {
		fmt.Fprintf(&b, "[tool.%s.network]\nhostAccess = true\n", name)
	}
	if len(c.Allow) > 0 {
		fmt.Fprintf(&b, "[tool.%s.network.proxy]\nallow = %s\n", name, lock.TOMLStrings(c.Allow))
	}
	return []byte(b.String()), nil
}

// maxSetupScript is the largest setup script silo install keeps in a
// definition.
const maxSetupScript = 64 << 10

// setupScript is what --setup arg means: a path (a word with a slash,
// ./install.sh as Silo's users pass it) names a script file whose text it
// is; anything else is a command. A file that happens to share a
// command's name (make) is never read.
func setupScript(arg string) (string, error) {
	if !strings.Contains(arg, "/") || strings.ContainsAny(arg, " \t;|&") {
		return arg, nil
	}
	fi, err := os.Stat(arg)
	if err != nil || !fi.Mode().IsRegular() {
		return "", usageErrorf("--setup %s: no such script file; give a script's path or a command such as --setup \"pip install x\"", arg)
	}
	if fi.Size() > maxSetupScript {
		return "", usageErrorf("--setup %s: the script is %d bytes, over the %d silo keeps in a definition; put it in the image, or run it with silo build --global", arg, fi.Size(), maxSetupScript)
	}
	data, err := os.ReadFile(arg)
	if err != nil {
		return "", fmt.Errorf("read the setup script: %w", err)
	}
	if !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 {
		return "", usageErrorf("--setup %s is not a text file", arg)
	}
	return string(data), nil
}

// checkShims refuses a tool whose shims another installed tool holds.
func (c *InstallCmd) checkShims(homeDir, name string, block, config []byte) error {
	cfg, err := lock.Load(lock.Options{Home: homeDir, Dir: os.TempDir()})
	if err != nil {
		return err
	}
	var def struct{ shims []string }
	for _, l := range strings.Split(string(block), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && strings.TrimSpace(k) == "shims" {
			def.shims = parseStringList(v)
		}
	}
	for _, w := range def.shims {
		host, _, _ := strings.Cut(w, ":")
		if err := checkShimName(host); err != nil {
			return err
		}
		holder, _, ok := cfg.Shim(host)
		if ok && holder != name && lock.ToolBlock(config, holder) != nil {
			return fmt.Errorf("the shim %s belongs to the installed tool %s: remove it there first (silo shim %s remove %s), or name this tool's shims with --shim", host, holder, holder, host)
		}
	}
	return nil
}

// parseStringList reads a one-line TOML array of strings.
func parseStringList(v string) []string {
	var out []string
	for _, f := range strings.Split(strings.Trim(strings.TrimSpace(v), "[]"), ",") {
		if s, err := strconv.Unquote(strings.TrimSpace(f)); err == nil {
			out = append(out, s)
		}
	}
	return out
}

// imageRepo is an image reference without its tag.
func imageRepo(ref string) string {
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i]
	}
	return ref
}

// catalogNames are the catalog's tool names, and the names Silo's users
// know them by.
func catalogNames() []string {
	names := []string{"claude-code"}
	if cfg, err := catalog(); err == nil {
		names = append(names, cfg.ToolNames()...)
	}
	return names
}

// catalogTool is the catalog's definition of name.
func catalogTool(name string) (*lock.Tool, error) {
	cfg, err := catalog()
	if err != nil {
		return nil, err
	}
	return cfg.Tool(name)
}

// catalog is silo's built-in definitions alone, without the user's files.
func catalog() (*lock.Config, error) {
	empty, err := os.MkdirTemp("", "silo-catalog-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(empty)
	return lock.Load(lock.Options{Home: empty, Dir: empty, UserHome: empty})
}

// pickVersion asks for a version on a terminal (Enter takes the default),
// and takes the default otherwise ("" keeps the catalog's image).
func pickVersion(t *lock.Tool) (string, error) {
	if len(t.Versions) < 2 || !isTerminal(os.Stdin) || !isTerminal(os.Stderr) {
		return "", nil
	}
	fmt.Fprintf(os.Stderr, "Versions of %s (%s):\n", t.Name, imageRepo(t.Image))
	for i, v := range t.Versions {
		mark := ""
		if i == 0 {
			mark = "  (default)"
		}
		fmt.Fprintf(os.Stderr, "  %d) %s%s\n", i+1, v, mark)
	}
	fmt.Fprintf(os.Stderr, "Pick one [1]: ")
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", nil
	}
	line = strings.TrimSpace(line)
	if line == "" {
		return t.Versions[0], nil
	}
	if n, err := strconv.Atoi(line); err == nil && n >= 1 && n <= len(t.Versions) {
		return t.Versions[n-1], nil
	}
	if slices.Contains(t.Versions, line) {
		return line, nil
	}
	return "", usageErrorf("%q is not one of the versions listed: type its number, or run silo install %s@VERSION", line, t.Name)
}

// pullTool pulls the tool's image, builds the rootfs the backend boots
// and roots both, so that a GC keeps them while the tool is installed.
func pullTool(g *Globals, t *lock.Tool) error {
	backend, _, err := g.backends().Select(g.Backend)
	if err != nil {
		return err
	}
	st, err := g.OpenStore()
	if err != nil {
		return err
	}
	defer st.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	prog := newPullProgress(os.Stderr, g.Quiet)
	o := derive.RootfsOptions{Pull: true, OCI: g.pullOptions(prog.progress()),
		Format: derive.FormatExt4, MaxMB: int64(t.RootfsSizeMB)}
	if backend.Needs().RootfsDir {
		o.Format = derive.FormatDir
	}
	res, err := derive.Rootfs(ctx, st, t.Image, o)
	prog.close()
	if err != nil {
		return fmt.Errorf("image %s: %w", t.Image, err)
	}
	return rootTool(st, t.Name, res)
}

// toolRoot is the name of an installed tool's direct root of kind.
func toolRoot(tool, kind string) string { return "tool-" + tool + "-" + kind }

// rootTool roots the image and the rootfs of an installed tool.
func rootTool(st *store.Store, tool string, res *derive.RootfsResult) error {
	if err := st.AddRoot(toolRoot(tool, "image"), res.ImageEntry.Name); err != nil {
		return err
	}
	for kind, e := range map[string]*store.Entry{"rootfs-dir": res.Dir, "rootfs-ext4": res.Ext4} {
		if e != nil {
			if err := st.AddRoot(toolRoot(tool, kind), e.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

// keepInstalled roots the image rootfs a run of an installed tool boots, in the
// backend's form, so that a GC keeps it as it keeps what install built
// (a run on another backend than the install's builds the other form).
func keepInstalled(g *Globals, st *store.Store, plan *sandbox.Plan, spec *vm.Spec) {
	// A rootfs that stacks build steps is the project's (or the user's
	// global builds'): the silo.lock or the build's own root keeps it, and
	// the tool's root must not keep a deleted project's steps alive.
	if plan.Tool == nil || len(plan.Steps) > 0 || !installed(g.home, plan.Tool.Name) {
		return
	}
	for kind, p := range map[string]string{"rootfs-dir": spec.RootfsDir, "rootfs-ext4": spec.RootfsImage} {
		name := toolRoot(plan.Tool.Name, kind)
		if p == "" || rootsTo(g.home, name, p) {
			continue
		}
		_ = st.AddRoot(name, p)
	}
}

// rootsTo reports whether the direct root name already points at the
// store entry holding p (a run then writes nothing).
func rootsTo(homeDir, name, p string) bool {
	target, err := os.Readlink(filepath.Join(home.Dir(homeDir).Roots(), name))
	if err != nil {
		return false
	}
	entry := filepath.Base(target)
	rel, err := filepath.Rel(home.Dir(homeDir).Store(), p)
	return err == nil && (rel == entry || strings.HasPrefix(rel, entry+string(filepath.Separator)))
}

// setupTool runs the installed tool's setup and postInstall commands, the
// first steps of its builds, and records them as the user's global build
// of the tool, so that every run starts from their result.
func setupTool(g *Globals, tool string) error {
	// Setup steps read no project file: they run in an empty directory.
	empty, err := os.MkdirTemp("", "silo-setup-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(empty)
	cfg, err := lock.Load(lock.Options{Home: g.home, Dir: empty})
	if err != nil {
		return err
	}
	return withBuilderFor(g, cfg, func(ctx context.Context, b *sandbox.Builder, p *sandbox.Project) error {
		if len(p.SetupDefs(tool)) == 0 {
			return nil
		}
		return realiseGlobal(ctx, b, p, tool, nil)
	})
}
