package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/silo-dev/silo/lock"
	"github.com/silo-dev/silo/store"
)

// DefaultInputs are the project files a build step reads without being
// told: the usual package manifests and lock files, those that exist.
var DefaultInputs = []string{
	"package.json", "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml",
	"requirements.txt", "requirements-dev.txt", "requirements-test.txt", "pyproject.toml", "poetry.lock", "uv.lock", "Pipfile.lock",
	"Cargo.toml", "Cargo.lock", "go.mod", "go.sum", "Gemfile", "Gemfile.lock", "deno.json", "deno.lock",
}

// defaultInputs are the default inputs present in the workspace ws, with
// every other requirements*.txt.
func defaultInputs(ws string) []string {
	var out []string
	for _, n := range DefaultInputs {
		if fi, err := os.Lstat(filepath.Join(ws, n)); err == nil && fi.Mode().IsRegular() {
			out = append(out, n)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(ws, "requirements*.txt")); len(m) > 0 {
		for _, p := range m {
			out = append(out, filepath.Base(p))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// skipInTree are the names a tree input leaves out: the lock, which silo
// rewrites, and git's own directory.
var skipInTree = []string{lock.LockFileName, ".git"}

// inputHasher hashes build inputs, caching each file's hash by its stat
// data (size, mtime, ctime, inode), as git's index does: checking a tree
// input whose files did not change reads no file.
type inputHasher struct {
	path  string
	mu    sync.Mutex
	cache map[string]statHash
	dirty bool
}

// statHash is one cached file hash and the stat data it is valid for.
type statHash struct {
	Size, Mtime, Ctime int64
	Ino                uint64
	Hash               string
}

// newInputHasher loads the cache at path ("" keeps none).
func newInputHasher(path string) *inputHasher {
	h := &inputHasher{path: path, cache: map[string]statHash{}}
	if b, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(b, &h.cache)
	}
	return h
}

// save writes the cache back when it changed; a failure only costs time.
func (h *inputHasher) save() {
	if h.path == "" || !h.dirty {
		return
	}
	b, err := json.Marshal(h.cache)
	if err != nil {
		return
	}
	_ = os.MkdirAll(filepath.Dir(h.path), 0o700)
	tmp := h.path + ".tmp"
	if os.WriteFile(tmp, b, 0o600) == nil {
		_ = os.Rename(tmp, h.path)
	}
}

// hash returns the content hash of the input rel of workspace ws: a
// file's blake3, or a tree's hash over its sorted paths, kinds, executable
// bits and file hashes (the excluded paths and skipInTree left out).
func (h *inputHasher) hash(ws, rel string, exclude []string) (string, error) {
	p := filepath.Join(ws, rel)
	fi, err := os.Lstat(p)
	if err != nil {
		return "", fmt.Errorf("build input %s: %w (create it, or leave it out of --input)", rel, errors.Unwrap(err))
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		// Its target, not what it points to: a link may lead out of the
		// project, and the step sees only the link.
		t, err := os.Readlink(p)
		if err != nil {
			return "", fmt.Errorf("build input %s: %w", rel, err)
		}
		return store.HashBytes([]byte("silo-input-link-1\n" + t)).String(), nil
	}
	if !fi.IsDir() {
		return h.file(p, fi)
	}
	var b strings.Builder
	b.WriteString("silo-input-tree-1\n")
	err = walkInput(ws, rel, exclude, func(r string, fi fs.FileInfo) error {
		switch {
		case fi.IsDir():
			fmt.Fprintf(&b, "d %q\n", r)
		case fi.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(filepath.Join(ws, r))
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "l %q %q\n", r, t)
		case fi.Mode().IsRegular():
			fh, err := h.file(filepath.Join(ws, r), fi)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "f %q %t %s\n", r, fi.Mode()&0o111 != 0, fh)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("build input %s: %w", rel, err)
	}
	return store.HashBytes([]byte(b.String())).String(), nil
}

// file is one regular file's hash, from the cache when its stat data did
// not change.
func (h *inputHasher) file(p string, fi fs.FileInfo) (string, error) {
	st, _ := fi.Sys().(*unix.Stat_t)
	var key statHash
	if st != nil {
		key = statHash{Size: st.Size, Mtime: unix.TimespecToNsec(st.Mtim), Ctime: unix.TimespecToNsec(st.Ctim), Ino: st.Ino}
		h.mu.Lock()
		c, ok := h.cache[p]
		h.mu.Unlock()
		if ok && c.Size == key.Size && c.Mtime == key.Mtime && c.Ctime == key.Ctime && c.Ino == key.Ino {
			return c.Hash, nil
		}
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	sum := store.HashBytes(b).String()
	if st != nil {
		key.Hash = sum
		h.mu.Lock()
		h.cache[p], h.dirty = key, true
		h.mu.Unlock()
	}
	return sum, nil
}

// walkInput calls fn for rel and everything under it, in sorted order,
// leaving out the excluded paths and skipInTree.
func walkInput(ws, rel string, exclude []string, fn func(rel string, fi fs.FileInfo) error) error {
	return filepath.Walk(filepath.Join(ws, rel), func(p string, fi fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(ws, p)
		r = filepath.ToSlash(r)
		if r != "." && (slices.Contains(skipInTree, fi.Name()) || slices.ContainsFunc(exclude, func(e string) bool { return strings.Trim(e, "/") == r })) {
			if fi.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		return fn(r, fi)
	})
}

// copyInputs copies the inputs of workspace ws into the empty step
// workspace dst: files with their executable bit, trees whole (the
// excluded paths and skipInTree left out). Nothing else of the project is
// there for the step to read.
func copyInputs(ws, dst string, inputs []string, exclude []string) error {
	for _, rel := range inputs {
		err := walkInput(ws, rel, exclude, func(r string, fi fs.FileInfo) error {
			to := filepath.Join(dst, r)
			switch {
			case r == ".":
				return nil
			case fi.IsDir():
				return os.MkdirAll(to, 0o755)
			case fi.Mode()&fs.ModeSymlink != 0:
				t, err := os.Readlink(filepath.Join(ws, r))
				if err != nil {
					return err
				}
				_ = os.MkdirAll(filepath.Dir(to), 0o755)
				return os.Symlink(t, to)
			case fi.Mode().IsRegular():
				return copyFile(filepath.Join(ws, r), to, fi.Mode().Perm()|0o644)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("copy build input %s: %w", rel, err)
		}
	}
	return nil
}

// copyFile copies src to dst with mode perm.
func copyFile(src, dst string, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// cleanInput checks a --input path given relative to the working
// directory dir and returns it relative to the workspace ws.
func cleanInput(ws, dir, p string) (string, error) {
	abs := p
	if !filepath.IsAbs(p) {
		abs = filepath.Join(dir, p)
	}
	rel, err := filepath.Rel(ws, filepath.Clean(abs))
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("build input %s is outside the project %s: inputs are project files", p, ws)
	}
	if _, err := os.Lstat(filepath.Join(ws, rel)); err != nil {
		return "", fmt.Errorf("build input %s does not exist: create it, or leave it out of --input", p)
	}
	return filepath.ToSlash(rel), nil
}
