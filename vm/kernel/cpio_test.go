package kernel

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteInitfs writes an initfs and reads it back with cpio(1).
func TestWriteInitfs(t *testing.T) {
	agent, err := os.ReadFile("/bin/busybox") // busybox-static: a static ELF
	if err != nil {
		t.Skip("needs busybox-static")
	}
	mods := []InitfsModule{{"first", []byte("one")}, {"second", []byte("two\x00bytes")}}
	var buf bytes.Buffer
	if err := WriteInitfs(&buf, agent, mods); err != nil {
		t.Fatal(err)
	}
	if buf.Len()%512 != 0 {
		t.Fatalf("archive of %d bytes is not block-padded", buf.Len())
	}
	archive := buf.Bytes()
	list := cpio(t, bytes.NewReader(archive), "", "-itv")
	for _, want := range []string{"crw-------", "5,   1", "dev/console", "-rwxr-xr-x", " init"} {
		if !strings.Contains(list, want) {
			t.Errorf("listing lacks %q:\n%s", want, list)
		}
	}
	dir := t.TempDir()
	cpio(t, bytes.NewReader(archive), dir, "-idm", "--no-absolute-filenames")
	checks := map[string]string{
		"init":                 string(agent),
		"silo-initfs":          "/modules/00-first.ko\n/modules/01-second.ko\n",
		"modules/00-first.ko":  "one",
		"modules/01-second.ko": "two\x00bytes",
	}
	for name, want := range checks {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != want {
			t.Errorf("%s: %d bytes, %v; want %d bytes", name, len(got), err, len(want))
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "init")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("init mode: %v %v", fi, err)
	}
}

func cpio(t *testing.T, in io.Reader, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("cpio", args...)
	cmd.Stdin, cmd.Dir = in, dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cpio %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestCpioRefusesBadNames(t *testing.T) {
	for _, name := range []string{"../escape", "a/../../b", "", "nul\x00name"} {
		c := NewCpioWriter(&bytes.Buffer{})
		if err := c.File(name, 0o644, nil); err == nil {
			t.Errorf("File(%q) was accepted", name)
		}
	}
	c := NewCpioWriter(&bytes.Buffer{})
	if err := c.Dir("x", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := c.File("/x", 0o644, nil); err == nil {
		t.Error("a duplicate entry was accepted")
	}
}

func TestCheckStatic(t *testing.T) {
	if err := CheckStatic(tinyELF("Xen", 18)); err != nil {
		t.Errorf("static ELF refused: %v", err)
	}
	dyn, err := os.ReadFile("/bin/ls")
	if err != nil {
		t.Skip(err)
	}
	if err := CheckStatic(dyn); err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Errorf("dynamic /bin/ls: err = %v", err)
	}
	if err := CheckStatic([]byte("#!/bin/sh\n")); err == nil {
		t.Error("a script was accepted as the agent")
	}
	var buf bytes.Buffer
	if err := WriteInitfs(&buf, dyn, nil); err == nil || buf.Len() != 0 {
		t.Errorf("WriteInitfs with a dynamic agent: err %v, wrote %d bytes", err, buf.Len())
	}
}
