package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/silo-dev/silo/derive"
	"github.com/silo-dev/silo/derive/oci"
	"github.com/silo-dev/silo/internal/home"
	"github.com/silo-dev/silo/lock"
	"github.com/silo-dev/silo/store"
	"github.com/silo-dev/silo/vm"
	"github.com/silo-dev/silo/vm/kernel"
)

// StepDef is a build step as the user defined it: its scope, command and
// the project files it may read.
type StepDef struct {
	Scope  string
	Argv   []string
	Inputs []string
	// Key says where the command comes from, for the reason of a changed
	// one ("tool.python.setup (config.toml:3:1)"); "" for a project step.
	Key string
}

// Mode says what resolving a tool may do.
type Mode int

// The modes of Builder.Resolve.
const (
	// ModeBuild builds what the store lacks, changed steps included.
	ModeBuild Mode = iota
	// ModeLocked refuses any change to the lock: a changed step is an
	// error naming what changed.
	ModeLocked
	// ModeStatus builds and pulls nothing: it reports what is missing.
	ModeStatus
	// ModeRebuild runs every step again, found in the store or not.
	ModeRebuild
	// ModePull builds what the store lacks but changes nothing the lock
	// says: a changed step is a problem reported, not rebuilt.
	ModePull
)

// Builder resolves tools against a lock: the image pinned by digest, each
// build step realised (found in the store, or run and captured), and the
// rootfs that stacks them. `silo build`, `silo run` (through the lock),
// `silo pull` and `silo status` all go through it.
type Builder struct {
	Config  *lock.Config
	Store   *store.Store
	Backend vm.Backend
	Options Options
	// Request carries the host side of a step's run (UserHome, streams,
	// Warn, BootTimeout); its Tool, Args and Dir are the Builder's.
	Request Request
	// Progress receives one line per step built; nil prints nothing.
	Progress io.Writer
	// Pull asks the registry again for the tag (silo pull --update).
	Pull bool

	hasher *inputHasher
}

// Chain is a tool resolved: what the lock says for it, and what a run
// boots.
type Chain struct {
	Lock  *lock.LockTool
	Image *oci.Image
	Steps []derive.StepLayer
	// Entries are the store entries the lock pins (GC's indirect root).
	Entries []string
	// Changes say why the lock changed, one short phrase each.
	Changes []string
	// Problems are what ModeStatus found out of sync.
	Problems []string
	// Built counts the steps that ran.
	Built int

	// old is the lock entry resolved against, for the reasons of changes.
	old *lock.LockTool
}

// StepError is a build step whose command failed: silo exits with Code.
type StepError struct {
	Argv []string
	Code int
}

func (e *StepError) Error() string {
	return fmt.Sprintf("build step %q exited with status %d; nothing was kept", strings.Join(e.Argv, " "), e.Code)
}

// workspace is the project directory the builder resolves for.
func (b *Builder) workspace() string { return b.Config.Workspace() }

func (b *Builder) hash(rel string, exclude []string) (string, error) {
	if b.hasher == nil {
		b.hasher = newInputHasher(home.Dir(b.Options.Home).InputHashes())
	}
	return b.hasher.hash(b.workspace(), rel, exclude)
}

// Close saves the input hash cache.
func (b *Builder) Close() {
	if b.hasher != nil {
		b.hasher.save()
	}
}

// Resolve resolves tool with the steps defs against old, its lock entry
// (nil when it has none), doing what mode allows.
func (b *Builder) Resolve(ctx context.Context, tool string, defs []StepDef, old *lock.LockTool, mode Mode) (*Chain, error) {
	plan, err := NewPlan(b.Config, Request{Tool: tool, Dir: b.workspace(), UserHome: b.Request.UserHome})
	if err != nil {
		return nil, err
	}
	t := plan.Tool
	c := &Chain{old: old}
	pin := ""
	if old != nil && old.Image == t.Image && !b.Pull {
		pin = old.Digest
	} else if old != nil && old.Image != t.Image {
		why := fmt.Sprintf("tool.%s.image changed%s: it is %s, the lock's is %s", tool, origin(t, "image"), t.Image, old.Image)
		switch mode {
		case ModeLocked:
			return nil, fmt.Errorf("the lock is out of date: %s; run without --locked (or unset SILO_LOCKED) to update silo.lock", why)
		case ModeStatus, ModePull:
			c.Problems = append(c.Problems, why+"; silo run or silo pull --update updates the lock")
			return c, nil
		}
		c.Changes = append(c.Changes, why)
	}
	if mode == ModeStatus && pin != "" {
		if _, _, err := oci.LookupDigest(b.Store, pin, oci.DefaultPlatform()); err != nil {
			c.Problems = append(c.Problems, fmt.Sprintf("image %s is not in the store", shortDigest(pin)))
			return c, nil
		}
	}
	res, err := derive.ResolveImage(ctx, b.Store, t.Image, derive.RootfsOptions{Digest: pin, Pull: b.Pull, OCI: b.Options.Rootfs.OCI})
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", t.Image, err)
	}
	im := res.Image
	c.Image = im
	c.Entries = append(c.Entries, res.ImageEntry.Name)
	c.Lock = &lock.LockTool{Image: t.Image, Digest: im.Digest, Index: im.Index, Platform: im.Platform}
	if pin != "" {
		// Pulled by its manifest digest, the image names no index: the
		// lock's is what the reference resolved through when it was locked.
		c.Lock.Index = old.Index
	}
	if old != nil && pin == "" && old.Digest != im.Digest {
		c.Changes = append(c.Changes, fmt.Sprintf("%s's image resolved to %s (was %s)", tool, shortDigest(im.Digest), shortDigest(old.Digest)))
	}
	parent := "image:" + im.Digest
	for i, def := range defs {
		var was *lock.LockStep
		if old != nil && i < len(old.Steps) && slices.Equal(old.Steps[i].Argv, def.Argv) && old.Steps[i].Scope == def.Scope {
			was = old.Steps[i]
		}
		ls, d, err := b.step(ctx, plan, c, i, def, was, parent, mode)
		if err != nil {
			return nil, err
		}
		if ls == nil { // ModeStatus: not built
			return c, nil
		}
		c.Lock.Steps = append(c.Lock.Steps, ls)
		parent = d.Hash().String()
	}
	if old != nil && len(old.Steps) != len(defs) {
		c.Changes = append(c.Changes, fmt.Sprintf("%s has %d build steps (was %d)", tool, len(defs), len(old.Steps)))
	}
	c.Lock.Rootfs = derive.StepRootfsDerivation(im, c.Steps, "dir", 0).Hash().String()
	if len(defs) > 0 {
		c.Lock.DerivedFrom = derivedFrom(t)
	}
	if old != nil && sameDerivations(old.Steps, c.Lock.Steps) {
		// The steps are the ones locked: what the lock says they were
		// derived from stays (absent in a lock written before silo kept
		// it; a network host moved between allow and installAllow).
		c.Lock.DerivedFrom = old.DerivedFrom
	}
	if old != nil {
		c.Lock.Kernel, c.Lock.Initfs = old.Kernel, old.Initfs
	}
	if b.Backend != nil && b.Backend.Needs().Kernel && mode != ModeStatus {
		if rt, err := kernel.Ensure(b.Store, b.Options.Agent); err == nil {
			c.Lock.Kernel, c.Lock.Initfs = rt.Kernel.ContentHash.String(), rt.Initfs.ContentHash.String()
		}
	}
	return c, nil
}

// step resolves one step: its inputs hashed, its derivation, its layer
// (found, or built when mode allows) and the rootfs after it.
func (b *Builder) step(ctx context.Context, plan *Plan, c *Chain, i int, def StepDef, was *lock.LockStep, parent string, mode Mode) (*lock.LockStep, *derive.Derivation, error) {
	t := plan.Tool
	ls := &lock.LockStep{Scope: def.Scope, Argv: def.Argv}
	for _, in := range def.Inputs {
		h, err := b.hash(in, t.Exclude)
		if err != nil {
			return nil, nil, err
		}
		ls.Inputs = append(ls.Inputs, lock.LockInput{Path: in, Hash: h})
	}
	d := derive.StepDerivation(derive.Step{Platform: c.Image.Platform, Parent: parent, Argv: def.Argv, Env: stepEnv(t), Network: stepNetwork(t), Inputs: stepInputs(ls.Inputs)})
	ls.Derivation = d.Hash().String()
	changed := was != nil && was.Derivation != ls.Derivation
	if changed || was == nil {
		why := changeReason(t, i, def, was, ls, c)
		c.Changes = append(c.Changes, why)
		if mode == ModeLocked {
			return nil, nil, fmt.Errorf("the lock is out of date: %s; run without --locked (or unset SILO_LOCKED) to rebuild and update silo.lock", why)
		}
		if mode == ModeStatus || mode == ModePull {
			c.Problems = append(c.Problems, why+"; silo run rebuilds it and updates the lock")
			return nil, nil, nil
		}
	}
	locked := ""
	if was != nil && !changed {
		locked = was.Layer
	}
	e, err := derive.LookupStep(b.Store, d, locked)
	switch {
	case err == nil && mode != ModeRebuild:
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return nil, nil, err
	case mode == ModeStatus:
		c.Problems = append(c.Problems, fmt.Sprintf("step %d (%s) is not built here", i+1, argvText(def.Argv)))
		return nil, nil, nil
	default:
		before := locked
		if e != nil {
			before = e.Annotations["oci.diffID"]
		}
		if e, err = b.build(ctx, plan, c, i, def, d, mode == ModeRebuild, before); err != nil {
			return nil, nil, err
		}
		c.Built++
	}
	layer := derive.StepLayer{DiffID: e.Annotations["oci.diffID"], Entry: e.Name}
	c.Steps = append(c.Steps, layer)
	c.Entries = append(c.Entries, e.Name)
	ls.Layer = layer.DiffID
	if was != nil && !changed && was.Layer != ls.Layer && mode != ModeRebuild {
		c.Problems = append(c.Problems, fmt.Sprintf("step %d (%s) made a layer that differs from the lock's: it is not reproducible (silo build --check %s lists the paths)", i+1, argvText(def.Argv), t.Name))
	}
	rootfs, err := derive.StepRootfs(b.Store, c.Image, c.Steps, "dir", maxMB(t))
	if err != nil {
		return nil, nil, err
	}
	c.Entries = append(c.Entries, rootfs.Name)
	ls.Rootfs = rootfs.ContentHash.String()
	return ls, d, nil
}

// build runs the step in a sandbox on the rootfs below it and keeps what
// it captured under d. again (silo rebuild) makes the new output d's in
// place of a stored one, and says whether it differs from before, the
// diff ID of the output it replaces ("" when there was none).
func (b *Builder) build(ctx context.Context, plan *Plan, c *Chain, i int, def StepDef, d *derive.Derivation, again bool, before string) (*store.Entry, error) {
	b.progress("silo: build %s step %d: %s", plan.Tool.Name, i+1, argvText(def.Argv))
	run := func(w io.Writer) error { return b.runStep(ctx, plan, c, def, w) }
	if !again {
		e, _, err := derive.RealiseStep(b.Store, d, run)
		return e, err
	}
	e, err := derive.RebuildStep(b.Store, d, run)
	if err != nil {
		return nil, err
	}
	now := e.Annotations["oci.diffID"]
	switch {
	case before == "":
	case now == before:
		b.progress("silo: %s step %d rebuilt to the same output as before (reproducible)", plan.Tool.Name, i+1)
	default:
		b.progress("silo: %s step %d rebuilt to a different output than before (not reproducible): layer %s, was %s; the new one is kept (silo build --check %s lists the paths that change)", plan.Tool.Name, i+1, shortDigest(now), shortDigest(before), plan.Tool.Name)
	}
	return e, nil
}

// runStep runs one step: a workspace that holds only its inputs, the
// excluded paths seeded from the steps below, the install network, and
// the capture written to w.
func (b *Builder) runStep(ctx context.Context, base *Plan, c *Chain, def StepDef, w io.Writer) error {
	tmp, err := b.Store.MkTemp("step-")
	if err != nil {
		return err
	}
	defer removeAll(tmp)
	ws := filepath.Join(tmp, "workspace")
	if err := os.Mkdir(ws, 0o755); err != nil {
		return err
	}
	t := base.Tool
	if err := copyInputs(b.workspace(), ws, def.Inputs, t.Exclude); err != nil {
		return err
	}
	p := *base
	p.Spec.Workspace, p.Spec.Cwd, p.Spec.Argv = ws, ".", def.Argv
	p.Spec.PassFiles, p.Spec.SSHAgent, p.Spec.Ports = nil, "", nil
	if def.Scope == lock.ScopeGlobal {
		// A global step's result is every project's: it must not read
		// the caches of the project it happens to be built in, where
		// that project's own runs (its package hooks) could plant files.
		p.Spec.Mounts = nil
	}
	p.Spec.Stdin, p.Spec.Stdout, p.Spec.Stderr = nil, b.Request.Stdout, b.Request.Stderr
	p.Spec.BootTimeout = b.Request.BootTimeout
	p.Digest, p.Steps, p.Install = c.Image.Digest, slices.Clone(c.Steps), true
	p.env.Tool = maps.Clone(t.Env)
	if p.env.Tool == nil {
		p.env.Tool = map[string]string{}
	}
	p.env.Tool["SOURCE_DATE_EPOCH"] = strconv.Itoa(derive.SourceDateEpoch)
	p.env.Pass = nil
	pol := t.Network
	pol.Allow = append(slices.Clone(pol.Allow), pol.InstallAllow...)
	p.Network, p.Spec.Network = pol, pol
	wd := strings.TrimPrefix(workdirOf(&p.Spec), "/")
	p.Spec.ExcludeDirs = nil
	for i, ex := range t.Exclude {
		dir := filepath.Join(tmp, "exclude", strconv.Itoa(i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if _, err := seedFromLayers(b.Store, c.Steps, wd, ex, dir); err != nil {
			return err
		}
		p.Spec.ExcludeDirs = append(p.Spec.ExcludeDirs, dir)
	}
	sb, err := p.Prepare(ctx, b.Store, b.Backend, b.Options)
	if err != nil {
		return err
	}
	defer sb.Close()
	sb.Spec.CaptureEpoch = derive.SourceDateEpoch
	limit := 2 * maxMB(t) << 20
	sb.Spec.Capture = func(r io.Reader) error {
		// The host's disk is not the sandbox's to fill: a capture is at
		// most twice the rootfs size limit.
		n, err := io.Copy(w, io.LimitReader(r, limit+1))
		if err == nil && n > limit {
			err = fmt.Errorf("the step's changes are over %d MiB (twice rootfsSizeMB): make the step keep less", limit>>20)
		}
		return err
	}
	code, err := sb.Run(ctx)
	if err != nil {
		return err
	}
	if code != 0 {
		return &StepError{Argv: def.Argv, Code: code}
	}
	b.dropped(ws, def.Inputs, t.Exclude)
	return nil
}

// dropped says which paths the step wrote in its workspace that are not
// kept (only what is outside it, and under the excluded paths, is).
func (b *Builder) dropped(ws string, inputs, exclude []string) {
	ents, err := os.ReadDir(ws)
	if err != nil {
		return
	}
	var lost []string
	for _, e := range ents {
		n := e.Name()
		if slices.Contains(inputs, n) || slices.ContainsFunc(exclude, func(x string) bool { return strings.Trim(x, "/") == n }) {
			continue
		}
		if fi, err := os.Lstat(filepath.Join(ws, n)); err == nil && (fi.IsDir() && isEmptyDir(filepath.Join(ws, n))) {
			continue // a mount point the sandbox made
		}
		lost = append(lost, n)
	}
	if len(lost) > 0 {
		b.progress("silo: not kept (written in /workspace, which a build does not keep): %s; write outside /workspace, or add the path to mount.exclude to keep it", strings.Join(lost, ", "))
	}
}

func isEmptyDir(p string) bool {
	ents, err := os.ReadDir(p)
	return err == nil && len(ents) == 0
}

func (b *Builder) progress(format string, args ...any) {
	if b.Progress != nil {
		fmt.Fprintf(b.Progress, format+"\n", args...)
	}
}

// stepEnv is the environment a step's derivation records: the tool's own
// variables and SOURCE_DATE_EPOCH, sorted (the image's come with its
// digest; passed host variables are not given to a build).
func stepEnv(t *lock.Tool) []string {
	env := []string{"SOURCE_DATE_EPOCH=" + strconv.Itoa(derive.SourceDateEpoch)}
	for _, k := range slices.Sorted(maps.Keys(t.Env)) {
		env = append(env, k+"="+t.Env[k])
	}
	slices.Sort(env)
	return env
}

// stepNetwork is the network policy a step ran with, as text.
func stepNetwork(t *lock.Tool) string {
	n := t.Network
	allow := append(slices.Clone(n.Allow), n.InstallAllow...)
	slices.Sort(allow)
	deny := slices.Sorted(slices.Values(n.Deny))
	return fmt.Sprintf("allow=%s;deny=%s;hostAccess=%t", strings.Join(allow, ","), strings.Join(deny, ","), n.HostAccess)
}

func stepInputs(ins []lock.LockInput) []derive.StepInput {
	out := make([]derive.StepInput, len(ins))
	for i, in := range ins {
		out[i] = derive.StepInput{Path: in.Path, Hash: in.Hash}
	}
	return out
}

// changeReason says why step i of tool differs from the lock's: a new
// step, a changed command, a changed input file, or the configuration
// key of silo.toml (or config.toml) that changed its derivation, as far
// as the lock recorded what it was derived from (LockTool.DerivedFrom).
func changeReason(t *lock.Tool, i int, def StepDef, was, now *lock.LockStep, c *Chain) string {
	tool, old := t.Name, c.old
	step := fmt.Sprintf("%s step %d (%s)", tool, i+1, argvText(def.Argv))
	if was == nil {
		if old != nil && i < len(old.Steps) && old.Steps[i].Scope == def.Scope {
			from := def.Key
			if from == "" {
				from = "the project's build"
			}
			return fmt.Sprintf("%s is stale: build step argv changed by %s; the lock's is %s", step, from, argvText(old.Steps[i].Argv))
		}
		return step + " is new"
	}
	inputs := map[string]string{}
	for _, in := range was.Inputs {
		inputs[in.Path] = in.Hash
	}
	var files []string
	for _, in := range now.Inputs {
		if inputs[in.Path] != in.Hash {
			files = append(files, in.Path)
		}
	}
	if len(files) > 0 {
		return fmt.Sprintf("input %s of %s step %d changed", strings.Join(files, ", "), tool, i+1)
	}
	if old == nil || old.DerivedFrom == nil {
		return fmt.Sprintf("%s step %d (%s) changed: silo.toml (image, env or network) or a step below it", tool, i+1, argvText(def.Argv))
	}
	if keys := fromDiff(t, old.DerivedFrom, derivedFrom(t)); len(keys) > 0 {
		return fmt.Sprintf("%s is stale: %s", step, strings.Join(keys, "; "))
	}
	if i > 0 && i <= len(old.Steps) && i <= len(c.Lock.Steps) && old.Steps[i-1].Derivation != c.Lock.Steps[i-1].Derivation {
		return fmt.Sprintf("%s is stale: step %d below it changed", step, i)
	}
	if c.Image != nil && old.Platform != c.Image.Platform {
		return fmt.Sprintf("%s is stale: the platform is %s, the lock's is %s", step, c.Image.Platform, old.Platform)
	}
	return fmt.Sprintf("%s is stale: silo's build format changed since the lock was written", step)
}

// derivedFrom is what t's build steps are derived from besides their
// parents, argv and inputs (the lock's record of it).
func derivedFrom(t *lock.Tool) *lock.LockFrom {
	f := &lock.LockFrom{Env: map[string]string{}, HostAccess: t.Network.HostAccess,
		Allow:        slices.Sorted(slices.Values(t.Network.Allow)),
		InstallAllow: slices.Sorted(slices.Values(t.Network.InstallAllow)),
		Deny:         slices.Sorted(slices.Values(t.Network.Deny))}
	for k, v := range t.Env {
		f.Env[k] = store.HashBytes([]byte(v)).String()
	}
	return f
}

// fromDiff names the configuration keys in which was and now differ as a
// step's derivation sees them, each with where the configuration sets it
// now: the variables, the hosts a step may reach (allow plus
// installAllow: a host moved from one to the other changes nothing),
// deny and hostAccess.
func fromDiff(t *lock.Tool, was, now *lock.LockFrom) []string {
	var keys []string
	for _, k := range slices.Sorted(maps.Keys(union(was.Env, now.Env))) {
		if was.Env[k] == now.Env[k] {
			continue
		}
		where := " changed" + origin(t, "env."+k)
		if _, ok := now.Env[k]; !ok {
			where = " removed"
		}
		keys = append(keys, "tool."+t.Name+".env."+k+where)
	}
	oldHosts := append(slices.Clone(was.Allow), was.InstallAllow...)
	newHosts := append(slices.Clone(now.Allow), now.InstallAllow...)
	seen := map[string]bool{}
	for _, h := range symDiff(oldHosts, newHosts) {
		key, where := hostKey(t, h, now)
		where = " changed" + where
		if key == "" {
			key, _ = hostKey(t, h, was)
			where = " changed"
		}
		if !seen[key] {
			seen[key] = true
			keys = append(keys, key+where)
		}
	}
	if !slices.Equal(was.Deny, now.Deny) {
		keys = append(keys, "tool."+t.Name+".network.deny changed")
	}
	if was.HostAccess != now.HostAccess {
		keys = append(keys, "tool."+t.Name+".network.hostAccess changed"+origin(t, "network.hostAccess"))
	}
	return keys
}

// hostKey is the network list of f that holds host h ("" when none), and
// where the configuration sets that entry now.
func hostKey(t *lock.Tool, h string, f *lock.LockFrom) (string, string) {
	for _, l := range []struct {
		name string
		list []string
		now  []string
	}{{"allow", f.Allow, t.Network.Allow}, {"installAllow", f.InstallAllow, t.Network.InstallAllow}} {
		if slices.Contains(l.list, h) {
			where := ""
			if i := slices.Index(l.now, h); i >= 0 {
				where = origin(t, "network."+l.name+"."+strconv.Itoa(i))
			}
			return "tool." + t.Name + ".network." + l.name, where
		}
	}
	return "", ""
}

// origin is " (FILE:LINE:COLUMN)" where the configuration sets key of t,
// or "" when nothing sets it.
func origin(t *lock.Tool, key string) string {
	if src, ok := t.Origins[key]; ok && src.File != "" {
		return " (" + src.String() + ")"
	}
	return ""
}

func union(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, b)
	return out
}

// symDiff are the strings in exactly one of a and b, sorted.
func symDiff(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	for _, s := range b {
		if !slices.Contains(a, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// sameDerivations reports whether two chains of steps have the same
// derivations, in order.
func sameDerivations(a, b []*lock.LockStep) bool {
	return slices.EqualFunc(a, b, func(x, y *lock.LockStep) bool { return x.Derivation == y.Derivation })
}

func argvText(argv []string) string {
	// One line: a setup script's lines are joined, runs of white space cut.
	s := []rune(strings.Join(strings.Fields(strings.Join(argv, " ")), " "))
	if len(s) > 60 {
		s = append(s[:57], []rune("...")...)
	}
	return string(s)
}

func shortDigest(d string) string {
	if _, h, ok := strings.Cut(d, ":"); ok && len(h) > 12 {
		return h[:12]
	}
	return d
}

func maxMB(t *lock.Tool) int64 {
	if t.RootfsSizeMB > 0 {
		return int64(t.RootfsSizeMB)
	}
	return lock.DefaultRootfsSizeMB
}

// workdirOf is the guest path of the workspace.
func workdirOf(s *vm.Spec) string {
	if s.Workdir == "" {
		return vm.DefaultWorkdir
	}
	return s.Workdir
}

// removeAll removes a tree the sandbox may have made read-only.
func removeAll(p string) {
	_ = filepath.Walk(p, func(q string, fi os.FileInfo, err error) error {
		if err == nil && fi.IsDir() {
			_ = os.Chmod(q, 0o755)
		}
		return nil
	})
	_ = os.RemoveAll(p)
}

// StepInputs are a new step's inputs: the default manifests present in
// the project and the --input paths (relative to the working directory
// wd), as project-relative paths, sorted.
func (b *Builder) StepInputs(extra []string, wd string) ([]string, error) {
	ws := b.workspace()
	ins := defaultInputs(ws)
	for _, p := range extra {
		rel, err := cleanInput(ws, wd, p)
		if err != nil {
			return nil, err
		}
		ins = append(ins, rel)
	}
	slices.Sort(ins)
	return slices.Compact(ins), nil
}
