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
//	                     hash by stat data), scratch disk templates
//	  workspaces/        one marker a directory silo gave a sandbox (lock's
//	                     trust of nested silo.toml files)
//	  trusted/           one record a silo.toml the user trusted
//
// No sandbox ever sees any of it: the namespace backend shows the sandbox
// only store entries (read-only) and the workspace, and VMs get disks and
// shares, never a path under the home.
package home

import (
	"fmt"
	"os"
	"path/filepath"
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

// KVMCache is the cached answer of the KVM probe.
func (d Dir) KVMCache() string { return d.join("runtime", "kvm.json") }

// AgentHashCache is the agent binary's hash, cached by its stat data.
func (d Dir) AgentHashCache() string { return d.join("runtime", "agent-hash.json") }

// Workspaces is the directory of the markers of directories silo gave a
// sandbox.
func (d Dir) Workspaces() string { return d.join("workspaces") }

// Trusted is the directory of the records of trusted silo.toml files.
func (d Dir) Trusted() string { return d.join("trusted") }

// GlobalConfig is the user's tool definitions, config.toml.
func (d Dir) GlobalConfig() string { return d.join("config.toml") }

// UserProject is the user-wide project defaults, silo.toml.
func (d Dir) UserProject() string { return d.join("silo.toml") }

func (d Dir) join(parts ...string) string {
	return filepath.Join(append([]string{string(d)}, parts...)...)
}
