package tests

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestImageLargerThanRootfsLimit: an image whose files add up to more
// than the tool's rootfsSizeMB (a 40 MB file of zeros, a few KB of gzip)
// is refused before it is unpacked, with a message that names the
// setting; with the limit raised the same image runs.
func TestImageLargerThanRootfsLimit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		img := imageFromLayers(t, tarLayer(t, busyboxEntries(t)), tarLayer(t, []tarEntry{{Name: "zeros", Mode: 0o644, Body: make([]byte, 40<<20)}}))
		ref := "oci-layout:" + ociLayout(t, img)
		writeFile(t, filepath.Join(s.home, "config.toml"), fmt.Sprintf("[tool.big]\nimage = %q\nrootfsSizeMB = 16\n", ref))
		ws := t.TempDir()
		writeFile(t, filepath.Join(ws, "silo.toml"), "tools = [\"big\"]\n")
		r := s.silo(t, ws, nil, nil, "exec", "big", "true")
		if r.Code == 0 || !strings.Contains(r.Stderr, "more than the 16 MB its root filesystem may hold (raise rootfsSizeMB") {
			t.Fatalf("a 40 MB image under a 16 MB limit: exit %d, stderr %q", r.Code, r.Stderr)
		}
		writeFile(t, filepath.Join(ws, "silo.toml"), "tools = [\"big\"]\n[overrides.big]\nrootfsSizeMB = 64\n")
		if r := s.silo(t, ws, nil, nil, "exec", "big", "sh", "-c", "wc -c < /zeros"); r.Code != 0 || strings.TrimSpace(r.Stdout) != fmt.Sprint(40<<20) {
			t.Errorf("with the limit raised: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
		}
	})
}
