package lock

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// A sandbox can write anywhere in its workspace except the protected
// paths, so it can create a silo.toml in a subdirectory. A later silo run
// started beneath that subdirectory would find it first and obey it: a
// tool could widen its own next sandbox (passEnv, network). silo closes
// that door with two records in its home, which no sandbox ever sees:
//
//	$SILO_HOME/workspaces/<id>   a directory silo has given to a sandbox
//	$SILO_HOME/trusted/<id>      a silo.toml the user vouched for, by content
//
// A project's silo.toml that lies strictly inside a recorded workspace, or
// inside another project (a directory with its own silo.toml), is obeyed
// only if the user trusted it with `silo config trust` and it has not
// changed since. <id> is the SHA-256 of the absolute path.

const (
	workspacesDir = "workspaces"
	trustedDir    = "trusted"
)

// UntrustedError is Load's error for a nested silo.toml that a sandbox
// could have written and the user has not trusted.
type UntrustedError struct {
	Path  string // the silo.toml
	Outer string // the workspace or project it lies in
	// Changed is set when the file was trusted once and has changed
	// since.
	Changed bool
}

func (e *UntrustedError) Error() string {
	why := "has not been trusted"
	if e.Changed {
		why = "has changed since it was trusted"
	}
	return fmt.Sprintf("%s lies inside %s, a directory sandboxes can write to, and %s: a sandboxed tool could have written it to widen its next run.\n"+
		"Read it; if its settings are yours, trust it with: silo config trust %s", e.Path, e.Outer, why, e.Path)
}

// pathID names a path's record.
func pathID(p string) string {
	sum := sha256.Sum256([]byte(p))
	return hex.EncodeToString(sum[:])
}

// contentID is a file's content hash as a trust record holds it.
func contentID(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// NoteWorkspace records that dir (absolute) is given to a sandbox, so that
// a silo.toml later found beneath it needs the user's trust. Recording a
// directory again is cheap: one stat.
func NoteWorkspace(home, dir string) error {
	p := filepath.Join(home, workspacesDir, pathID(dir))
	if _, err := os.Lstat(p); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("record workspace %s: %w", dir, err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("record workspace %s: %w", dir, err)
	}
	_, err = f.WriteString(dir + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(p)
		return fmt.Errorf("record workspace %s: %w", dir, err)
	}
	return nil
}

// Trust records the present content of the project file at path as the
// user's own: Load obeys it even where a sandbox could have written it,
// until it changes.
func Trust(home, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("trust %s: %w", path, err)
	}
	in, err := readConfig(abs)
	if err != nil {
		return fmt.Errorf("trust %s: %w", path, err)
	}
	if in == nil {
		return fmt.Errorf("trust %s: there is no such file", path)
	}
	dir := filepath.Join(home, trustedDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("trust %s: %w", abs, err)
	}
	tmp, err := os.CreateTemp(dir, ".new-*")
	if err != nil {
		return fmt.Errorf("trust %s: %w", abs, err)
	}
	defer os.Remove(tmp.Name())
	_, err = fmt.Fprintf(tmp, "%s %s\n", contentID(in.data), abs)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, pathID(abs)))
	}
	if err != nil {
		return fmt.Errorf("trust %s: %w", abs, err)
	}
	return nil
}

// trusted reports whether in's content is what the user trusted for its
// path, and whether a different content was trusted before.
func trusted(home string, in *input) (ok, before bool) {
	b, err := os.ReadFile(filepath.Join(home, trustedDir, pathID(in.path)))
	if err != nil {
		return false, false
	}
	hash, _, _ := strings.Cut(string(b), " ")
	return hash == contentID(in.data), true
}

// checkNested refuses a project file that lies inside a recorded
// workspace or inside another project, unless the user trusted it, or it
// predates every sandbox that could have reached it: its inode change
// time, which no sandbox can set back, is older than the first sandbox
// of every recorded workspace above it, and no unrecorded project lies
// above it. The walk for outer projects stops where findProject's does.
func checkNested(o Options, in *input) error {
	n := nestedIn(o, filepath.Dir(in.path))
	if n.outer == "" {
		return nil
	}
	if !n.unrecorded {
		if changed, ok := changeTime(in.path); ok && changed.Before(n.firstSandbox) {
			return nil
		}
	}
	ok, before := trusted(o.Home, in)
	if ok {
		return nil
	}
	return &UntrustedError{Path: in.path, Outer: n.outer, Changed: before}
}

// nesting is what lies above a project directory.
type nesting struct {
	outer        string    // the nearest recorded workspace or project above; "" for none
	firstSandbox time.Time // the earliest record of a workspace above
	unrecorded   bool      // a project above was never recorded as a workspace
}

// nestedIn walks up from dir (exclusive) to the root.
func nestedIn(o Options, dir string) nesting {
	var n nesting
	beyond := false // past the user's home, where the walk stops
	for d := dir; ; {
		parent := filepath.Dir(d)
		if parent == d {
			return n
		}
		beyond = beyond || d == o.UserHome
		d = parent
		if st, err := os.Lstat(filepath.Join(o.Home, workspacesDir, pathID(d))); err == nil {
			if n.outer == "" {
				n.outer = d
			}
			if n.firstSandbox.IsZero() || st.ModTime().Before(n.firstSandbox) {
				n.firstSandbox = st.ModTime()
			}
		} else if p := filepath.Join(d, ProjectFileName); !beyond && p != filepath.Join(o.Home, ProjectFileName) {
			if _, err := os.Lstat(p); err == nil {
				if n.outer == "" {
					n.outer = d
				}
				n.unrecorded = true
			}
		}
	}
}

// FindProjectFile returns the silo.toml that Load would take as the
// project's, walking up from opts.Dir, or "" if there is none. It does not
// read or check the file.
func FindProjectFile(opts Options) (string, error) {
	o, err := opts.normalize()
	if err != nil {
		return "", err
	}
	in, err := findProject(o.Dir, o.UserHome, filepath.Join(o.Home, ProjectFileName))
	if in == nil || err != nil {
		return "", err
	}
	return in.path, nil
}
