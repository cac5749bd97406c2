// Command mkbusybox writes a small OCI image layout built from Debian's
// static busybox (package busybox-static), offline: /bin/busybox, a /bin
// link per applet, /etc/passwd and /etc/group, /root, /tmp, /workspace.
// make demo loads it with `silo image pull oci-layout:DIR`.
//
//	go run ./scripts/mkbusybox DIR
package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// busybox is Debian's static busybox.
const busybox = "/bin/busybox"

// epoch is every file's mtime, so that the image is the same each time.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: mkbusybox DIR")
		os.Exit(2)
	}
	if err := write(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "mkbusybox:", err)
		os.Exit(1)
	}
}

// write builds the image and writes it as an OCI layout in dir, tagged
// "latest".
func write(dir string) error {
	layer, err := busyboxLayer()
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON), layer)
	if err != nil {
		return fmt.Errorf("build the image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = runtime.GOARCH, "linux"
	cf.Created = v1.Time{Time: epoch}
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cf.Config.Cmd = []string{"/bin/sh"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("write the layout: %w", err)
	}
	return p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "latest"}))
}

// busyboxLayer is the image's one layer.
func busyboxLayer() (v1.Layer, error) {
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return nil, fmt.Errorf("%w: install Debian's busybox-static", err)
	}
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list: %w", err)
	}
	applets := strings.Fields(string(out))
	sort.Strings(applets)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body []byte) {
		h.ModTime, h.Uname, h.Gname = epoch, "root", "root"
		h.Size = int64(len(body))
		if err == nil {
			err = tw.WriteHeader(h)
		}
		if err == nil && len(body) > 0 {
			_, err = tw.Write(body)
		}
	}
	dir := func(name string, mode int64) { add(&tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: mode}, nil) }
	file := func(name, body string) {
		add(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644}, []byte(body))
	}
	dir("bin/", 0o755)
	add(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755}, bin)
	for _, a := range applets {
		if a != "busybox" && !strings.Contains(a, "/") {
			add(&tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, nil)
		}
	}
	dir("etc/", 0o755)
	file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
	file("etc/group", "root:x:0:\n")
	file("etc/hostname", "silo\n")
	dir("root/", 0o700)
	dir("tmp/", 0o1777)
	dir("workspace/", 0o755)
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("write the layer: %w", err)
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
}
