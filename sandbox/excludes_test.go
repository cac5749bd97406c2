package sandbox

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// hostileLayer writes a layer tar whose entries under ws/.venv try to
// write through a symlink to outside, in each way a tar can.
func hostileLayer(t *testing.T, outside string, entries []tar.Header) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range entries {
		h := h
		body := []byte("evil\n")
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(body))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write(body)
		}
	}
	tw.Close()
	p := filepath.Join(t.TempDir(), "layer.tar")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExtractPrefixRefusesLinks: seeding an excluded directory from a
// layer never writes, or hard-links, through a symlink the layer made.
func TestExtractPrefixRefusesLinks(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	link := tar.Header{Typeflag: tar.TypeSymlink, Name: "ws/.venv/evil", Linkname: outside, Mode: 0o777}
	fileLink := tar.Header{Typeflag: tar.TypeSymlink, Name: "ws/.venv/evil", Linkname: secret, Mode: 0o777}
	for name, entries := range map[string][]tar.Header{
		"a file beneath a link": {link, {Typeflag: tar.TypeReg, Name: "ws/.venv/evil/planted", Mode: 0o644}},
		"a file over a link":    {fileLink, {Typeflag: tar.TypeReg, Name: "ws/.venv/evil", Mode: 0o644}},
		"a hard link through":   {link, {Typeflag: tar.TypeLink, Name: "ws/.venv/copy", Linkname: "ws/.venv/evil/secret"}},
		"a dir beneath a link":  {link, {Typeflag: tar.TypeDir, Name: "ws/.venv/evil/sub/", Mode: 0o755}},
	} {
		t.Run(name, func(t *testing.T) {
			os.RemoveAll(outside)
			os.MkdirAll(outside, 0o755)
			os.WriteFile(secret, []byte("host secret\n"), 0o600)
			dst := t.TempDir()
			_, _ = extractPrefix(hostileLayer(t, outside, entries), "ws/.venv/", dst)
			if b, _ := os.ReadFile(secret); string(b) != "host secret\n" {
				t.Errorf("the host file changed: %q", b)
			}
			if ents, _ := os.ReadDir(outside); len(ents) != 1 {
				t.Errorf("something was made outside: %v", ents)
			}
			if b, err := os.ReadFile(filepath.Join(dst, "copy")); err == nil {
				t.Errorf("a hard link to the host file was made inside: %q", b)
			}
		})
	}
}
