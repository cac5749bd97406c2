package tests

// Shared fixtures for the end-to-end tests: a real busybox image built from
// Debian's busybox-static, an OCI layout on disk, and a real OCI registry
// (go-containerregistry's pkg/registry) served on loopback.

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// busyboxPath is Debian's static busybox (package busybox-static).
const busyboxPath = "/bin/busybox"

// fixtureTime is the modification time of every fixture file, so that the
// fixture images are byte-identical from run to run.
var fixtureTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// defaultPath is the PATH the busybox image's config sets.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// tarEntry is one file of a generated layer.
type tarEntry struct {
	Name     string // path inside the image, no leading slash ("etc/passwd")
	Type     byte   // tar.TypeReg (default), TypeDir, TypeSymlink, TypeLink, …
	Mode     int64  // permission bits, setuid/setgid/sticky included
	UID, GID int
	Linkname string // symlink target or hardlink source
	Body     []byte
	Xattrs   map[string]string // PAX "SCHILY.xattr." records
	ModTime  time.Time         // zero: fixtureTime
}

// tarBytes serializes entries, in order, as an uncompressed tar stream.
func tarBytes(t testing.TB, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{
			Name: e.Name, Typeflag: e.Type, Mode: e.Mode, Uid: e.UID, Gid: e.GID,
			Linkname: e.Linkname, ModTime: e.ModTime, Format: tar.FormatPAX,
		}
		if hdr.ModTime.IsZero() {
			hdr.ModTime = fixtureTime
		}
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(e.Body))
		}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
			if hdr.Typeflag == tar.TypeDir {
				hdr.Mode = 0o755
			}
		}
		if len(e.Xattrs) > 0 {
			hdr.PAXRecords = map[string]string{}
			for k, v := range e.Xattrs {
				hdr.PAXRecords["SCHILY.xattr."+k] = v
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("tar header %s: %v", e.Name, err)
		}
		if _, err := tw.Write(e.Body); err != nil {
			t.Fatalf("tar body %s: %v", e.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatalf("close tar: %v", err)
	}
	return buf.Bytes()
}

// tarLayer turns entries into a gzip-compressed layer.
func tarLayer(t testing.TB, entries []tarEntry) v1.Layer {
	t.Helper()
	b := tarBytes(t, entries)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatalf("make layer: %v", err)
	}
	return l
}

// imageFromLayers builds a linux/amd64 OCI image from layers with the
// busybox image's config (PATH, Cmd /bin/sh).
func imageFromLayers(t testing.TB, layers ...v1.Layer) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.AppendLayers(img, layers...)
	if err != nil {
		t.Fatalf("append layers: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.Created = v1.Time{Time: fixtureTime}
	cf.Config.Env = []string{"PATH=" + defaultPath}
	cf.Config.Cmd = []string{"/bin/sh"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatalf("set config: %v", err)
	}
	return img
}

var busybox struct {
	once    sync.Once
	entries []tarEntry
	err     error
}

// busyboxEntries returns the files of the busybox image's single layer:
// /bin/busybox, one symlink per applet, /etc/passwd and /etc/group (root
// and user 1000), /tmp (1777), /root and /workspace.
func busyboxEntries(t testing.TB) []tarEntry {
	t.Helper()
	busybox.once.Do(func() { busybox.entries, busybox.err = readBusybox() })
	if busybox.err != nil {
		t.Fatalf("busybox fixture: %v (install Debian's busybox-static)", busybox.err)
	}
	return busybox.entries
}

func readBusybox() ([]tarEntry, error) {
	bin, err := os.ReadFile(busyboxPath)
	if err != nil {
		return nil, err
	}
	out, err := exec.Command(busyboxPath, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list: %w", err)
	}
	applets := strings.Fields(string(out))
	sort.Strings(applets)
	entries := []tarEntry{
		{Name: "bin/", Type: tar.TypeDir},
		{Name: "bin/busybox", Mode: 0o755, Body: bin},
	}
	for _, a := range applets {
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		entries = append(entries, tarEntry{Name: "bin/" + a, Type: tar.TypeSymlink, Mode: 0o777, Linkname: "busybox"})
	}
	entries = append(entries,
		tarEntry{Name: "etc/", Type: tar.TypeDir},
		tarEntry{Name: "etc/passwd", Body: []byte("root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n")},
		tarEntry{Name: "etc/group", Body: []byte("root:x:0:\nuser:x:1000:\n")},
		tarEntry{Name: "home/", Type: tar.TypeDir},
		tarEntry{Name: "home/user/", Type: tar.TypeDir, UID: 1000, GID: 1000},
		tarEntry{Name: "root/", Type: tar.TypeDir, Mode: 0o700},
		tarEntry{Name: "tmp/", Type: tar.TypeDir, Mode: 0o1777},
		tarEntry{Name: "workspace/", Type: tar.TypeDir},
	)
	return entries, nil
}

// busyboxImage returns a small linux/amd64 OCI image with Debian's static
// busybox: /bin/busybox, a /bin symlink for every applet, /etc/passwd and
// /etc/group with root and user (1000), /tmp (1777), /root and /workspace;
// Env PATH=defaultPath, Cmd ["/bin/sh"]. Its digest is the same every run.
func busyboxImage(t testing.TB) v1.Image {
	t.Helper()
	return imageFromLayers(t, tarLayer(t, busyboxEntries(t)))
}

// ociLayout writes img as an OCI image layout in a new temporary directory,
// tagged "latest", and returns the directory (usable as oci-layout:DIR).
func ociLayout(t testing.TB, img v1.Image) string {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatalf("write OCI layout: %v", err)
	}
	err = p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": "latest",
	}))
	if err != nil {
		t.Fatalf("append image to OCI layout: %v", err)
	}
	return dir
}

// startRegistry serves a real OCI registry (go-containerregistry's
// pkg/registry, in memory) on 127.0.0.1 and returns its "127.0.0.1:PORT".
// It stops when the test ends.
func startRegistry(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// pushImage pushes img to host/repo:latest and returns its reference by
// digest ("host/repo@sha256:…").
func pushImage(t testing.TB, host, repo string, img v1.Image) string {
	t.Helper()
	tag, err := name.NewTag(host+"/"+repo+":latest", name.Insecure)
	if err != nil {
		t.Fatalf("parse %s/%s: %v", host, repo, err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatalf("push %s: %v", tag, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatalf("digest: %v", err)
	}
	return host + "/" + repo + "@" + d.String()
}

// multiPlatformIndex wraps img in an OCI image index with two entries:
// img for linux/amd64, and another small image for linux/s390x.
func multiPlatformIndex(t testing.TB, img v1.Image) v1.ImageIndex {
	t.Helper()
	other := imageFromLayers(t, tarLayer(t, []tarEntry{{Name: "s390x", Body: []byte("another platform\n")}}))
	return mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: other, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}}},
	)
}

// pushIndex pushes idx to host/repo:latest and returns the index's digest.
func pushIndex(t testing.TB, host, repo string, idx v1.ImageIndex) string {
	t.Helper()
	tag, err := name.NewTag(host+"/"+repo+":latest", name.Insecure)
	if err != nil {
		t.Fatalf("parse %s/%s: %v", host, repo, err)
	}
	if err := remote.WriteIndex(tag, idx); err != nil {
		t.Fatalf("push %s: %v", tag, err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatalf("digest: %v", err)
	}
	return d.String()
}

// TestFixtures checks the fixtures themselves: the image pushed to the
// loopback registry comes back with the same digest and files, and the OCI
// layout holds it under the tag "latest".
func TestFixtures(t *testing.T) {
	img := busyboxImage(t)
	want, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := busyboxImage(t).Digest(); again != want {
		t.Fatalf("busyboxImage is not reproducible: %s then %s", want, again)
	}
	host := startRegistry(t)
	ref := pushImage(t, host, "fixtures/busybox", img)
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.Image(r)
	if err != nil {
		t.Fatalf("pull %s back: %v", ref, err)
	}
	if d, _ := got.Digest(); d != want {
		t.Fatalf("pulled digest %s, pushed %s", d, want)
	}
	files := map[string]*tar.Header{}
	rc := mutate.Extract(got)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = h
	}
	for name, mode := range map[string]int64{"bin/busybox": 0o755, "tmp": 0o1777, "etc/passwd": 0o644} {
		h := files[name]
		if h == nil || h.Mode != mode {
			t.Errorf("%s: header %+v, want mode %o", name, h, mode)
		}
	}
	if h := files["bin/sh"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "busybox" {
		t.Errorf("bin/sh: %+v, want a symlink to busybox", h)
	}
	cf, err := got.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" || cf.Config.Env[0] != "PATH="+defaultPath {
		t.Errorf("config: %+v", cf)
	}

	dir := ociLayout(t, img)
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != want ||
		im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "latest" {
		t.Fatalf("layout index: %+v", im.Manifests)
	}
}
