package lock

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/silo-dev/silo/internal/fsutil"
	"github.com/silo-dev/silo/internal/home"
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
// changed since; so is every project file that grants anything beyond
// the defaults (grants.go), wherever it lies. <id> is the SHA-256 of the
// absolute path; a record holds the hex SHA-256 of the trusted bytes.

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
func NoteWorkspace(h, dir string) error {
	p := filepath.Join(home.Dir(h).Workspaces(), pathID(dir))
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

// checkTrust refuses the project file in, already built into c, unless
// the user trusted its present content or it needs no trust: it grants
// nothing beyond the defaults (grants.go) and is not a nested file a
// sandbox could have written (nestedOuter).
func checkTrust(o Options, in *input, c *Config) error {
	grants := c.grants(in.path)
	outer := nestedOuter(o, in)
	if len(grants) == 0 && outer == "" {
		return nil
	}
	ok, before := trusted(o.Home, in)
	if ok {
		return nil
	}
	return &UntrustedError{Review: newReview(in, grants), Outer: outer, Changed: before}
}

// trusted reports whether in's content is what the user trusted for its
// path, and whether a different content was trusted before.
func trusted(h string, in *input) (ok, before bool) {
	b, err := os.ReadFile(filepath.Join(home.Dir(h).Trusted(), pathID(in.path)))
	if err != nil {
		return false, false
	}
	hash, _, _ := strings.Cut(string(b), " ")
	return hash == contentID(in.data), true
}

// record writes the trust record of the file at abs: its content hash.
// It replaces the record of an earlier content atomically.
func record(h, abs, hash string) error {
	err := fsutil.WriteFile(filepath.Join(home.Dir(h).Trusted(), pathID(abs)), []byte(hash+" "+abs+"\n"), fsutil.WriteOptions{Perm: 0o600, MkdirPerm: 0o700})
	if err != nil {
		return fmt.Errorf("trust %s: %w", abs, err)
	}
	return nil
}

// WriteTrusted writes data to the silo.toml at path (atomically: a reader
// sees the old file or the new one whole) and records it as trusted, for
// commands that write a project file at the user's word (silo init,
// silo shim): what silo wrote for the user needs no second yes.
func WriteTrusted(h, path string, data []byte) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := fsutil.WriteFile(abs, data, fsutil.WriteOptions{Sync: true}); err != nil {
		return fmt.Errorf("write %s: %w", abs, err)
	}
	return record(h, abs, contentID(data))
}

// nestedOuter returns the recorded workspace or the project that the
// project file in lies inside, when that makes it need trust, else "". A
// nested file needs trust unless it predates every sandbox that could
// have reached it: its inode change time, which no sandbox can set back,
// is older than the first sandbox of every recorded workspace above it,
// and no unrecorded project lies above it. The walk for outer projects
// stops where findProject's does.
func nestedOuter(o Options, in *input) string {
	n := nestedIn(o, filepath.Dir(in.path))
	if n.outer == "" {
		return ""
	}
	if !n.unrecorded {
		if changed, ok := changeTime(in.path); ok && changed.Before(n.firstSandbox) {
			return ""
		}
	}
	return n.outer
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
		if st, err := os.Lstat(filepath.Join(home.Dir(o.Home).Workspaces(), pathID(d))); err == nil {
			if n.outer == "" {
				n.outer = d
			}
			if n.firstSandbox.IsZero() || st.ModTime().Before(n.firstSandbox) {
				n.firstSandbox = st.ModTime()
			}
		} else if p := filepath.Join(d, ProjectFileName); !beyond && p != home.Dir(o.Home).UserProject() {
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
	in, err := findProject(o.Dir, o.UserHome, home.Dir(o.Home).UserProject())
	if in == nil || err != nil {
		return "", err
	}
	return in.path, nil
}
