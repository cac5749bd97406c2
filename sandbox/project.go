package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/silo-dev/silo/internal/fsutil"
	"github.com/silo-dev/silo/internal/home"
	"github.com/silo-dev/silo/lock"
)

// Project is a project's silo.lock and the user's global builds, as read
// once by a command.
type Project struct {
	// LockPath is the project's silo.lock; "" when there is no project
	// (no silo.toml).
	LockPath string
	// Lock is its content; nil when the file does not exist.
	Lock *lock.LockFile
	// GlobalPath and Global are the user's global builds.
	GlobalPath string
	Global     *lock.LockFile
	// setup are each tool's setup and postInstall commands: global steps
	// below the user's own.
	setup map[string][]StepDef
}

// LoadProject reads the project's lock (when the configuration found a
// project) and the user's global builds. A lock that cannot be used is an
// error naming its line; nothing of it is applied.
func LoadProject(cfg *lock.Config, h home.Dir) (*Project, error) {
	p := &Project{GlobalPath: h.GlobalBuilds()}
	if root := cfg.ProjectRoot(); root != "" {
		p.LockPath = filepath.Join(root, lock.LockFileName)
		lf, err := lock.ReadLockFile(p.LockPath)
		if err != nil {
			return nil, err
		}
		p.Lock = lf
	}
	g, err := lock.ReadLockFile(p.GlobalPath)
	if err != nil {
		return nil, err
	}
	if g == nil {
		g = &lock.LockFile{Version: lock.LockVersion, Tools: map[string]*lock.LockTool{}}
	}
	p.Global = g
	p.setup = map[string][]StepDef{}
	for _, name := range cfg.ToolNames() {
		t, err := cfg.Tool(name)
		if err != nil {
			continue
		}
		var defs []StepDef
		for i, c := range append([]string{t.Setup}, t.PostInstall...) {
			key := "postInstall"
			if i == 0 {
				key = "setup"
			}
			if strings.TrimSpace(c) != "" {
				defs = append(defs, StepDef{Scope: lock.ScopeGlobal, Argv: []string{"/bin/sh", "-c", c}, Key: "tool." + name + "." + key + origin(t, key)})
			}
		}
		p.setup[name] = defs
	}
	return p, nil
}

// Defs are tool's build steps: its definition's setup and postInstall
// commands, the user's global builds, then the project's.
func (p *Project) Defs(tool string) []StepDef {
	defs := append([]StepDef(nil), p.setup[tool]...)
	defs = append(defs, p.GlobalDefs(tool)...)
	if p.Lock != nil {
		if t := p.Lock.Tools[tool]; t != nil {
			for _, s := range t.Steps {
				if s.Scope == lock.ScopeProject {
					defs = append(defs, StepDef{Scope: lock.ScopeProject, Argv: s.Argv, Inputs: inputPaths(s.Inputs)})
				}
			}
		}
	}
	return defs
}

// GlobalDefs are the user's global build steps of tool (silo build
// --global), without the tool's setup.
func (p *Project) GlobalDefs(tool string) []StepDef {
	var defs []StepDef
	t := p.Global.Tools[tool]
	if t == nil {
		return nil
	}
	steps := t.Steps
	// The recorded chain starts with the tool's setup steps.
	for _, d := range p.setup[tool] {
		if len(steps) == 0 || !slices.Equal(steps[0].Argv, d.Argv) {
			break
		}
		steps = steps[1:]
	}
	for _, s := range steps {
		defs = append(defs, StepDef{Scope: lock.ScopeGlobal, Argv: s.Argv, Key: "your global builds (silo build --global)"})
	}
	return defs
}

// SetupDefs are tool's setup and postInstall commands as global steps.
func (p *Project) SetupDefs(tool string) []StepDef {
	return append([]StepDef(nil), p.setup[tool]...)
}

func inputPaths(ins []lock.LockInput) []string {
	out := make([]string, len(ins))
	for i, in := range ins {
		out[i] = in.Path
	}
	return out
}

// old is tool's entry in the project's lock, or nil.
func (p *Project) old(tool string) *lock.LockTool {
	if p.Lock == nil {
		return nil
	}
	return p.Lock.Tools[tool]
}

// SetTool records tool's chain in the project's lock (made when missing),
// writes it and makes it GC's indirect root of the chain's entries.
func (b *Builder) SetTool(p *Project, tool string, c *Chain) error {
	if p.LockPath == "" {
		return fmt.Errorf("there is no project here (no silo.toml): create one with silo init, or use --global")
	}
	if p.Lock == nil {
		p.Lock = &lock.LockFile{Version: lock.LockVersion, Tools: map[string]*lock.LockTool{}}
	}
	p.Lock.Tools[tool] = c.Lock
	return b.WriteLock(p, map[string][]string{tool: c.Entries})
}

// WriteLock writes the project's lock and roots what it pins, one part
// per tool: entries replaces the parts of the tools it names (what their
// previous builds pinned alone becomes collectable), and the parts of the
// other tools still in the lock stay.
func (b *Builder) WriteLock(p *Project, entries map[string][]string) error {
	if err := lock.WriteLockFile(p.LockPath, p.Lock); err != nil {
		return err
	}
	return b.Store.SetIndirectRootParts(p.LockPath, entries, inLock(p.Lock))
}

// SetGlobal records tool's chain c as the user's global build (or drops
// it, with c nil), and roots what the global builds pin, as WriteLock does
// for a project.
func (b *Builder) SetGlobal(p *Project, tool string, c *Chain) error {
	set := map[string][]string{tool: nil}
	if c == nil {
		delete(p.Global.Tools, tool)
	} else {
		p.Global.Tools[tool], set[tool] = c.Lock, c.Entries
	}
	if err := os.MkdirAll(filepath.Dir(p.GlobalPath), 0o700); err != nil {
		return err
	}
	if err := lock.WriteLockFile(p.GlobalPath, p.Global); err != nil {
		return err
	}
	return b.Store.SetIndirectRootParts(p.GlobalPath, set, inLock(p.Global))
}

// inLock says whether a root's part is a tool the lock file still has.
func inLock(lf *lock.LockFile) func(string) bool {
	return func(tool string) bool { _, ok := lf.Tools[tool]; return ok }
}

// ForRun applies the lock to a run's plan: the pinned image and the build
// steps' layers. When silo.toml or an input changed since the lock was
// written, the changed steps are rebuilt and the lock updated, and notes
// gets one line saying so; with locked, that is an error naming the
// change instead.
func (b *Builder) ForRun(ctx context.Context, plan *Plan, p *Project, locked bool, notes io.Writer) error {
	if plan.Tool == nil {
		return nil
	}
	tool := plan.Tool.Name
	defs := p.Defs(tool)
	old := p.old(tool)
	if p.Lock == nil { // outside a locked project: the user's global build
		old = p.Global.Tools[tool]
	}
	if p.Lock == nil && len(defs) == 0 && old == nil {
		return nil // no steps: the image as it is
	}
	mode := ModeBuild
	if locked && p.Lock != nil {
		mode = ModeLocked
		if old == nil {
			return fmt.Errorf("the lock is out of date: silo.lock has no entry for %s; run without --locked (or unset SILO_LOCKED) to add it", tool)
		}
	}
	c, err := b.Resolve(ctx, tool, defs, old, mode)
	if err != nil {
		return err
	}
	plan.Digest, plan.Steps = c.Lock.Digest, c.Steps
	if p.Lock == nil {
		if shapedByProject(plan.Tool, b.Options.Home) {
			// The project's own files change what the steps are: their
			// result is this project's, never the user's global build.
			return nil
		}
		return b.keepGlobal(p, tool, old, c)
	}
	if old != nil && bytes.Equal(lockBytes(tool, old), lockBytes(tool, c.Lock)) {
		return nil
	}
	if mode == ModeLocked {
		return fmt.Errorf("the lock is out of date for %s (%s); run without --locked (or unset SILO_LOCKED) to update silo.lock", tool, strings.Join(c.Changes, "; "))
	}
	if err := b.SetTool(p, tool, c); err != nil {
		return err
	}
	if notes != nil {
		why := strings.Join(c.Changes, "; ")
		if why == "" {
			why = tool + " added"
		}
		fmt.Fprintf(notes, "silo: silo.lock updated: %s\n", why)
	}
	return nil
}

// stepKeys are the keys of a tool that shape its build steps.
var stepKeys = []string{"image", "setup", "postInstall", "env.", "network."}

// shapedByProject says whether a value that shapes t's build steps comes
// from a file other than silo's built-in catalog and the user's own files
// under home: a project's silo.toml (or one above it).
func shapedByProject(t *lock.Tool, home string) bool {
	for key, src := range t.Origins {
		if src.File == lock.BuiltIn || fsutil.Within(src.File, home) {
			continue
		}
		for _, k := range stepKeys {
			if key == k || strings.HasSuffix(k, ".") && strings.HasPrefix(key, k) {
				return true
			}
		}
	}
	return false
}

// keepGlobal records the chain of a run outside any locked project as
// the user's global build of tool when it changed (the tool's setup, run
// for the first time, or edited), so that the next run finds it rooted.
func (b *Builder) keepGlobal(p *Project, tool string, old *lock.LockTool, c *Chain) error {
	if old != nil && bytes.Equal(lockBytes(tool, old), lockBytes(tool, c.Lock)) {
		return nil
	}
	if len(c.Lock.Steps) == 0 {
		if old == nil {
			return nil
		}
		c = nil // the steps are gone from the definition
	}
	return b.SetGlobal(p, tool, c)
}

// lockBytes is the canonical text of one tool's lock entry.
func lockBytes(tool string, t *lock.LockTool) []byte {
	lf := &lock.LockFile{Version: lock.LockVersion, Tools: map[string]*lock.LockTool{tool: t}}
	return lf.Marshal()
}

// ToolState is one tool's sync state against the lock: whether the store
// and the project match what silo.lock says, and if not, why.
type ToolState struct {
	Tool    string   `json:"tool"`
	InSync  bool     `json:"inSync"`
	Reasons []string `json:"reasons,omitempty"`
}

// Sync brings the store in line with the project's lock, tool by tool:
// images by digest, every missing step realised from its inputs, every
// output checked against its locked hash. With mode ModeStatus it changes
// nothing and reports; silo status calls it so. A tool whose steps
// changed is reported, not rebuilt (silo run does that).
func (b *Builder) Sync(ctx context.Context, p *Project, mode Mode) ([]ToolState, error) {
	if p.Lock == nil {
		return nil, fmt.Errorf("this project has no %s yet: run silo pull --update (or silo build) to write it", lock.LockFileName)
	}
	var out []ToolState
	for _, tool := range slices.Sorted(maps.Keys(p.Lock.Tools)) {
		old := p.Lock.Tools[tool]
		st := ToolState{Tool: tool}
		c, err := b.Resolve(ctx, tool, p.Defs(tool), old, mode)
		switch {
		case err != nil:
			st.Reasons = append(st.Reasons, err.Error())
		default:
			st.Reasons = append(st.Reasons, c.Problems...)
			if len(c.Problems) == 0 && !bytes.Equal(lockBytes(tool, old), lockBytes(tool, c.Lock)) {
				st.Reasons = append(st.Reasons, lockDiff(old, c.Lock)...)
			}
		}
		st.InSync = len(st.Reasons) == 0
		out = append(out, st)
	}
	return out, nil
}

// Update re-resolves every tool of the project's lock (tags asked again
// with b.Pull) and rewrites it.
func (b *Builder) Update(ctx context.Context, p *Project, tools []string) error {
	if p.Lock == nil {
		p.Lock = &lock.LockFile{Version: lock.LockVersion, Tools: map[string]*lock.LockTool{}}
	}
	entries := map[string][]string{}
	for _, tool := range tools {
		c, err := b.Resolve(ctx, tool, p.Defs(tool), p.Lock.Tools[tool], ModeBuild)
		if err != nil {
			return err
		}
		p.Lock.Tools[tool] = c.Lock
		entries[tool] = c.Entries
	}
	return b.WriteLock(p, entries)
}

// lockDiff names the fields in which two lock entries differ.
func lockDiff(old, now *lock.LockTool) []string {
	var out []string
	if old.Digest != now.Digest {
		out = append(out, fmt.Sprintf("image digest %s, lock %s", shortDigest(now.Digest), shortDigest(old.Digest)))
	}
	if old.Rootfs != now.Rootfs {
		out = append(out, "the rootfs differs from the lock's")
	}
	for i, s := range now.Steps {
		if i >= len(old.Steps) {
			out = append(out, fmt.Sprintf("step %d is not in the lock", i+1))
			continue
		}
		if o := old.Steps[i]; o.Rootfs != s.Rootfs && o.Layer == s.Layer {
			out = append(out, fmt.Sprintf("step %d's rootfs differs from the lock's", i+1))
		}
	}
	if len(out) == 0 {
		out = append(out, "the lock entry differs")
	}
	return out
}
