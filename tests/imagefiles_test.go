package tests

// Images as users have them: many files, device nodes, unsafe layers.
// These run on the namespace backend (the directory form); the ext4 form's
// handling of the same layers is covered in derive/rootfs.

import (
	"archive/tar"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestImageEntryLimit: an image with more entries than the tool's maxFiles
// is refused while its headers are read, with a message naming the key;
// raised in the project's silo.toml, the same image runs.
func TestImageEntryLimit(t *testing.T) {
	s := namespaceSandbox(t)
	var many []tarEntry
	for i := range 1500 {
		many = append(many, tarEntry{Name: fmt.Sprintf("many/f%04d", i)})
	}
	ref := "oci-layout:" + ociLayout(t, imageFromLayers(t, tarLayer(t, busyboxEntries(t)), tarLayer(t, many)))
	writeFile(t, filepath.Join(s.home, "config.toml"), fmt.Sprintf("[tool.many]\nimage = %q\nmaxFiles = 1000\n", ref))
	ws := t.TempDir()
	writeTrusted(t, s.home, filepath.Join(ws, "silo.toml"), "tools = [\"many\"]\n")
	r := s.silo(t, ws, nil, nil, "exec", "many", "true")
	if r.Code == 0 || !strings.Contains(r.Stderr, "more than 1000 entries (raise maxFiles") {
		t.Fatalf("1900 entries under maxFiles = 1000: exit %d, stderr %q", r.Code, r.Stderr)
	}
	writeTrusted(t, s.home, filepath.Join(ws, "silo.toml"), "tools = [\"many\"]\n[overrides.many]\nmaxFiles = 5000\n")
	if r := s.silo(t, ws, nil, nil, "exec", "many", "sh", "-c", "ls /many | wc -l"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "1500" {
		t.Errorf("with maxFiles = 5000: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
}

// TestImageDeviceNodesAndUnsafeLayers: a layer with device nodes (any
// debootstrap tree has /dev/null) pulls and runs, with one note that the
// directory form left them out; a layer with an absolute path is refused
// by `silo image pull` itself, not at its first run.
func TestImageDeviceNodesAndUnsafeLayers(t *testing.T) {
	s := namespaceSandbox(t)
	devs := []tarEntry{
		{Name: "dev/", Type: tar.TypeDir},
		{Name: "dev/null", Type: tar.TypeChar, Mode: 0o666},
		{Name: "dev/zero", Type: tar.TypeChar, Mode: 0o666},
		{Name: "etc/hostname", Body: []byte("debootstrapped\n")},
	}
	ref := "oci-layout:" + ociLayout(t, imageFromLayers(t, tarLayer(t, busyboxEntries(t)), tarLayer(t, devs)))
	if r := s.silo(t, t.TempDir(), nil, nil, "image", "pull", ref); r.Code != 0 {
		t.Fatalf("pull an image with device nodes: exit %d, stderr %q", r.Code, r.Stderr)
	}
	r := s.silo(t, t.TempDir(), nil, nil, "exec", "--image", ref, "sh", "-c", "cat /etc/hostname; echo x > /dev/null && echo devnull-ok")
	if r.Code != 0 || r.Stdout != "debootstrapped\ndevnull-ok\n" {
		t.Fatalf("run an image with device nodes: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	if n := strings.Count(r.Stderr, "device nodes"); n != 1 || !strings.Contains(r.Stderr, "left out the image's 2 device nodes (/dev/null, /dev/zero): the sandbox has its own /dev") {
		t.Errorf("want one note about the device nodes, got %d in %q", n, r.Stderr)
	}

	bad := "oci-layout:" + ociLayout(t, imageFromLayers(t, tarLayer(t, busyboxEntries(t)), tarLayer(t, []tarEntry{{Name: "/etc/cron.d/evil", Body: []byte("x")}})))
	home := t.TempDir()
	r = silo(t, home, t.TempDir(), nil, nil, "image", "pull", bad)
	if r.Code == 0 || !strings.Contains(r.Stderr, `entry "/etc/cron.d/evil": absolute path`) {
		t.Errorf("pull an image with an absolute path: exit %d, stderr %q; want it refused at the pull", r.Code, r.Stderr)
	}
	if r := silo(t, home, t.TempDir(), nil, nil, "image", "ls"); strings.Contains(r.Stdout, "oci-layout") {
		t.Errorf("the refused image is listed:\n%s", r.Stdout)
	}
}
