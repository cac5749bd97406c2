package oci

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/silo-dev/silo/store"
)

var amd64 = &v1.Platform{OS: "linux", Architecture: "amd64"}

func TestPullSharesLayers(t *testing.T) {
	reg := startRegistry(t)
	a, b, c := layerOf(t, "a", "A"), layerOf(t, "b", "B"), layerOf(t, "c", "C")
	ref1 := reg.push(t, "one", imageOf(t, "amd64", a, b))
	ref2 := reg.push(t, "two", imageOf(t, "amd64", a, b, c))
	st := openStore(t)
	ctx := context.Background()

	p1, err := Pull(ctx, st, ref1, Options{Platform: amd64})
	if err != nil {
		t.Fatal(err)
	}
	if p1.FetchedLayers != 2 || p1.CachedLayers != 0 || p1.FetchedBytes == 0 {
		t.Errorf("first pull: fetched %d cached %d bytes %d, want 2 0 >0", p1.FetchedLayers, p1.CachedLayers, p1.FetchedBytes)
	}
	p2, err := Pull(ctx, st, ref2, Options{Platform: amd64})
	if err != nil {
		t.Fatal(err)
	}
	if p2.FetchedLayers != 1 || p2.CachedLayers != 2 {
		t.Errorf("second pull: fetched %d cached %d, want 1 2", p2.FetchedLayers, p2.CachedLayers)
	}
	if c := digestOf(t, c); reg.blobGets(c) != 1 || reg.blobGets(digestOf(t, a)) != 1 {
		t.Errorf("blob GETs: a %d, c %d; each layer should be downloaded once", reg.blobGets(digestOf(t, a)), reg.blobGets(c))
	}
	if n := len(layerEntries(t, st)); n != 3 {
		t.Errorf("%d layer entries, want 3 (shared layers stored once)", n)
	}
	again, err := Pull(ctx, st, ref2, Options{Platform: amd64})
	if err != nil {
		t.Fatal(err)
	}
	if again.FetchedBytes != 0 || again.Entry.Name != p2.Entry.Name {
		t.Errorf("warm pull fetched %d bytes, entry %s (was %s)", again.FetchedBytes, again.Entry.Name, p2.Entry.Name)
	}

	im, _, err := Lookup(st, ref2, *amd64)
	if err != nil {
		t.Fatal(err)
	}
	if im.Digest != p2.Image.Digest || len(im.Layers) != 3 || im.Config.Env[1] != "SILO_TEST=1" {
		t.Errorf("lookup: %+v", im)
	}
	for _, l := range im.Layers {
		e, err := st.Get(l.Entry)
		if err != nil || e.Kind != store.KindLayer || e.Annotations["oci.digest"] != l.Digest {
			t.Errorf("layer entry %s: %+v %v", l.Entry, e, err)
		}
	}
	list, err := List(st)
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %d images, %v; want 2", len(list), err)
	}
	if err := Remove(st, ref1, *amd64); err != nil {
		t.Fatal(err)
	}
	if err := Remove(st, ref1, *amd64); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second remove: %v, want ErrNotFound", err)
	}
	if list, _ := List(st); len(list) != 1 || list[0].Image.Ref != p2.Image.Ref {
		t.Errorf("after remove: %+v", list)
	}
}

func TestPullLocalSources(t *testing.T) {
	img := imageOf(t, "amd64", layerOf(t, "x", "local"), layerOf(t, "y", "source"))
	want, _ := img.Digest()
	dir := t.TempDir()

	lay := filepath.Join(dir, "layout")
	lp, err := layout.Write(lay, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "v1"})); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "image.tar")
	tag, _ := name.NewTag("example.com/x:v1")
	if err := tarball.WriteToFile(archive, tag, img); err != nil {
		t.Fatal(err)
	}
	ociArchive := filepath.Join(dir, "oci.tar")
	tarDir(t, lay, ociArchive)

	st := openStore(t)
	for _, c := range []struct {
		ref        string
		sameDigest bool
	}{
		{"oci-layout:" + lay + ":v1", true},
		{"oci-layout:" + lay, true},
		{"oci-archive:" + ociArchive, true},
		{"docker-archive:" + archive, false}, // re-encoded as a Docker manifest
	} {
		p, err := Pull(context.Background(), st, c.ref, Options{Platform: amd64})
		if err != nil {
			t.Errorf("%s: %v", c.ref, err)
			continue
		}
		if c.sameDigest && p.Image.Digest != want.String() {
			t.Errorf("%s: digest %s, want %s", c.ref, p.Image.Digest, want)
		}
		if len(p.Image.Layers) != 2 {
			t.Errorf("%s: %d layers", c.ref, len(p.Image.Layers))
		}
	}
	// The oci-archive was unpacked in the store's own space, and that
	// copy is gone.
	filepath.WalkDir(filepath.Join(st.Home(), "store", ".tmp"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), "oci-archive-") {
			t.Errorf("the unpacked oci-archive was left behind: %s", p)
		}
		return nil
	})
	if _, err := Pull(context.Background(), st, "oci-layout:"+lay+":nope", Options{Platform: amd64}); err == nil || !strings.Contains(err.Error(), `no image tagged "nope"`) {
		t.Errorf("missing tag: %v", err)
	}
}

// tarDir writes dir as a tar file (an oci-archive).
func tarDir(t testing.TB, dir, out string) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	defer tw.Close()
	if err := tw.AddFS(os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
}

func TestPullMultiArch(t *testing.T) {
	reg := startRegistry(t)
	amd, arm := imageOf(t, "amd64", layerOf(t, "arch", "amd64")), imageOf(t, "arm64", layerOf(t, "arch", "arm64"))
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	tag, _ := name.NewTag(reg.Host + "/multi:latest")
	if err := remote.WriteIndex(tag, idx); err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	for _, c := range []struct {
		arch string
		img  v1.Image
	}{{"amd64", amd}, {"arm64", arm}} {
		p, err := Pull(context.Background(), st, tag.String(), Options{Platform: &v1.Platform{OS: "linux", Architecture: c.arch}})
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := c.img.Digest(); p.Image.Digest != want.String() || p.Image.Platform != "linux/"+c.arch {
			t.Errorf("%s: got %s %s, want %s", c.arch, p.Image.Digest, p.Image.Platform, want)
		}
	}
	_, err := Pull(context.Background(), st, tag.String(), Options{Platform: &v1.Platform{OS: "linux", Architecture: "riscv64"}})
	if err == nil {
		t.Error("pulling a platform the index lacks succeeded")
	}
	single := reg.push(t, "armonly", arm)
	if _, err := Pull(context.Background(), st, single, Options{Platform: amd64}); err == nil || !strings.Contains(err.Error(), "linux/arm64, not linux/amd64") {
		t.Errorf("arm64-only image pulled for amd64: %v", err)
	}
}

// assertClean checks that a failed pull left nothing behind: no entry for
// the broken blob, no resolution for ref, and a store that verifies.
func assertClean(t *testing.T, st *store.Store, ref, badDigest string) {
	t.Helper()
	for _, e := range layerEntries(t, st) {
		if e.Annotations["oci.digest"] == badDigest {
			t.Errorf("the broken blob %s was committed as %s", badDigest, e.Name)
		}
	}
	if _, err := st.Realisation(blobKey(badDigest)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("realisation for the broken blob: %v", err)
	}
	if _, _, err := Lookup(st, ref, *amd64); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the failed pull recorded a resolution: %v", err)
	}
	rep, err := st.Verify(nil, false)
	if err != nil || !rep.OK() {
		t.Errorf("store does not verify after a failed pull: %+v %v", rep, err)
	}
	filepath.WalkDir(filepath.Join(st.Dir(), ".tmp"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("left in .tmp: %s", p)
		}
		return nil
	})
}

func TestPullFaults(t *testing.T) {
	for _, c := range []struct {
		mode, want string
		attempts   int
	}{
		{"corrupt", "checksum", 1}, // go-containerregistry verifies remote blobs too
		{"missing", "BLOB_UNKNOWN", 1},
		{"drop", "connection reset by peer", 1},
	} {
		t.Run(c.mode, func(t *testing.T) {
			reg := startRegistry(t)
			bad := layerOf(t, "big", strings.Repeat("silo ", 50000))
			ref := reg.push(t, "faulty", imageOf(t, "amd64", bad))
			st := openStore(t)
			reg.set(digestOf(t, bad), &fault{mode: c.mode})
			_, err := Pull(context.Background(), st, ref, Options{Platform: amd64, Attempts: c.attempts})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("pull through a %s fault: %v, want an error saying %q", c.mode, err, c.want)
			}
			assertClean(t, st, ref, digestOf(t, bad))
			reg.set(digestOf(t, bad), nil)
			if _, err := Pull(context.Background(), st, ref, Options{Platform: amd64}); err != nil {
				t.Fatalf("retry after the fault: %v", err)
			}
		})
	}
}

// TestPullRetriesADroppedConnection: a registry that drops the connection
// half way once costs one more request, not the pull.
func TestPullRetriesADroppedConnection(t *testing.T) {
	reg := startRegistry(t)
	l := layerOf(t, "big", strings.Repeat("retry ", 50000))
	ref := reg.push(t, "drop", imageOf(t, "amd64", l))
	reg.set(digestOf(t, l), &fault{mode: "drop", times: 1})
	st := openStore(t)
	p, err := Pull(context.Background(), st, ref, Options{Platform: amd64})
	if err != nil {
		t.Fatal(err)
	}
	if n := reg.blobGets(digestOf(t, l)); n != 2 {
		t.Errorf("%d blob requests, want 2 (one dropped, one retried)", n)
	}
	if p.FetchedLayers != 1 {
		t.Errorf("fetched %d layers", p.FetchedLayers)
	}
}

// TestPullBrokenLayout: an OCI layout whose blob is corrupt on disk, or
// missing, fails with a clear error and commits nothing.
func TestPullBrokenLayout(t *testing.T) {
	for _, c := range []struct {
		name, want string
		breakIt    func(p string) error
	}{
		{"corrupt", "does not match its digest", func(p string) error {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b[len(b)/2] ^= 0xff
			return os.WriteFile(p, b, 0o644)
		}},
		{"missing", "no such file", os.Remove},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := layerOf(t, "f", strings.Repeat("layout ", 1000))
			lay := t.TempDir()
			lp, _ := layout.Write(lay, empty.Index)
			if err := lp.AppendImage(imageOf(t, "amd64", l)); err != nil {
				t.Fatal(err)
			}
			d, _ := l.Digest()
			if err := c.breakIt(filepath.Join(lay, "blobs", d.Algorithm, d.Hex)); err != nil {
				t.Fatal(err)
			}
			st := openStore(t)
			ref := "oci-layout:" + lay
			_, err := Pull(context.Background(), st, ref, Options{Platform: amd64})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("pull: %v, want an error saying %q", err, c.want)
			}
			assertClean(t, st, ref, d.String())
		})
	}
}

func TestVerifyReader(t *testing.T) {
	data := "hello"
	good := "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
	for _, c := range []struct {
		name, dgst string
		size       int64
		ok         bool
	}{
		{"good", good, 5, true},
		{"unknown size", good, -1, true},
		{"wrong digest", "sha256:" + strings.Repeat("0", 64), 5, false},
		{"short", good, 6, false},
		{"long", good, 4, false},
	} {
		vr, err := newVerifyReader(strings.NewReader(data), c.dgst, c.size, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(vr)
		if (err == nil) != c.ok {
			t.Errorf("%s: err %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

// TestRemoveThenGC: once every image naming a layer is removed, GC frees
// the layer and forgets its realisation; a layer still named survives.
func TestRemoveThenGC(t *testing.T) {
	reg := startRegistry(t)
	shared, only := layerOf(t, "s", "shared"), layerOf(t, "o", "only one")
	ref1 := reg.push(t, "gc1", imageOf(t, "amd64", shared, only))
	ref2 := reg.push(t, "gc2", imageOf(t, "amd64", shared))
	home := t.TempDir()
	st, err := store.Open(home)
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{ref1, ref2} {
		if _, err := Pull(context.Background(), st, ref, Options{Platform: amd64}); err != nil {
			t.Fatal(err)
		}
	}
	if err := Remove(st, ref1, *amd64); err != nil {
		t.Fatal(err)
	}
	st.Close() // drop this handle's temporary root
	st, err = store.Open(home)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.GC(store.GCOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Realisation(blobKey(digestOf(t, only))); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the removed image's own layer survived GC: %v", err)
	}
	if _, err := st.Realisation(blobKey(digestOf(t, shared))); err != nil {
		t.Errorf("the layer gc2 still names was collected: %v", err)
	}
	if _, _, err := Lookup(st, ref1, *amd64); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("removed image still resolves after GC: %v", err)
	}
	if _, _, err := Lookup(st, ref2, *amd64); err != nil {
		t.Errorf("kept image: %v", err)
	}
}

// TestListDoesNotCountAsUse checks that listing images leaves their last
// use alone: the cache evicts by last use, and `silo image ls` is not one.
func TestListDoesNotCountAsUse(t *testing.T) {
	reg := startRegistry(t)
	ref := reg.push(t, "ls", imageOf(t, "amd64", layerOf(t, "a", "listed")))
	st := openStore(t)
	p, err := Pull(context.Background(), st, ref, Options{Platform: amd64})
	if err != nil {
		t.Fatal(err)
	}
	before, err := st.Get(p.Entry.Name)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // the last use is the metadata file's mtime
	listed, err := List(st)
	if err != nil || len(listed) != 1 {
		t.Fatalf("List = %v, %v", listed, err)
	}
	after, err := st.Get(p.Entry.Name)
	if err != nil {
		t.Fatal(err)
	}
	if !after.LastUsed.Equal(before.LastUsed) {
		t.Errorf("List moved the image's last use from %v to %v", before.LastUsed, after.LastUsed)
	}
}
