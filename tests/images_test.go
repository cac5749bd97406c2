package tests

// End-to-end tests of `silo image`: real registries on loopback (the
// in-process go-containerregistry one and Debian's docker-registry as its
// own process), the built binary, and the assembled ext4 image read back
// with e2fsprogs' debugfs.

import (
	"archive/tar"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// pullJSON is the part of `silo image pull --json` the tests read.
type pullJSON struct {
	Ref           string `json:"ref"`
	Digest        string `json:"digest"`
	FetchedLayers int    `json:"fetchedLayers"`
	CachedLayers  int    `json:"cachedLayers"`
	FetchedBytes  int64  `json:"fetchedBytes"`
	Ext4          string `json:"ext4"`
	Dir           string `json:"dir"`
}

// siloPull runs `silo image pull --json ARGS` and decodes its output.
func siloPull(t testing.TB, home string, args ...string) (pullJSON, result) {
	t.Helper()
	res := silo(t, home, t.TempDir(), nil, nil, append([]string{"image", "pull", "--json"}, args...)...)
	var out pullJSON
	if res.Code != 0 {
		t.Fatalf("silo image pull %v: exit %d\n%s", args, res.Code, res.Stderr)
	}
	if err := json.Unmarshal([]byte(res.Stdout), &out); err != nil {
		t.Fatalf("silo image pull --json printed %q: %v", res.Stdout, err)
	}
	return out, res
}

// debugfsStat runs `debugfs -R "stat PATH"` on an ext4 image.
func debugfsStat(t testing.TB, img, path string) string {
	t.Helper()
	out, err := exec.Command("debugfs", "-R", "stat "+path, img).CombinedOutput()
	if err != nil {
		t.Fatalf("debugfs stat %s: %v\n%s", path, err, out)
	}
	return string(out)
}

// overlayImage is busybox plus a layer that deletes, hides, links and
// re-owns things.
func overlayImage(t testing.TB) v1.Image {
	base := busyboxEntries(t)
	extra := []tarEntry{
		{Name: "etc/motd", Body: []byte("first\n")},
		{Name: "opt/", Type: tar.TypeDir},
		{Name: "opt/old/", Type: tar.TypeDir},
		{Name: "opt/old/a", Body: []byte("a")},
		{Name: "srv/", Type: tar.TypeDir, Mode: 0o750, UID: 1000, GID: 1000},
	}
	top := []tarEntry{
		{Name: "etc/.wh.motd"},
		{Name: "opt/old/.wh..wh..opq"},
		{Name: "opt/old/b", Body: []byte("b")},
		{Name: "bin/ping", Mode: 0o4755, Body: []byte("#!/bin/sh\n")},
		{Name: "bin/ping6", Type: tar.TypeLink, Linkname: "bin/ping"},
		{Name: "srv/data", Mode: 0o640, UID: 1000, GID: 1000, Body: []byte("owned")},
	}
	return imageFromLayers(t, tarLayer(t, base), tarLayer(t, extra), tarLayer(t, top))
}

func TestImagePullAssembleAndManage(t *testing.T) {
	host := startRegistry(t)
	ref := pushImage(t, host, "e2e/overlay", overlayImage(t))
	home := t.TempDir()

	out, res := siloPull(t, home, "--rootfs", "--dir", ref)
	if out.FetchedLayers != 3 || out.CachedLayers != 0 || out.Ext4 == "" || out.Dir == "" {
		t.Fatalf("cold pull: %+v", out)
	}
	if n := strings.Count(res.Stderr, "layer "); n != 3 {
		t.Errorf("progress when piped: want one line per layer, got:\n%s", res.Stderr)
	}
	if out, err := exec.Command("e2fsck", "-fn", out.Ext4).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck: %v\n%s", err, out)
	}
	checks := []struct{ path, want string }{
		{"/bin/busybox", "Mode:  0755"},
		{"/bin/sh", "Type: symlink"},
		{"/tmp", "Mode:  01777"},
		{"/home/user", "User:  1000   Group:  1000"},
		{"/bin/ping", "Mode:  04755"},
		{"/bin/ping6", "Links: 2"},
		{"/srv/data", "User:  1000   Group:  1000   Size: 5"},
		{"/opt/old/b", "Type: regular"},
		{"/etc/motd", "File not found"},
		{"/opt/old/a", "File not found"},
	}
	for _, c := range checks {
		if s := debugfsStat(t, out.Ext4, c.path); !strings.Contains(s, c.want) {
			t.Errorf("%s in the ext4 image: want %q in\n%s", c.path, c.want, s)
		}
	}
	if _, err := os.Lstat(filepath.Join(out.Dir, "etc/motd")); !os.IsNotExist(err) {
		t.Errorf("whiteout ignored in the directory form: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(out.Dir, "tmp")); err != nil || fi.Mode()&os.ModeSticky == 0 {
		t.Errorf("/tmp in the directory form: %v %v", fi, err)
	}

	warm, res := siloPull(t, home, "--rootfs", ref)
	if warm.FetchedBytes != 0 || warm.CachedLayers != 3 || warm.Ext4 != out.Ext4 {
		t.Errorf("warm pull: %+v (cold %+v)", warm, out)
	}
	if !strings.Contains(res.Stderr, "already in the store") {
		t.Errorf("warm pull progress: %s", res.Stderr)
	}
	if r := silo(t, home, t.TempDir(), nil, nil, "-q", "image", "pull", ref); r.Code != 0 || r.Stderr != "" || r.Stdout != "" {
		t.Errorf("--quiet pull printed: %+v", r)
	}

	ls := silo(t, home, t.TempDir(), nil, nil, "image", "ls", "--json")
	var listed []struct {
		Image struct{ Ref, Digest string } `json:"image"`
	}
	if err := json.Unmarshal([]byte(ls.Stdout), &listed); err != nil || len(listed) != 1 || listed[0].Image.Digest != out.Digest {
		t.Fatalf("image ls --json: %v %s", err, ls.Stdout)
	}
	ins := silo(t, home, t.TempDir(), nil, nil, "image", "inspect", ref)
	if ins.Code != 0 || !strings.Contains(ins.Stdout, "PATH="+defaultPath) || !strings.Contains(ins.Stdout, out.Digest) {
		t.Errorf("image inspect: %+v", ins)
	}
	if r := silo(t, home, t.TempDir(), nil, nil, "image", "rm", ref); r.Code != 0 {
		t.Fatalf("image rm: %+v", r)
	}
	if r := silo(t, home, t.TempDir(), nil, nil, "image", "ls"); strings.Contains(r.Stdout, "e2e/overlay") {
		t.Errorf("image still listed after rm:\n%s", r.Stdout)
	}
	if r := silo(t, home, t.TempDir(), nil, nil, "image", "rm", ref); r.Code == 0 || !strings.Contains(r.Stderr, "not pulled") {
		t.Errorf("second rm: %+v", r)
	}
}

func TestImagePullOCILayout(t *testing.T) {
	img := busyboxImage(t)
	dir := ociLayout(t, img)
	home := t.TempDir()
	out, _ := siloPull(t, home, "--rootfs", "oci-layout:"+dir)
	if d, _ := img.Digest(); out.Digest != d.String() {
		t.Errorf("digest %s, want %s", out.Digest, d)
	}
	if s := debugfsStat(t, out.Ext4, "/bin/cat"); !strings.Contains(s, `Fast link dest: "busybox"`) {
		t.Errorf("/bin/cat:\n%s", s)
	}
}

func TestImagePullErrors(t *testing.T) {
	home := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"image", "pull", "oci-layout:" + filepath.Join(home, "missing")}, "open OCI layout"},
		{[]string{"image", "pull", "--platform", "linux", "busybox"}, "want OS/ARCH"},
		{[]string{"image", "pull", "UPPER/Case::bad"}, "parse image reference"},
		{[]string{"image", "rm", "never/pulled"}, "not pulled"},
		{[]string{"image", "inspect", "never/pulled"}, "silo image pull never/pulled"},
	} {
		r := silo(t, home, t.TempDir(), nil, nil, c.args...)
		if r.Code == 0 || !strings.Contains(r.Stderr, c.want) {
			t.Errorf("silo %v: exit %d, stderr %q; want an error saying %q", c.args, r.Code, r.Stderr, c.want)
		}
	}
}

// startDockerRegistry runs Debian's docker-registry (distribution 2.x) as
// its own process on 127.0.0.1 and returns its address.
func startDockerRegistry(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Skip("docker-registry is not installed (Debian package docker-registry; .ci/run installs it)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), addr)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve", cfgPath)
	logf, _ := os.Create(filepath.Join(dir, "log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start docker-registry: %v", err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait(); logf.Close() })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "log"))
	t.Fatalf("docker-registry did not come up on %s:\n%s", addr, b)
	return ""
}

func TestImagePullFromDockerRegistry(t *testing.T) {
	addr := startDockerRegistry(t)
	img := overlayImage(t)
	ref := pushImage(t, addr, "debian/overlay", img)
	home := t.TempDir()
	out, _ := siloPull(t, home, "--rootfs", ref)
	if d, _ := img.Digest(); out.Digest != d.String() || out.FetchedLayers != 3 {
		t.Errorf("pull from docker-registry: %+v, want digest %s", out, d)
	}
	if s := debugfsStat(t, out.Ext4, "/etc/motd"); !strings.Contains(s, "File not found") {
		t.Errorf("whiteout not applied:\n%s", s)
	}
	// The same image by tag shares every layer with the pull by digest.
	tagged, _ := siloPull(t, home, strings.SplitN(ref, "@", 2)[0]+":latest")
	if tagged.FetchedBytes != 0 || tagged.CachedLayers != 3 {
		t.Errorf("pull by tag after pull by digest: %+v", tagged)
	}
}

// benchImage is a ~100 MB (compressed), 5-layer image: in each layer one
// 16 MiB file of incompressible bytes and 256 small files.
func benchImage(b *testing.B) v1.Image {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	var layers []v1.Layer
	for i := range 5 {
		big := make([]byte, 16<<20)
		for j := 0; j+8 <= len(big); j += 8 {
			binary.LittleEndian.PutUint64(big[j:], rng.Uint64())
		}
		entries := []tarEntry{
			{Name: fmt.Sprintf("layer%d/", i), Type: tar.TypeDir},
			{Name: fmt.Sprintf("layer%d/blob", i), Body: big},
		}
		for j := range 256 {
			small := make([]byte, 4096+rng.IntN(16384))
			for k := range small {
				small[k] = byte('a' + rng.IntN(8))
			}
			entries = append(entries, tarEntry{Name: fmt.Sprintf("layer%d/f%03d", i, j), Body: small})
		}
		layers = append(layers, tarLayer(b, entries))
	}
	return imageFromLayers(b, layers...)
}

// BenchmarkImagePull pulls (and assembles) the ~100 MB, 5-layer image from
// the loopback registry, cold and warm. Beside it, in the same run,
// skopeo copies the same image into an OCI layout: the two alternate,
// three rounds each, so that load from other processes hits both alike;
// the medians and their ratio are reported.
func BenchmarkImagePull(b *testing.B) {
	img := benchImage(b)
	host := startRegistry(b)
	ref := pushImage(b, host, "bench/big", img)
	var total int64
	layers, _ := img.Layers()
	for _, l := range layers {
		n, _ := l.Size()
		total += n
	}
	tag := host + "/bench/big:latest"
	pull := func(b *testing.B, home string, args ...string) pullJSON {
		out, _ := siloPull(b, home, append(args, ref)...)
		return out
	}
	timed := func(f func()) float64 {
		start := time.Now()
		f()
		return time.Since(start).Seconds()
	}
	b.Run("cold-pull-vs-skopeo", func(b *testing.B) {
		if _, err := exec.LookPath("skopeo"); err != nil {
			b.Skip("skopeo is not installed (Debian package skopeo)")
		}
		var siloS, skopeoS []float64
		for b.Loop() {
			for range 3 {
				dir, home := b.TempDir(), b.TempDir()
				skopeoS = append(skopeoS, timed(func() {
					out, err := exec.Command("skopeo", "copy", "-q", "--insecure-policy", "--src-tls-verify=false",
						"docker://"+tag, "oci:"+filepath.Join(dir, "oci")+":latest").CombinedOutput()
					if err != nil {
						b.Fatalf("skopeo copy: %v\n%s", err, out)
					}
				}))
				siloS = append(siloS, timed(func() { pull(b, home) }))
			}
		}
		sm, km := median(siloS), median(skopeoS)
		b.ReportMetric(sm, "silo-pull-s")
		b.ReportMetric(km, "skopeo-copy-s")
		b.ReportMetric(sm/km, "silo/skopeo")
		b.ReportMetric(float64(total)/1e6/sm, "silo-MB/s")
	})
	b.Run("cold-pull+assemble-ext4", func(b *testing.B) {
		b.SetBytes(total)
		for b.Loop() {
			b.StopTimer()
			home := b.TempDir()
			b.StartTimer()
			pull(b, home, "--rootfs")
		}
	})
	b.Run("cold-pull+unpack-dir", func(b *testing.B) {
		b.SetBytes(total)
		for b.Loop() {
			b.StopTimer()
			home := b.TempDir()
			b.StartTimer()
			pull(b, home, "--dir")
		}
	})
	b.Run("warm-pull+assemble-ext4", func(b *testing.B) {
		home := b.TempDir()
		pull(b, home, "--rootfs")
		var fetched int64
		for b.Loop() {
			fetched += pull(b, home, "--rootfs").FetchedBytes
		}
		b.ReportMetric(float64(fetched), "layer-bytes-fetched")
	})
}

// median of xs (which it sorts).
func median(xs []float64) float64 {
	sort.Float64s(xs)
	return xs[len(xs)/2]
}

// TestImagePullConcurrent: two silo processes pulling and assembling the
// same image at once both succeed, with the same entries.
func TestImagePullConcurrent(t *testing.T) {
	host := startRegistry(t)
	ref := pushImage(t, host, "e2e/concurrent", overlayImage(t))
	home := t.TempDir()
	type got struct {
		out pullJSON
		res result
	}
	ch := make(chan got, 2)
	for range 2 {
		go func() {
			res := silo(t, home, t.TempDir(), nil, nil, "image", "pull", "--json", "--rootfs", ref)
			var out pullJSON
			json.Unmarshal([]byte(res.Stdout), &out)
			ch <- got{out, res}
		}()
	}
	a, b := <-ch, <-ch
	for _, g := range []got{a, b} {
		if g.res.Code != 0 {
			t.Fatalf("concurrent pull failed: %d\n%s", g.res.Code, g.res.Stderr)
		}
	}
	if a.out.Ext4 == "" || a.out.Ext4 != b.out.Ext4 || a.out.Digest != b.out.Digest {
		t.Errorf("concurrent pulls disagree: %+v vs %+v", a.out, b.out)
	}
	if out, err := exec.Command("e2fsck", "-fn", a.out.Ext4).CombinedOutput(); err != nil {
		t.Errorf("e2fsck after concurrent assembly: %v\n%s", err, out)
	}
}

// TestImagePullUnprivileged runs pull + assembly as an ordinary user
// (uid 65534): the ext4 image must still carry the layers' owners and
// setuid bits, and the directory form must belong to that user.
func TestImagePullUnprivileged(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to switch to an unprivileged uid")
	}
	host := startRegistry(t)
	ref := pushImage(t, host, "e2e/unpriv", overlayImage(t))
	dir, err := os.MkdirTemp("", "silo-unpriv-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "silo")
	data, err := os.ReadFile(siloBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	for _, p := range []string{home} {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chown(p, 65534, 65534)
	}
	os.Chmod(dir, 0o755)
	pull := func(form string) (pullJSON, string, error) {
		cmd := exec.Command(bin, "image", "pull", "--json", form, ref)
		cmd.Dir = home
		cmd.Env = append(os.Environ(), "SILO_HOME="+home, "HOME="+home)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdout, err := cmd.Output()
		var out pullJSON
		if err == nil {
			err = json.Unmarshal(stdout, &out)
		}
		return out, stderr.String(), err
	}
	out, stderr, err := pull("--rootfs")
	if err != nil {
		t.Fatalf("silo image pull --rootfs as uid 65534: %v\n%s", err, stderr)
	}
	for _, c := range []struct{ path, want string }{
		{"/bin/ping", "Mode:  04755"},
		{"/bin/busybox", "User:     0   Group:     0"},
		{"/srv/data", "User:  1000   Group:  1000"},
	} {
		if s := debugfsStat(t, out.Ext4, c.path); !strings.Contains(s, c.want) {
			t.Errorf("%s built as uid 65534: want %q in\n%s", c.path, c.want, s)
		}
	}
	out, stderr, err = pull("--dir")
	if err != nil {
		t.Fatalf("silo image pull --dir as uid 65534: %v\n%s", err, stderr)
	}
	fi, err := os.Lstat(filepath.Join(out.Dir, "bin/ping"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65534 || fi.Mode()&os.ModeSetuid == 0 {
		t.Errorf("dir form bin/ping: owner %d mode %v, want 65534 and setuid", st.Uid, fi.Mode())
	}
}

// TestImagePullWithCredentials: a registry that wants a password gets the
// one in the user's docker config (authn.DefaultKeychain), and a pull
// without it fails saying so.
func TestImagePullWithCredentials(t *testing.T) {
	backend := startRegistry(t)
	ref := pushImage(t, backend, "private/bb", busyboxImage(t))
	target, _ := url.Parse("http://" + backend)
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "silo" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="silo-test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	privRef := host + strings.TrimPrefix(ref, backend)

	home := t.TempDir()
	if r := silo(t, home, t.TempDir(), []string{"DOCKER_CONFIG=" + t.TempDir()}, nil, "image", "pull", privRef); r.Code == 0 || !strings.Contains(r.Stderr, "UNAUTHORIZED") {
		t.Fatalf("pull without credentials: exit %d, %s", r.Code, r.Stderr)
	}
	cfg := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("silo:s3cret"))
	if err := os.WriteFile(filepath.Join(cfg, "config.json"), []byte(`{"auths":{"`+host+`":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	r := silo(t, home, t.TempDir(), []string{"DOCKER_CONFIG=" + cfg}, nil, "image", "pull", "--json", privRef)
	if r.Code != 0 {
		t.Fatalf("pull with credentials: exit %d\n%s", r.Code, r.Stderr)
	}
}
