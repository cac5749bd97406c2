package oci

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/silo-dev/silo/store"
)

// layerOf makes a gzip layer holding files (path → contents).
func layerOf(t testing.TB, files ...string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i+1 < len(files); i += 2 {
		tw.WriteHeader(&tar.Header{Name: files[i], Mode: 0o644, Size: int64(len(files[i+1])), ModTime: time.Unix(1e9, 0)})
		io.WriteString(tw, files[i+1])
	}
	tw.Close()
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// imageOf makes an image of layers for os/arch.
func imageOf(t testing.TB, arch string, layers ...v1.Layer) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img, err := mutate.AppendLayers(img, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.Env = []string{"PATH=/bin", "SILO_TEST=1"}
	cf.Config.Cmd = []string{"/bin/sh"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// fault is what the faulty proxy does to one blob.
type fault struct {
	mode  string // "drop": cut the connection half way; "corrupt": flip a byte; "missing": 404
	times int    // how many requests it hits; 0 = all
}

// faultyRegistry is a real registry behind a reverse proxy that can break
// blob downloads on purpose.
type faultyRegistry struct {
	Host   string
	mu     sync.Mutex
	faults map[string]*fault // by digest
	hits   map[string]int    // blob GETs by digest
}

func startRegistry(t testing.TB) *faultyRegistry {
	t.Helper()
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	u, _ := url.Parse(reg.URL)
	fr := &faultyRegistry{faults: map[string]*fault{}, hits: map[string]int{}}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ErrorLog = log.New(io.Discard, "", 0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fr.serve(w, r, proxy)
	}))
	t.Cleanup(srv.Close)
	fr.Host = strings.TrimPrefix(srv.URL, "http://")
	return fr
}

func (fr *faultyRegistry) set(dgst string, f *fault) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if f == nil {
		delete(fr.faults, dgst)
	} else {
		fr.faults[dgst] = f
	}
}

func (fr *faultyRegistry) blobGets(dgst string) int {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	return fr.hits[dgst]
}

func (fr *faultyRegistry) serve(w http.ResponseWriter, r *http.Request, proxy http.Handler) {
	var f *fault
	if i := strings.Index(r.URL.Path, "/blobs/"); i >= 0 && r.Method == http.MethodGet {
		d := r.URL.Path[i+len("/blobs/"):]
		fr.mu.Lock()
		fr.hits[d]++
		if f = fr.faults[d]; f != nil && f.times > 0 {
			if f.times--; f.times == 0 {
				delete(fr.faults, d)
			}
		}
		fr.mu.Unlock()
	}
	if f == nil {
		proxy.ServeHTTP(w, r)
		return
	}
	if f.mode == "missing" {
		http.Error(w, `{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}`, http.StatusNotFound)
		return
	}
	rec := httptest.NewRecorder()
	proxy.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	switch f.mode {
	case "corrupt":
		body = append([]byte(nil), body...)
		body[len(body)/2] ^= 0xff
		w.WriteHeader(rec.Code)
		w.Write(body)
	case "drop":
		w.WriteHeader(rec.Code)
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		}
	}
}

// push pushes img as repo:latest and returns host/repo:latest.
func (fr *faultyRegistry) push(t testing.TB, repo string, img v1.Image) string {
	t.Helper()
	ref := fr.Host + "/" + repo + ":latest"
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return ref
}

// openStore opens a store in a fresh home.
func openStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// layerEntries lists the store's layer entries.
func layerEntries(t testing.TB, st *store.Store) []*store.Entry {
	t.Helper()
	es, err := st.List(store.Filter{Kind: store.KindLayer})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// digestOf is a layer's digest as a string.
func digestOf(t testing.TB, l v1.Layer) string {
	t.Helper()
	d, err := l.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}
