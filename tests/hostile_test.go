package tests

// A hostile registry: a real OCI registry (go-containerregistry's
// pkg/registry) on loopback behind a handler that misbehaves for the
// repositories a test names, the way a registry a cloned project points at
// may: oversized manifests and configs, transfers that trickle, error
// messages and image fields full of terminal escapes.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// hostileRegistry is the registry and what it served.
type hostileRegistry struct {
	host  string
	inner http.Handler
	mu    sync.Mutex
	bad   map[string]http.HandlerFunc // repository → its misbehaviour
	hits  map[string]int              // "METHOD path" → requests
	sent  map[string]int64            // path → body bytes written
}

// startHostileRegistry serves the registry on 127.0.0.1 until the test ends.
func startHostileRegistry(t testing.TB) *hostileRegistry {
	t.Helper()
	h := &hostileRegistry{
		inner: registry.New(registry.Logger(log.New(io.Discard, "", 0))),
		bad:   map[string]http.HandlerFunc{}, hits: map[string]int{}, sent: map[string]int64{},
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	h.host = strings.TrimPrefix(srv.URL, "http://")
	return h
}

// misbehave makes GET and HEAD requests for repo go to f; pushes still
// reach the real registry.
func (h *hostileRegistry) misbehave(repo string, f http.HandlerFunc) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.bad[repo] = f
}

func (h *hostileRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.hits[r.Method+" "+r.URL.Path]++
	var f http.HandlerFunc
	for repo, bf := range h.bad {
		if strings.HasPrefix(r.URL.Path, "/v2/"+repo+"/") && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			f = bf
		}
	}
	h.mu.Unlock()
	if f == nil {
		h.inner.ServeHTTP(w, r)
		return
	}
	f(w, r)
}

// count returns how many METHOD requests for path the registry had.
func (h *hostileRegistry) count(method, path string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hits[method+" "+path]
}

// sentTo returns how many body bytes the registry wrote for path.
func (h *hostileRegistry) sentTo(path string) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sent[path]
}

// stream writes n bytes of b (repeated) for r, flushing as it goes, and
// stops when the client leaves.
func (h *hostileRegistry) stream(w http.ResponseWriter, r *http.Request, b []byte, n int64) {
	for n > 0 {
		chunk := b[:min(int64(len(b)), n)]
		m, err := w.Write(chunk)
		h.mu.Lock()
		h.sent[r.URL.Path] += int64(m)
		h.mu.Unlock()
		if err != nil {
			return
		}
		w.(http.Flusher).Flush()
		n -= int64(m)
	}
}

// trickle sends one byte every 100 ms until the client leaves.
func (h *hostileRegistry) trickle(w http.ResponseWriter, r *http.Request) {
	w.(http.Flusher).Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
		if _, err := w.Write([]byte(" ")); err != nil {
			return
		}
		w.(http.Flusher).Flush()
	}
}

// passManifest serves the real manifest of r's repository, changed by edit.
func (h *hostileRegistry) passManifest(w http.ResponseWriter, r *http.Request, edit func(m map[string]any)) {
	rec := httptest.NewRecorder()
	h.inner.ServeHTTP(rec, r)
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	edit(m)
	b, _ := json.Marshal(m)
	w.Header().Set("Content-Type", rec.Header().Get("Content-Type"))
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	if r.Method == http.MethodGet {
		w.Write(b)
	}
}

// siloGuarded is silo with SIGKILL after limit, so that a test of a hang
// fails instead of hanging; it reports whether it had to kill.
func siloGuarded(t testing.TB, limit time.Duration, home string, env []string, args ...string) (result, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, siloBin, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(append(os.Environ(), "SILO_HOME="+home), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{Stdout: stdout.String(), Stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.Code = ee.ExitCode()
	}
	return res, ctx.Err() != nil
}

// TestRegistryOversizedBlobs: manifests over 4 MiB and configs over 64 MiB
// are refused by name before they are read (their declared size), and cut
// off at the bound when the registry sends more than it declares.
func TestRegistryOversizedBlobs(t *testing.T) {
	h := startHostileRegistry(t)
	pushImage(t, h.host, "bigconfig", busyboxImage(t))
	const sixGiB = 6 << 30
	var configPath string
	h.misbehave("bigconfig", func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/blobs/") && r.URL.Path == configPath {
			w.Header().Set("Content-Length", fmt.Sprint(int64(sixGiB)))
			h.stream(w, r, make([]byte, 1<<20), 80<<20) // then hang up: no test needs 6 GiB
			return
		}
		if !strings.Contains(r.URL.Path, "/manifests/") {
			h.inner.ServeHTTP(w, r)
			return
		}
		h.passManifest(w, r, func(m map[string]any) {
			cfg := m["config"].(map[string]any)
			cfg["size"] = sixGiB
			configPath = "/v2/bigconfig/blobs/" + cfg["digest"].(string)
		})
	})
	pad := make([]byte, 1<<20)
	for i := range pad {
		pad[i] = ' '
	}
	manifest := func(declare bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			if declare {
				w.Header().Set("Content-Length", fmt.Sprint(5<<20))
			}
			h.stream(w, r, pad, 5<<20)
		}
	}
	h.misbehave("bigmanifest", manifest(true))
	h.misbehave("liarmanifest", manifest(false)) // chunked: no size declared

	home := t.TempDir()
	for _, c := range []struct{ repo, want string }{
		{"bigconfig", "the image config sha256:"},
		{"bigmanifest", "the manifest " + h.host + "/v2/bigmanifest/manifests/latest is 5242880 bytes"},
		{"liarmanifest", "the manifest " + h.host + "/v2/liarmanifest/manifests/latest is more than 4 MiB"},
	} {
		r, killed := siloGuarded(t, 5*time.Minute, home, nil, "image", "pull", h.host+"/"+c.repo+":latest")
		if killed || r.Code == 0 || !strings.Contains(r.Stderr, c.want) || !strings.Contains(r.Stderr, "larger than any real image") {
			t.Errorf("pull %s: killed %v, exit %d, stderr %q; want it refused: %q", c.repo, killed, r.Code, r.Stderr, c.want)
		}
	}
	if n := h.count(http.MethodGet, configPath); n != 0 {
		t.Errorf("the 6 GiB config was requested %d times, %d bytes sent; want it refused before", n, h.sentTo(configPath))
	}
}

// TestRegistryIdleTransfers: a manifest or a layer that trickles is tried
// twice, then the pull fails naming the registry; image pull and silo run
// alike. Ctrl-C stops a pull that waits on a stuck registry.
func TestRegistryIdleTransfers(t *testing.T) {
	h := startHostileRegistry(t)
	img := busyboxImage(t)
	pushImage(t, h.host, "tricklelayer", img)
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	layerPath := "/v2/tricklelayer/blobs/" + ld.String()
	h.misbehave("tricklelayer", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == layerPath {
			h.trickle(w, r)
			return
		}
		h.inner.ServeHTTP(w, r)
	})
	h.misbehave("tricklemanifest", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		h.trickle(w, r)
	})
	env := []string{"SILO_REGISTRY_IDLE_TIMEOUT=1s"}
	home := t.TempDir()
	manifestPath := "/v2/tricklemanifest/manifests/latest"
	for _, c := range []struct {
		args []string
		path string
	}{
		{[]string{"image", "pull", h.host + "/tricklemanifest:latest"}, manifestPath},
		{[]string{"image", "pull", h.host + "/tricklelayer:latest"}, layerPath},
		{[]string{"--backend", "namespace", "exec", "--image", h.host + "/tricklemanifest:latest", "true"}, manifestPath},
	} {
		before := h.count(http.MethodGet, c.path)
		r, killed := siloGuarded(t, time.Minute, home, env, c.args...)
		want := "registry " + h.host + " sent less than 1024 bytes in 1s while serving " + c.path
		if killed || r.Code == 0 || !strings.Contains(r.Stderr, want) {
			t.Errorf("silo %v: killed %v, exit %d, stderr %q; want %q", c.args, killed, r.Code, r.Stderr, want)
		}
		if n := h.count(http.MethodGet, c.path) - before; n != 2 {
			t.Errorf("silo %v: %s requested %d times, want 2 (retried once)", c.args, c.path, n)
		}
	}

	// Ctrl-C while the registry trickles (with the idle timeout far away).
	cmd := exec.Command(siloBin, "image", "pull", h.host+"/tricklemanifest:latest")
	cmd.Env = append(os.Environ(), "SILO_HOME="+home, "SILO_REGISTRY_IDLE_TIMEOUT=1h")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	before := h.count(http.MethodGet, manifestPath)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for h.count(http.MethodGet, manifestPath) == before {
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(stderr.String(), "interrupt") {
			t.Errorf("pull after Ctrl-C: %v, stderr %q", err, stderr.String())
		}
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Errorf("pull still running two minutes after Ctrl-C")
	}
}

// TestRegistryTextEscaped: what a registry or an image says reaches the
// terminal with its control characters escaped: a registry's error
// message, an image's architecture in image pull and silo run errors, and
// its labels in image inspect. None of them may set the window title, clear
// the screen or start a line that passes for silo's.
func TestRegistryTextEscaped(t *testing.T) {
	h := startHostileRegistry(t)
	const evil = "\x1b]0;pwned\x07\x1b[2J\u009b2J\u202e\nsilo: forged line"
	h.misbehave("evilerror", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]string{"code": "MANIFEST_UNKNOWN", "message": evil}}})
	})
	img := busyboxImage(t)
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.Architecture = "amd64" + evil
	pushImage(t, h.host, "evilarch", mustConfig(t, img, cf))
	cf = cf.DeepCopy()
	cf.Architecture = "amd64"
	cf.Config.Labels = map[string]string{"title": evil}
	pushImage(t, h.host, "evillabels", mustConfig(t, img, cf))

	home := t.TempDir()
	clean := func(what, out string) {
		t.Helper()
		for _, bad := range []string{"\x1b", "\x07", "\u009b", "\u202e", "\nsilo: forged"} {
			if strings.Contains(out, bad) {
				t.Errorf("%s printed %q raw:\n%q", what, bad, out)
			}
		}
	}
	for _, args := range [][]string{
		{"image", "pull", h.host + "/evilerror:latest"},
		{"image", "pull", h.host + "/evilarch:latest"},
		{"--backend", "namespace", "exec", "--image", h.host + "/evilarch:latest", "true"},
	} {
		r := silo(t, home, t.TempDir(), nil, nil, args...)
		if r.Code == 0 || !strings.Contains(r.Stderr, `\x1b]0;pwned\x07`) {
			t.Errorf("silo %v: exit %d, stderr %q; want the registry's text, escaped", args, r.Code, r.Stderr)
		}
		clean(fmt.Sprint(args), r.Stdout+r.Stderr)
	}
	siloPull(t, home, h.host+"/evillabels:latest")
	r := silo(t, home, t.TempDir(), nil, nil, "image", "inspect", h.host+"/evillabels:latest")
	var ins struct {
		Config struct{ Labels map[string]string } `json:"config"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &ins); err != nil || ins.Config.Labels["title"] != evil {
		t.Errorf("image inspect: %v; labels %q: the JSON must still decode to the label", err, ins.Config.Labels)
	}
	clean("image inspect", r.Stdout+r.Stderr)
}

// mustConfig is img with the config cf.
func mustConfig(t testing.TB, img v1.Image, cf *v1.ConfigFile) v1.Image {
	t.Helper()
	img, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
