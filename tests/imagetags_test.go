package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestImagePullRegistersSavedTags: `silo image pull docker-archive:FILE`
// of an image saved as REG/python:3.12-slim registers it under that
// reference, as `docker load` does, so that a tool whose image is
// REG/python:3.12-slim runs from it with the registry unreachable (REG is
// a closed loopback port); an OCI layout's ref.name annotation does the
// same. A local image a run pulls (a project's tool) registers nothing: a
// project must not redefine what a registry reference means elsewhere.
func TestImagePullRegistersSavedTags(t *testing.T) {
	s := namespaceSandbox(t)
	const py, node, evil = "127.0.0.1:1/python:3.12-slim", "127.0.0.1:1/node:20", "127.0.0.1:1/evil:1"
	save := func(ref string) string {
		tag, err := name.NewTag(ref, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "image.tar")
		if err := tarball.WriteToFile(file, tag, busyboxImage(t)); err != nil {
			t.Fatal(err)
		}
		return file
	}
	r := s.silo(t, t.TempDir(), nil, nil, "image", "pull", "docker-archive:"+save(py))
	if r.Code != 0 || !strings.Contains(r.Stdout, "registered as "+py) {
		t.Fatalf("pull the docker archive: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	dir := t.TempDir()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(busyboxImage(t), layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": node})); err != nil {
		t.Fatal(err)
	}
	if r := s.silo(t, t.TempDir(), nil, nil, "image", "pull", "oci-layout:"+dir); r.Code != 0 || !strings.Contains(r.Stdout, "registered as "+node) {
		t.Fatalf("pull the OCI layout: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}

	writeFile(t, filepath.Join(s.home, "config.toml"), fmt.Sprintf("[tool.py]\nimage = %q\n[tool.node]\nimage = %q\n[tool.local]\nimage = %q\n",
		py, node, "docker-archive:"+save(evil)))
	ws := t.TempDir()
	writeTrusted(t, s.home, filepath.Join(ws, "silo.toml"), "tools = [\"py\", \"node\", \"local\"]\n")
	for _, tool := range []string{"py", "node", "local"} {
		if r := s.silo(t, ws, nil, nil, "exec", tool, "sh", "-c", "echo from $0"); r.Code != 0 || r.Stdout != "from sh\n" {
			t.Errorf("tool %s offline: exit %d, stdout %q, stderr %q", tool, r.Code, r.Stdout, r.Stderr)
		}
	}
	if r := s.silo(t, ws, nil, nil, "image", "inspect", evil); r.Code == 0 {
		t.Errorf("a run of a local image registered its tag %s:\n%s", evil, r.Stdout)
	}
}

// TestUnreachableRegistrySaysHowToWorkOffline: a registry that cannot be
// reached (a closed loopback port) is an error that names what to type for
// an offline image: the pull of a file, or the tool's image key.
func TestUnreachableRegistrySaysHowToWorkOffline(t *testing.T) {
	r := silo(t, t.TempDir(), t.TempDir(), nil, nil, "image", "pull", "127.0.0.1:1/python:3.12-slim")
	for _, want := range []string{"could not be reached", "silo image pull docker-archive:FILE", `[overrides.TOOL] image = "oci-layout:DIR"`} {
		if r.Code == 0 || !strings.Contains(r.Stderr, want) {
			t.Errorf("pull from a closed port: exit %d, stderr %q; want %q", r.Code, r.Stderr, want)
		}
	}
}

// TestOCILayoutRebuiltInPlace: an oci-layout:DIR image rebuilt in place is
// the one the next run uses, without a pull: its index.json is read on
// every run.
func TestOCILayoutRebuiltInPlace(t *testing.T) {
	s := namespaceSandbox(t)
	dir := t.TempDir()
	build := func(version string) {
		os.RemoveAll(dir)
		img := imageFromLayers(t, tarLayer(t, busyboxEntries(t)), tarLayer(t, []tarEntry{{Name: "version", Body: []byte(version)}}))
		lp, err := layout.Write(dir, empty.Index)
		if err != nil {
			t.Fatal(err)
		}
		if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "latest"})); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []string{"v1", "v2"} {
		build(v)
		if r := s.silo(t, t.TempDir(), nil, nil, "exec", "--image", "oci-layout:"+dir, "cat", "/version"); r.Code != 0 || r.Stdout != v {
			t.Errorf("run after building %s: exit %d, stdout %q, stderr %q", v, r.Code, r.Stdout, r.Stderr)
		}
	}
}
