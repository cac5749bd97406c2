package derive

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/silo-dev/silo/store"
)

var amd64 = &v1.Platform{OS: "linux", Architecture: "amd64"}

// tarLayer makes a gzip layer from headers; regular files get body "<name>".
func tarLayer(t testing.TB, hdrs ...*tar.Header) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		h.ModTime = time.Unix(1.7e9, 0)
		var body []byte
		if h.Typeflag == tar.TypeReg {
			body = []byte(h.Name)
			h.Size = int64(len(body))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	tw.Close()
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// testImage is a two-layer image with a whiteout, an opaque directory, a
// hardlink, a setuid file and a non-root owner.
func testImage(t testing.TB) v1.Image {
	l1 := tarLayer(t,
		&tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755},
		&tar.Header{Name: "bin/su", Typeflag: tar.TypeReg, Mode: 0o4755},
		&tar.Header{Name: "bin/passwd", Typeflag: tar.TypeLink, Linkname: "bin/su"},
		&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755},
		&tar.Header{Name: "etc/old", Typeflag: tar.TypeReg},
		&tar.Header{Name: "var/", Typeflag: tar.TypeDir, Mode: 0o755},
		&tar.Header{Name: "var/cache/", Typeflag: tar.TypeDir, Mode: 0o755},
		&tar.Header{Name: "var/cache/stale", Typeflag: tar.TypeReg},
		&tar.Header{Name: "home/user/", Typeflag: tar.TypeDir, Mode: 0o700, Uid: 1000, Gid: 1000},
	)
	l2 := tarLayer(t,
		&tar.Header{Name: "etc/.wh.old", Typeflag: tar.TypeReg},
		&tar.Header{Name: "var/cache/.wh..wh..opq", Typeflag: tar.TypeReg},
		&tar.Header{Name: "var/cache/fresh", Typeflag: tar.TypeReg},
		&tar.Header{Name: "home/user/notes", Typeflag: tar.TypeReg, Mode: 0o600, Uid: 1000, Gid: 1000},
	)
	img, err := mutate.AppendLayers(empty.Image, l1, l2)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Env = []string{"PATH=/bin", "LANG=C.UTF-8"}
	cf.Config.WorkingDir = "/home/user"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// pushTest serves a registry, pushes testImage and returns the tag.
func pushTest(t testing.TB) (ref string, stop func()) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	ref = strings.TrimPrefix(srv.URL, "http://") + "/test/rootfs:latest"
	tag, _ := name.NewTag(ref)
	if err := remote.Write(tag, testImage(t)); err != nil {
		t.Fatal(err)
	}
	return ref, srv.Close
}

func debugfs(t testing.TB, img, cmd string) string {
	t.Helper()
	out, err := exec.Command("debugfs", "-R", cmd, img).CombinedOutput()
	if err != nil {
		t.Fatalf("debugfs %s: %v\n%s", cmd, err, out)
	}
	return string(out)
}

func TestRootfs(t *testing.T) {
	ref, stop := pushTest(t)
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	res, err := Rootfs(ctx, st, ref, RootfsOptions{Format: FormatExt4 | FormatDir, Platform: amd64})
	if err != nil {
		t.Fatal(err)
	}
	if res.Pulled == nil || res.Ext4 == nil || res.Dir == nil {
		t.Fatalf("first call: %+v", res)
	}
	if res.Ext4.Kind != store.KindRootfs || !res.Ext4.Rebuildable || res.Ext4.Deriver != RootfsDerivation(res.Image, "ext4", 0).Hash() {
		t.Errorf("ext4 entry: %+v", res.Ext4)
	}
	if c := res.Config(); c.WorkingDir != "/home/user" || c.Env[1] != "LANG=C.UTF-8" {
		t.Errorf("config: %+v", c)
	}

	img := res.Ext4.Path
	if out, err := exec.Command("e2fsck", "-fn", img).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck: %v\n%s", err, out)
	}
	if s := debugfs(t, img, "stat /bin/su"); !strings.Contains(s, "Mode:  04755") || !strings.Contains(s, "Links: 2") {
		t.Errorf("/bin/su should be setuid with 2 links:\n%s", s)
	}
	if s := debugfs(t, img, "stat /home/user/notes"); !strings.Contains(s, "User:  1000   Group:  1000") {
		t.Errorf("/home/user/notes owner:\n%s", s)
	}
	for path, want := range map[string]bool{"/etc/old": false, "/var/cache/stale": false, "/var/cache/fresh": true} {
		s := debugfs(t, img, "stat "+path)
		if got := !strings.Contains(s, "File not found"); got != want {
			t.Errorf("%s exists=%v, want %v", path, got, want)
		}
	}
	for path, want := range map[string]bool{"etc/old": false, "var/cache/stale": false, "var/cache/fresh": true, "bin/su": true} {
		_, err := os.Lstat(filepath.Join(res.Dir.Path, path))
		if got := err == nil; got != want {
			t.Errorf("dir %s exists=%v, want %v", path, got, want)
		}
	}

	// Warm: the registry is gone, the same entries come back.
	stop()
	warm, err := Rootfs(ctx, st, ref, RootfsOptions{Format: FormatExt4 | FormatDir, Platform: amd64})
	if err != nil {
		t.Fatalf("warm call with the registry stopped: %v", err)
	}
	if warm.Pulled != nil || warm.Ext4.Name != res.Ext4.Name || warm.Dir.Name != res.Dir.Name {
		t.Errorf("warm call rebuilt or pulled: %+v", warm)
	}
}

// TestRootfsReproducible builds the same image in two stores: the ext4
// images must be byte-identical.
func TestRootfsReproducible(t *testing.T) {
	ref, _ := pushTest(t)
	var hashes []store.Hash
	for i := 0; i < 2; i++ {
		st, err := store.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		res, err := Rootfs(context.Background(), st, ref, RootfsOptions{Platform: amd64})
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(res.Ext4.Path)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, store.HashBytes(b))
		if res.Ext4.ContentHash != hashes[i] {
			t.Errorf("store content hash %s, file %s", res.Ext4.ContentHash, hashes[i])
		}
		st.Close()
	}
	if hashes[0] != hashes[1] {
		t.Fatalf("same layers, different ext4 images: %s vs %s", hashes[0], hashes[1])
	}
}

// BenchmarkRootfsWarm is the per-run cost of finding an already built
// rootfs: what every warm `silo run` pays before the sandbox starts.
func BenchmarkRootfsWarm(b *testing.B) {
	ref, _ := pushTest(b)
	st, err := store.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	o := RootfsOptions{Format: FormatExt4 | FormatDir, Platform: amd64}
	if _, err := Rootfs(context.Background(), st, ref, o); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		res, err := Rootfs(context.Background(), st, ref, o)
		if err != nil || res.Pulled != nil {
			b.Fatalf("warm call: %v %+v", err, res)
		}
	}
}

// TestRootfsRefusesWrongDiffID pushes an image whose config names another
// uncompressed digest for its layer than the layer has. Its blobs all
// match the manifest, so the pull succeeds; unpacking must refuse, for
// both forms, and leave no rootfs entry behind.
func TestRootfsRefusesWrongDiffID(t *testing.T) {
	img := testImage(t)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.RootFS.DiffIDs[1] = cf.RootFS.DiffIDs[0]
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/test/baddiff:latest"
	tag, _ := name.NewTag(ref)
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	for _, format := range []Format{FormatExt4, FormatDir} {
		st, err := store.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		_, err = Rootfs(context.Background(), st, ref, RootfsOptions{Format: format, Platform: amd64})
		if err == nil || !strings.Contains(err.Error(), "does not match its digest") {
			t.Errorf("format %d: Rootfs of an image with a wrong diff ID = %v, want a digest mismatch", format, err)
		}
		entries, err := st.List(store.Filter{Kind: store.KindRootfs})
		if err != nil || len(entries) != 0 {
			t.Errorf("format %d: rootfs entries left behind: %v, %v", format, entries, err)
		}
		st.Close()
	}
}
