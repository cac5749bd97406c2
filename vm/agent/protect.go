//go:build linux

package agent

import (
	"errors"
	"path"
	"path/filepath"
	"strings"
)

// cleanup detaches the workspace filter.
func (fs *sandboxFS) cleanup() {
	if fs.upper != nil {
		fs.upper.Close()
	}
	for _, f := range fs.toHost {
		f.Close()
	}
	if fs.filter != nil {
		fs.filter.unmount(fs.wsMount)
	}
}

// cleanRel checks a workspace- or root-relative path: no "..", not the
// root itself. A leading "/" is allowed and dropped.
func cleanRel(p string) (string, error) {
	c := path.Clean("/" + filepath.ToSlash(p))
	if c == "/" {
		return "", errors.New("names the whole tree")
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return "", errors.New(`must not contain ".."`)
		}
	}
	return c[1:], nil
}

// splitPath splits a clean relative path into its components.
func splitPath(rel string) []string { return strings.Split(rel, "/") }
