package sandbox

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/silo-dev/silo/derive"
	"github.com/silo-dev/silo/derive/oci"
	"github.com/silo-dev/silo/internal/home"
	"github.com/silo-dev/silo/store"
)

// seedFromLayers extracts into dst what the topmost of the layers holds
// under the workspace path wd/ex (a build's capture of an excluded path,
// which is opaque: the topmost one is all of it). It returns the diff ID
// of the layer it used, or "" when none holds the path.
func seedFromLayers(st *store.Store, layers []derive.StepLayer, wd, ex, dst string) (string, error) {
	prefix := path.Join(wd, strings.Trim(ex, "/")) + "/"
	for i := len(layers) - 1; i >= 0; i-- {
		e, err := st.Use(layers[i].Entry)
		if err != nil {
			return "", fmt.Errorf("build layer %s: %w (run silo pull)", layers[i].DiffID, err)
		}
		found, err := extractPrefix(e.Path, prefix, dst)
		if err != nil {
			return "", fmt.Errorf("seed %s from the build: %w", ex, err)
		}
		if found {
			return layers[i].DiffID, nil
		}
	}
	return "", nil
}

// extractPrefix extracts the entries of the layer tar at p under prefix
// into dst, whiteouts left out, and reports whether there were any.
func extractPrefix(p, prefix, dst string) (bool, error) {
	rc, err := oci.OpenLayer(p)
	if err != nil {
		return false, err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	found := false
	root := os.Geteuid() == 0
	var dirs []*tar.Header
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return found, err
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if name+"/" == prefix {
			found = true
			continue
		}
		rel, ok := strings.CutPrefix(name, prefix)
		if !ok || rel == "" {
			continue
		}
		found = true
		if strings.HasPrefix(path.Base(rel), ".wh.") {
			continue
		}
		to := filepath.Join(dst, filepath.FromSlash(rel))
		if err := noLinkBelow(dst, filepath.Dir(to)); err != nil {
			return found, err
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return found, err
		}
		if h.Typeflag != tar.TypeDir {
			// Never write through what an earlier entry put there.
			if err := os.Remove(to); err != nil && !errors.Is(err, os.ErrNotExist) {
				return found, err
			}
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(to, 0o755); err != nil {
				return found, err
			}
			dirs = append(dirs, h)
		case tar.TypeReg:
			f, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY|syscall.O_NOFOLLOW, os.FileMode(h.Mode)&os.ModePerm)
			if err != nil {
				return found, err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return found, err
			}
		case tar.TypeSymlink:
			if err := os.Symlink(h.Linkname, to); err != nil {
				return found, err
			}
		case tar.TypeLink:
			lrel, ok := strings.CutPrefix(strings.TrimPrefix(path.Clean("/"+h.Linkname), "/"), prefix)
			if !ok {
				continue
			}
			src := filepath.Join(dst, filepath.FromSlash(lrel))
			if err := noLinkBelow(dst, filepath.Dir(src)); err != nil {
				return found, err
			}
			if err := os.Link(src, to); err != nil {
				return found, err
			}
		default:
			continue
		}
		if root {
			_ = os.Lchown(to, h.Uid, h.Gid)
		}
		if h.Typeflag == tar.TypeReg {
			_ = os.Chmod(to, os.FileMode(h.Mode)&07777)
			_ = os.Chtimes(to, h.ModTime, h.ModTime)
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		h := dirs[i]
		to := filepath.Join(dst, filepath.FromSlash(strings.TrimPrefix(strings.TrimPrefix(path.Clean("/"+h.Name), "/"), prefix)))
		_ = os.Chmod(to, os.FileMode(h.Mode)&07777)
		_ = os.Chtimes(to, h.ModTime, h.ModTime)
	}
	return found, nil
}

// noLinkBelow refuses a directory path under root any component of which
// is a symlink: a layer's entry must not be written through one (an
// entry "x" linking to ~/.bashrc, then one "x/y" or "x" again).
func noLinkBelow(root, dir string) error {
	rel, err := filepath.Rel(root, dir)
	if err != nil || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("%s is outside %s", dir, root)
	}
	cur := root
	for _, c := range strings.Split(rel, string(filepath.Separator)) {
		if c == "." || c == "" {
			continue
		}
		cur = filepath.Join(cur, c)
		fi, err := os.Lstat(cur)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("the layer writes beneath %s, which is not a directory", cur)
		}
	}
	return nil
}

// ExcludeDirs backs each excluded path of the plan's tool with the
// project's kept directory under the home (made on first use), and
// seeds it from the build steps' capture when the locked output changed
// since it was last seeded: the old content is moved aside, and notes
// gets one line saying where.
func (p *Plan) ExcludeDirs(st *store.Store, h home.Dir, notes io.Writer) error {
	if len(p.Spec.Exclude) == 0 {
		return nil
	}
	area := h.Excludes(p.Spec.Workspace)
	wd := strings.TrimPrefix(workdirOf(&p.Spec), "/")
	top := ""
	if n := len(p.Steps); n > 0 {
		top = p.Steps[n-1].DiffID
	}
	p.Spec.ExcludeDirs = make([]string, len(p.Spec.Exclude))
	for i, ex := range p.Spec.Exclude {
		dir := filepath.Join(area, excludeName(ex))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("mount.exclude %s: %w", ex, err)
		}
		p.Spec.ExcludeDirs[i] = dir
		if top == "" {
			continue
		}
		if err := seedExclude(st, p.Steps, wd, ex, dir, top, notes); err != nil {
			return err
		}
	}
	return nil
}

// excludeName is the kept directory's name for an excluded path.
func excludeName(ex string) string {
	return strings.ReplaceAll(strings.Trim(path.Clean("/"+ex), "/"), "/", "%")
}

// seedExclude seeds dir from the steps unless it was seeded from top.
func seedExclude(st *store.Store, steps []derive.StepLayer, wd, ex, dir, top string, notes io.Writer) error {
	marker := dir + ".seed"
	if b, err := os.ReadFile(marker); err == nil && string(b) == top {
		return nil
	}
	tmp := dir + ".new"
	removeAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	from, err := seedFromLayers(st, steps, wd, ex, tmp)
	if err != nil {
		removeAll(tmp)
		return err
	}
	if from == "" { // the build left nothing there: keep what the runs made
		removeAll(tmp)
		return os.WriteFile(marker, []byte(top), 0o644)
	}
	if !isEmptyDir(dir) {
		aside := fmt.Sprintf("%s.old-%s", dir, time.Now().UTC().Format("20060102T150405"))
		if err := os.Rename(dir, aside); err != nil {
			return fmt.Errorf("move %s aside: %w", ex, err)
		}
		if notes != nil {
			fmt.Fprintf(notes, "silo: the build's %s changed: the old one is at %s\n", ex, aside)
		}
	} else if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	return os.WriteFile(marker, []byte(top), 0o644)
}
