package session

import (
	"fmt"
	"github.com/silo-dev/silo/internal/fsutil"
	"os"
	"path/filepath"
)

// openBeneathByPath is openBeneath where the kernel cannot resolve beneath
// a directory (no openat2): it opens, then checks that the file it got is
// the one the path resolves to inside root. A swap between the two steps
// is caught by comparing the opened file with the resolved one.
func openBeneathByPath(root, rel string) (*os.File, error) {
	p := filepath.Join(root, rel)
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	real, err := filepath.EvalSymlinks(p)
	rroot, rerr := filepath.EvalSymlinks(root)
	if err == nil && rerr == nil && fsutil.Within(real, rroot) {
		a, aerr := f.Stat()
		b, berr := os.Stat(real)
		if aerr == nil && berr == nil && os.SameFile(a, b) {
			return f, nil
		}
	}
	f.Close()
	return nil, fmt.Errorf("open %s: it leads out of %s", p, root)
}
