package tests

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// hostPython is Debian's python3 on this host: the real-world build
// assembles an image from it and its shared libraries.
const hostPython = "/usr/bin/python3.11"

// pythonEntries are the layer entries of a Debian python3 image made from
// the host's own files: the interpreter, its standard library (without
// tests and tk), the wheels ensurepip installs pip from, and every shared
// library the interpreter and its extension modules load (ldd).
func pythonEntries(t *testing.T) []tarEntry {
	t.Helper()
	if _, err := os.Stat(hostPython); err != nil {
		t.Skipf("Debian's python3 is not installed here (%v): apt-get install python3 python3-venv", err)
	}
	seen := map[string]bool{}
	var out []tarEntry
	addDirs := func(p string) {
		parts := strings.Split(strings.Trim(p, "/"), "/")
		for i := 1; i < len(parts); i++ {
			d := strings.Join(parts[:i], "/") + "/"
			if !seen[d] {
				seen[d] = true
				out = append(out, tarEntry{Name: d, Type: tar.TypeDir})
			}
		}
	}
	addFile := func(host, guest string) {
		if seen[guest] {
			return
		}
		fi, err := os.Lstat(host)
		if err != nil {
			t.Fatal(err)
		}
		addDirs(guest)
		seen[guest] = true
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(host)
			out = append(out, tarEntry{Name: guest, Type: tar.TypeSymlink, Mode: 0o777, Linkname: l})
		case fi.IsDir():
			out = append(out, tarEntry{Name: guest + "/", Type: tar.TypeDir})
		default:
			b, err := os.ReadFile(host)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, tarEntry{Name: guest, Mode: int64(fi.Mode().Perm()), Body: b})
		}
	}
	// A library is put where the loader looks, as a regular file.
	addLib := func(p string) {
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			t.Fatal(err)
		}
		addFile(real, strings.TrimPrefix(p, "/"))
	}
	libs := []string{hostPython}
	for _, tree := range []string{"/usr/lib/python3.11", "/usr/share/python-wheels"} {
		filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && slices.Contains([]string{"__pycache__", "test", "tkinter", "idlelib", "turtledemo", "lib2to3"}, d.Name()) {
				return filepath.SkipDir
			}
			addFile(p, strings.TrimPrefix(p, "/"))
			if strings.HasSuffix(p, ".so") {
				libs = append(libs, p)
			}
			return nil
		})
	}
	addFile(hostPython, "usr/bin/python3.11")
	out = append(out, tarEntry{Name: "usr/bin/python3", Type: tar.TypeSymlink, Mode: 0o777, Linkname: "python3.11"})
	for _, l := range libs {
		b, _ := exec.Command("ldd", l).Output()
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
				addLib(f[2])
			case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
				addLib(f[0])
			}
		}
	}
	return out
}

// demoWheel is a pure-Python wheel of the package demo, which holds
// VALUE = "from-wheel".
func demoWheel(t *testing.T) []byte {
	t.Helper()
	files := [][2]string{
		{"demo/__init__.py", "VALUE = \"from-wheel\"\n"},
		{"demo-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"},
		{"demo-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: silo-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
	}
	var record strings.Builder
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.Create(f[0])
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(f[1]))
		sum := sha256.Sum256([]byte(f[1]))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f[0], base64.RawURLEncoding.EncodeToString(sum[:]), len(f[1]))
	}
	record.WriteString("demo-1.0.dist-info/RECORD,,\n")
	w, _ := zw.Create("demo-1.0.dist-info/RECORD")
	w.Write([]byte(record.String()))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestBuildRealPython is the real-world build: a Debian python3 image, a
// build step that makes /workspace/.venv (excluded) and installs a wheel
// the test made into it with pip, and a later run that imports it.
func TestBuildRealPython(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		img := imageFromLayers(t, tarLayer(t, busyboxEntries(t)), tarLayer(t, pythonEntries(t)))
		writeFile(t, filepath.Join(s.home, "config.toml"), fmt.Sprintf("[tool.py]\nimage = %q\nshims = [\"python3\"]\n", "oci-layout:"+ociLayout(t, img)))
		ws := t.TempDir()
		writeTrusted(t, s.home, filepath.Join(ws, "silo.toml"), "tools = [\"py\"]\n[mount]\nexclude = [\".venv\"]\n")
		if err := os.WriteFile(filepath.Join(ws, "demo-1.0-py3-none-any.whl"), demoWheel(t), 0o644); err != nil {
			t.Fatal(err)
		}
		r := s.silo(t, ws, nil, nil, "build", "--input", "demo-1.0-py3-none-any.whl", "py", "sh", "-c",
			"python3 -m venv .venv && .venv/bin/pip install --no-index --no-cache-dir --disable-pip-version-check demo-1.0-py3-none-any.whl")
		if r.Code != 0 {
			t.Fatalf("build: exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
		}
		r = s.silo(t, ws, nil, nil, "exec", "py", ".venv/bin/python", "-c", "import demo; print(demo.VALUE)")
		if r.Code != 0 || r.Stdout != "from-wheel\n" {
			t.Fatalf("a later run does not import the built package: exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
		}
		if _, err := os.Stat(filepath.Join(ws, ".venv")); err == nil {
			if ents, _ := os.ReadDir(filepath.Join(ws, ".venv")); len(ents) > 0 {
				t.Errorf("the sandbox's .venv reached the host's project")
			}
		}
	})
}
