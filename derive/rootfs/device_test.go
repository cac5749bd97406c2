package rootfs

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// devLayer is a layer with /dev/null (1,3), /dev/sda (8,0) and a file.
func devLayer(t *testing.T) []Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "dev/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "dev/null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3},
		{Name: "dev/sda", Typeflag: tar.TypeBlock, Mode: 0o660, Devmajor: 8, Devminor: 0},
		{Name: "dev/\x1b]0;x\x07", Typeflag: tar.TypeChar, Mode: 0o600, Devmajor: 1, Devminor: 5},
		{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "etc/hostname", Typeflag: tar.TypeReg, Mode: 0o644, Size: 2},
	} {
		h.ModTime, h.Format = testTime, tar.FormatPAX
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte("h\n"))
		}
	}
	tw.Close()
	return layersOf(buf.Bytes())
}

// TestDeviceNodes: a layer with device nodes (any debootstrap tree has
// them) is assembled: the ext4 form keeps them with their numbers, the
// directory form leaves them out with one note that names them escaped.
func TestDeviceNodes(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "root.ext4")
	if err := WriteExt4(devLayer(t), img, 0, 0); err != nil {
		t.Fatalf("ext4: %v", err)
	}
	if s := debugfsRun(t, img, "stat /dev/sda"); !strings.Contains(s, "Type: block special") || !strings.Contains(s, "Device major/minor number: 08:00") {
		t.Errorf("/dev/sda in the ext4 form:\n%s", s)
	}
	if s := debugfsRun(t, img, "stat /dev/null"); !strings.Contains(s, "Type: character special") {
		t.Errorf("/dev/null in the ext4 form:\n%s", s)
	}
	var notes []string
	dst := filepath.Join(dir, "root")
	if err := WriteDir(devLayer(t), dst, 0, Notes(func(s string) { notes = append(notes, s) })); err != nil {
		t.Fatalf("dir: %v", err)
	}
	defer RemoveTree(dst)
	if _, err := os.Lstat(filepath.Join(dst, "dev/null")); !os.IsNotExist(err) {
		t.Errorf("/dev/null in the directory form: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "etc/hostname")); err != nil || string(b) != "h\n" {
		t.Errorf("etc/hostname: %q %v", b, err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "3 device nodes (/dev/\\x1b]0;x\\x07, /dev/null, /dev/sda)") || strings.ContainsAny(notes[0], "\x1b\x07") {
		t.Errorf("notes: %q; want one naming the three, escaped", notes)
	}
}

// TestCheckLayer: the pull-time check refuses what no stack of layers
// makes safe and passes everything else, device nodes included.
func TestCheckLayer(t *testing.T) {
	open := func(ls []Layer) []byte {
		rc, _ := ls[0].Open()
		defer rc.Close()
		var b bytes.Buffer
		b.ReadFrom(rc)
		return b.Bytes()
	}
	if err := CheckLayer(bytes.NewReader(open(devLayer(t)))); err != nil {
		t.Errorf("device nodes: %v", err)
	}
	for name, e := range map[string]ent{
		"absolute":         {name: "/etc/passwd", body: "x"},
		"dotdot":           {name: "a/../../x", body: "x"},
		"hardlink outside": {name: "h", typ: tar.TypeLink, link: "../../etc/shadow"},
		"unknown type":     {name: "odd", typ: 'Z'},
	} {
		if err := CheckLayer(bytes.NewReader(tarOf(t, e))); !errors.Is(err, ErrUnsafe) {
			t.Errorf("%s: %v, want ErrUnsafe", name, err)
		}
	}
}

// TestMaxEntries: an image with more entries than its limit is refused
// from its headers, in both forms, and one at the limit is not.
func TestMaxEntries(t *testing.T) {
	ents := make([]ent, 0, 1500)
	for i := range 1500 {
		ents = append(ents, ent{name: "f" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + "/" + string(rune('a'+i/26%26)) + string(rune('a'+i/676)), body: ""})
	}
	layers := layersOf(tarOf(t, ents...))
	dir := t.TempDir()
	if err := WriteDir(layers, filepath.Join(dir, "a"), 0, MaxEntries(1499)); !errors.Is(err, ErrTooManyEntries) || !strings.Contains(err.Error(), "maxFiles") {
		t.Errorf("dir, 1500 entries, limit 1499: %v", err)
	}
	if err := WriteExt4(layers, filepath.Join(dir, "a.ext4"), 0, 0, MaxEntries(1000)); !errors.Is(err, ErrTooManyEntries) {
		t.Errorf("ext4, 1500 entries, limit 1000: %v", err)
	}
	if err := WriteDir(layers, filepath.Join(dir, "b"), 0, MaxEntries(1500)); err != nil {
		t.Errorf("dir, 1500 entries, limit 1500: %v", err)
	}
	RemoveTree(filepath.Join(dir, "b"))
}
