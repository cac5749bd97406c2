package lock

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/silo-dev/silo/store"
)

// LockFileName is the project's lock file, beside its silo.toml.
const LockFileName = "silo.lock"

// LockVersion is the format version of the lock files this silo writes;
// it refuses newer ones.
const LockVersion = 1

// The scopes of a build step.
const (
	ScopeGlobal  = "global"  // the user's, for every project (silo build --global)
	ScopeProject = "project" // this project's, stacked on the global ones
)

// LockFile is a silo.lock: per tool, the image pinned by digest and the
// build steps with their inputs and outputs. The user's global steps are
// kept in the same format ($SILO_HOME/builds.lock).
type LockFile struct {
	Version int                  `toml:"version"`
	Tools   map[string]*LockTool `toml:"tools"`
}

// LockTool is one tool's pinned image and build steps.
type LockTool struct {
	// Image is the reference as configured; Digest the manifest digest it
	// resolved to; Index the index digest when the reference named one.
	Image    string `toml:"image"`
	Digest   string `toml:"digest"`
	Index    string `toml:"index"`
	Platform string `toml:"platform"`
	// Rootfs is the derivation hash of the tool's rootfs (directory form)
	// with every step applied.
	Rootfs string `toml:"rootfs"`
	// Kernel and Initfs are the content hashes of the kernel and initfs a
	// VM backend booted, when one did.
	Kernel string `toml:"kernel"`
	Initfs string `toml:"initfs"`
	// DerivedFrom is the configuration the build steps were derived from
	// (nil when the tool has no steps, or in a lock written before silo
	// recorded it): what silo diffs against silo.toml to name the key
	// that made a step stale.
	DerivedFrom *LockFrom   `toml:"derivedFrom"`
	Steps       []*LockStep `toml:"steps"`
}

// LockFrom is the part of a tool's configuration that every build step's
// derivation holds besides its parent, argv and inputs: the tool's
// variables and the network policy the steps ran with.
type LockFrom struct {
	// Env maps each of the tool's variables to the blake3 hash of its
	// value: the lock names the variables without writing their values
	// out (a tool's env may come from the user's own config.toml).
	Env map[string]string `toml:"env"`
	// Allow, InstallAllow and Deny are the tool's network lists, sorted
	// (a step runs with allow plus installAllow); HostAccess its
	// network.hostAccess.
	Allow        []string `toml:"allow"`
	InstallAllow []string `toml:"installAllow"`
	Deny         []string `toml:"deny"`
	HostAccess   bool     `toml:"hostAccess"`
}

// LockStep is one build step: what ran, on what, and what it made.
type LockStep struct {
	Scope      string      `toml:"scope"`
	Argv       []string    `toml:"argv"`
	Derivation string      `toml:"derivation"`
	Inputs     []LockInput `toml:"inputs"`
	// Layer is the sha256 diff ID of the output layer; Rootfs the content
	// hash of the rootfs (directory form) with this step applied.
	Layer  string `toml:"layer"`
	Rootfs string `toml:"rootfs"`
}

// LockInput is a project file or tree a step read, and its content hash.
type LockInput struct {
	Path string `toml:"path"`
	Hash string `toml:"hash"`
}

// ReadLockFile reads and checks the lock file at p. A missing file is
// (nil, nil), and so is an empty one. A file that is not valid, from a newer silo, or
// inconsistent is an error naming its line and the command that repairs
// it; nothing of it is used.
func ReadLockFile(p string) (*LockFile, error) {
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if len(data) == 0 {
		// The empty placeholder a running sandbox's workspace guard holds
		// the protected path with: there is no lock.
		return nil, nil
	}
	return ParseLockFile(p, data)
}

// ParseLockFile parses and checks a lock file's bytes; file names it in
// errors.
func ParseLockFile(file string, data []byte) (*LockFile, error) {
	var lf LockFile
	ix, err := decodeStrict(file, data, &lf)
	if err != nil {
		return nil, repairHint(err)
	}
	if errs := checkLockFile(file, &lf, ix); len(errs) > 0 {
		return nil, repairHint(errors.Join(errs...))
	}
	if lf.Tools == nil {
		lf.Tools = map[string]*LockTool{}
	}
	return &lf, nil
}

// repairHint adds the repair command to a lock file's errors.
func repairHint(err error) error {
	return fmt.Errorf("%w\nthe lock file cannot be used: fix it, or delete it and run `silo pull --update` to write it again", err)
}

var (
	sha256RE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	scopeOK  = []string{ScopeGlobal, ScopeProject}
)

// checkLockFile checks what decoding cannot: the version, the form of
// every hash and digest, the scopes and their order.
func checkLockFile(file string, lf *LockFile, ix posIndex) []error {
	var errs []error
	fail := func(path []string, format string, args ...any) {
		p, _ := ix.at(path...)
		errs = append(errs, &Error{File: file, Line: p.Line, Column: p.Column, Msg: fmt.Sprintf(format, args...)})
	}
	switch {
	case lf.Version > LockVersion:
		fail([]string{"version"}, "this lock file has format version %d, newer than this silo's %d: upgrade silo", lf.Version, LockVersion)
		return errs
	case lf.Version < 1:
		fail([]string{"version"}, "`version` must be %d", LockVersion)
	}
	for _, name := range slices.Sorted(maps.Keys(lf.Tools)) {
		t := lf.Tools[name]
		at := func(k ...string) []string { return append([]string{"tools", name}, k...) }
		if t.Image == "" {
			fail(at(), "tool %s has no `image`", name)
		}
		if !sha256RE.MatchString(t.Digest) {
			fail(at("digest"), "`digest` of %s must be a sha256 digest, not %q", name, t.Digest)
		}
		if t.Index != "" && !sha256RE.MatchString(t.Index) {
			fail(at("index"), "`index` of %s must be a sha256 digest, not %q", name, t.Index)
		}
		for _, k := range []struct{ key, v string }{{"rootfs", t.Rootfs}, {"kernel", t.Kernel}, {"initfs", t.Initfs}} {
			if _, err := store.ParseHash(k.v); err != nil && (k.v != "" || k.key == "rootfs") {
				fail(at(k.key), "`%s` of %s must be a blake3 hash, not %q", k.key, name, k.v)
			}
		}
		if f := t.DerivedFrom; f != nil {
			for _, k := range slices.Sorted(maps.Keys(f.Env)) {
				if _, err := store.ParseHash(f.Env[k]); err != nil || k == "" {
					fail(at("derivedFrom", "env", k), "`derivedFrom.env.%s` of %s must be a blake3 hash, not %q", k, name, f.Env[k])
				}
			}
		}
		project := false
		for i, s := range t.Steps {
			sat := func(k ...string) []string { return append(at("steps", strconv.Itoa(i)), k...) }
			switch {
			case !slices.Contains(scopeOK, s.Scope):
				fail(sat("scope"), "`scope` must be \"global\" or \"project\", not %q", s.Scope)
			case s.Scope == ScopeProject:
				project = true
			case project:
				fail(sat("scope"), "a global step of %s comes after a project step: global steps are below the project's", name)
			}
			if len(s.Argv) == 0 {
				fail(sat(), "a step of %s has no `argv`", name)
			}
			if _, err := store.ParseHash(s.Derivation); err != nil {
				fail(sat("derivation"), "`derivation` must be a blake3 hash, not %q", s.Derivation)
			}
			if !sha256RE.MatchString(s.Layer) {
				fail(sat("layer"), "`layer` must be a sha256 digest, not %q", s.Layer)
			}
			if _, err := store.ParseHash(s.Rootfs); err != nil {
				fail(sat("rootfs"), "`rootfs` must be a blake3 hash, not %q", s.Rootfs)
			}
			for j, in := range s.Inputs {
				if _, err := store.ParseHash(in.Hash); err != nil || in.Path == "" || filepath.IsAbs(in.Path) || strings.HasPrefix(filepath.Clean(in.Path), "..") {
					fail(sat("inputs", strconv.Itoa(j)), "input %q needs a project-relative `path` and a blake3 `hash`", in.Path)
				}
			}
		}
	}
	return errs
}

// lockHeader starts every lock file silo writes.
const lockHeader = `# silo.lock: the images and builds this project's tools run, pinned.
# Written by silo (silo build, silo run, silo pull --update); commit it.
# silo.lock.example in silo's repository explains every field.
`

// Marshal is the lock file's canonical text: tools and keys in a fixed
// order, no timestamps, a trailing newline. The same lock always writes
// the same bytes.
func (lf *LockFile) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString(lockHeader)
	fmt.Fprintf(&b, "version = %d\n", LockVersion)
	for _, name := range slices.Sorted(maps.Keys(lf.Tools)) {
		t := lf.Tools[name]
		fmt.Fprintf(&b, "\n[tools.%s]\n", tomlKey(name))
		kv(&b, "image", t.Image)
		kv(&b, "digest", t.Digest)
		if t.Index != "" {
			kv(&b, "index", t.Index)
		}
		kv(&b, "platform", t.Platform)
		kv(&b, "rootfs", t.Rootfs)
		if t.Kernel != "" {
			kv(&b, "kernel", t.Kernel)
		}
		if t.Initfs != "" {
			kv(&b, "initfs", t.Initfs)
		}
		if f := t.DerivedFrom; f != nil {
			fmt.Fprintf(&b, "\n[tools.%s.derivedFrom]\n", tomlKey(name))
			var env []string
			for _, k := range slices.Sorted(maps.Keys(f.Env)) {
				env = append(env, tomlKey(k)+" = "+TOMLString(f.Env[k]))
			}
			if len(env) == 0 {
				b.WriteString("env = {}\n")
			} else {
				fmt.Fprintf(&b, "env = { %s }\n", strings.Join(env, ", "))
			}
			list(&b, "allow", f.Allow)
			list(&b, "installAllow", f.InstallAllow)
			list(&b, "deny", f.Deny)
			fmt.Fprintf(&b, "hostAccess = %t\n", f.HostAccess)
		}
		for _, s := range t.Steps {
			fmt.Fprintf(&b, "\n[[tools.%s.steps]]\n", tomlKey(name))
			kv(&b, "scope", s.Scope)
			list(&b, "argv", s.Argv)
			kv(&b, "derivation", s.Derivation)
			if len(s.Inputs) > 0 {
				b.WriteString("inputs = [\n")
				for _, in := range s.Inputs {
					fmt.Fprintf(&b, "  { path = %s, hash = %s },\n", TOMLString(in.Path), TOMLString(in.Hash))
				}
				b.WriteString("]\n")
			}
			kv(&b, "layer", s.Layer)
			kv(&b, "rootfs", s.Rootfs)
		}
	}
	return b.Bytes()
}

// WriteLockFile writes lf at p atomically (a temporary file renamed into
// place): a reader sees the old lock or the new one, never half of one.
func WriteLockFile(p string, lf *LockFile) error {
	tmp, err := os.CreateTemp(filepath.Dir(p), ".silo.lock-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(lf.Marshal()); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

func kv(b *bytes.Buffer, k, v string) { fmt.Fprintf(b, "%s = %s\n", k, TOMLString(v)) }

// list writes k = [v, …], each a TOML basic string.
func list(b *bytes.Buffer, k string, vs []string) {
	fmt.Fprintf(b, "%s = [%s]\n", k, strings.Join(quoteAll(vs), ", "))
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = TOMLString(s)
	}
	return out
}

// tomlKey is a table key: bare when it can be, else quoted.
func tomlKey(k string) string {
	if k != "" && strings.Trim(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == "" {
		return k
	}
	return TOMLString(k)
}
