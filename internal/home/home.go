// Package home owns the layout of silo's home directory: every path under
// it is made here, and nowhere else.
//
// The home is $SILO_HOME, --home, or ~/.silo. The command line reads the
// environment (kong's env tags) and hands the result to Resolve; nothing
// below cmd/silo looks at the environment to find it. The tree:
//
//	$SILO_HOME/
//	  config.toml        the user's tool definitions (lock.GlobalConfigName)
//	  silo.toml          the user-wide project defaults (lock.ProjectFileName)
//	  store/             the store's entries, metadata, index, realisations,
//	                     temporary space and compressed copies (store/doc.go)
//	  roots/             the store's GC roots: direct, indirect, temporary
//	  runtime/           the VM runtime's host-side caches: kvm.json (the
//	                     KVM probe), agent-hash.json (the agent binary's
//	                     hash by stat data), scratch disk templates;
//	                     namespace-fallback-noted (the user was told
//	                     that sandboxes here are not VMs);
//	                     snapshot-generation (VM snapshots found broken)
//	  workspaces/        one marker a directory silo gave a sandbox (lock's
//	                     trust of nested silo.toml files)
//	  trusted/           one record a silo.toml the user trusted
//	  cache/             the tools' package caches, per project or shared
//	  bin/               the shims: links to the silo binary, one per
//	                     command name (silo shellenv puts it on PATH)
//	  pins               the globally pinned tools, one name a line: their
//	                     shims run the sandbox outside any project too
//	  sandboxes/         one record per running sandbox (PID.json: tool,
//	                     project, backend, start), removed when it ends
//	  log/refusals.jsonl the connections the network policy refused, one
//	                     JSON object a line, capped in size (one older
//	                     file, refusals.jsonl.1, is kept)
//	  runtime/gc-policy  when the [cache] policy's rootfs eviction last ran
//	  builds.lock        the user's global build steps (silo build --global),
//	                     in silo.lock's format
//	  excludes/<project>/<path>
//	                     the sandbox's own content of each mount.exclude
//	                     path of a project (its node_modules, .venv), kept
//	                     between runs, seeded from the project's build, and
//	                     removed by silo clean; <path>.seed records the
//	                     build layer it was seeded from
//	  runtime/inputs.json
//	                     build inputs' content hashes, cached by stat data
//
// The home is the user's alone (Secure): mode 0700, and refused when
// another user owns it. No sandbox ever sees any of it: the namespace backend shows the sandbox
// only store entries (read-only) and the workspace, and VMs get disks and
// shares, never a path under the home.
package home

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Dir is silo's home directory, absolute and clean.
type Dir string

// Resolve returns the home: dir when set (--home or $SILO_HOME, made
// absolute), else ~/.silo.
func Resolve(dir string) (Dir, error) {
	if dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", fmt.Errorf("silo's home %s: %w", dir, err)
		}
		return Dir(abs), nil
	}
	u, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find your home directory: %w (set SILO_HOME)", err)
	}
	return Dir(filepath.Join(u, ".silo")), nil
}

// Path is the home directory itself.
func (d Dir) Path() string { return string(d) }

// String is the home directory itself.
func (d Dir) String() string { return string(d) }

// Store is the store's own directory.
func (d Dir) Store() string { return d.join("store") }

// Roots is the directory of the store's GC roots.
func (d Dir) Roots() string { return d.join("roots") }

// Runtime is the directory of the VM runtime's host-side caches.
func (d Dir) Runtime() string { return d.join("runtime") }

// FallbackNoted records that silo told the user, once, that sandboxes
// here are namespaces, not VMs.
func (d Dir) FallbackNoted() string { return d.join("runtime", "namespace-fallback-noted") }

// KVMCache is the cached answer of the KVM probe.
func (d Dir) KVMCache() string { return d.join("runtime", "kvm.json") }

// SnapshotGeneration counts the VM snapshots found broken: the count is
// an input of every snapshot's derivation, so that a broken one is rebuilt
// and never used again.
func (d Dir) SnapshotGeneration() string { return d.join("runtime", "snapshot-generation") }

// AgentHashCache is the agent binary's hash, cached by its stat data.
func (d Dir) AgentHashCache() string { return d.join("runtime", "agent-hash.json") }

// Workspaces is the directory of the markers of directories silo gave a
// sandbox.
func (d Dir) Workspaces() string { return d.join("workspaces") }

// Trusted is the directory of the records of trusted silo.toml files.
func (d Dir) Trusted() string { return d.join("trusted") }

// Bin is the directory of the shims.
func (d Dir) Bin() string { return d.join("bin") }

// Shim is the shim named name.
func (d Dir) Shim(name string) string { return d.join("bin", name) }

// Pins is the file of the globally pinned tools.
func (d Dir) Pins() string { return d.join("pins") }

// Sandboxes is the directory of the records of running sandboxes.
func (d Dir) Sandboxes() string { return d.join("sandboxes") }

// Log is the directory of silo's logs.
func (d Dir) Log() string { return d.join("log") }

// RefusalLog is the log of refused connections.
func (d Dir) RefusalLog() string { return d.join("log", "refusals.jsonl") }

// GCPolicyStamp records when the [cache] policy's eviction last ran.
func (d Dir) GCPolicyStamp() string { return d.join("runtime", "gc-policy") }

// Cache is the directory of the tools' package caches.
func (d Dir) Cache() string { return d.join("cache") }

// GlobalConfig is the user's tool definitions, config.toml.
func (d Dir) GlobalConfig() string { return d.join("config.toml") }

// UserProject is the user-wide project defaults, silo.toml.
func (d Dir) UserProject() string { return d.join("silo.toml") }

// GlobalBuilds is the user's global build steps, in silo.lock's format.
func (d Dir) GlobalBuilds() string { return d.join("builds.lock") }

// Excludes is the directory of a project's kept mount.exclude paths; the
// project is named by its workspace's absolute path.
func (d Dir) Excludes(workspace string) string {
	return d.join("excludes", ProjectKey(workspace))
}

// InputHashes is the cache of build inputs' content hashes.
func (d Dir) InputHashes() string { return d.join("runtime", "inputs.json") }

// ProjectKey names a project's area under the home: its base name, for
// people, and a hash of its path, so that two projects never share one.
func ProjectKey(workspace string) string {
	sum := sha256.Sum256([]byte(workspace))
	base := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-", r) {
			return r
		}
		return '_'
	}, filepath.Base(workspace))
	if len(base) > 32 {
		base = base[:32]
	}
	return strings.TrimLeft(base, ".") + "-" + hex.EncodeToString(sum[:8])
}

func (d Dir) join(parts ...string) string {
	return filepath.Join(append([]string{string(d)}, parts...)...)
}

// Secure makes the home the private directory it must be, and refuses
// one that is not the caller's. It holds the user's configuration, trust
// records and the store, whose rootfs directories keep the images'
// setuid files: another local user who could reach them would run those
// files as their owner. A missing home is created with mode 0700 (its
// parents 0755); an existing one that group or others can reach is
// narrowed to 0700, which Secure says on note (nil says nothing), and so
// once; one that belongs to another user is refused, as ssh refuses a
// ~/.ssh that is not the user's, since silo would obey its configuration.
func (d Dir) Secure(note io.Writer) error {
	home := d.Path()
	st, err := os.Stat(home)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(home), 0o755); err != nil {
			return fmt.Errorf("create silo's home %s: %w", home, err)
		}
		if err := os.Mkdir(home, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("create silo's home %s: %w", home, err)
		}
		st, err = os.Stat(home)
	}
	if err != nil {
		return fmt.Errorf("silo's home %s: %w", home, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("silo's home %s is not a directory: remove it, or set SILO_HOME to a directory", home)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if ok && int(sys.Uid) != os.Geteuid() {
		return fmt.Errorf("silo's home %s belongs to %s, not to you (%s): silo does not use another user's configuration and store; set SILO_HOME to a directory of your own",
			home, userName(int(sys.Uid)), userName(os.Geteuid()))
	}
	if st.Mode().Perm()&0o077 == 0 {
		return nil
	}
	if err := os.Chmod(home, st.Mode().Perm()&0o700); errors.Is(err, syscall.EROFS) {
		return fmt.Errorf("silo's home %s is on a read-only file system: set SILO_HOME to a writable directory of your own", home)
	} else if err != nil {
		return fmt.Errorf("make silo's home %s private: %w (chmod 700 %s)", home, err, home)
	}
	if note != nil {
		fmt.Fprintf(note, "silo: made %s private (mode %04o was %04o): other users could read your configuration and run the images' setuid files\n",
			home, st.Mode().Perm()&0o700, st.Mode().Perm())
	}
	return nil
}

// userName names a user ID for a message.
func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username + " (uid " + strconv.Itoa(uid) + ")"
	}
	return "uid " + strconv.Itoa(uid)
}
