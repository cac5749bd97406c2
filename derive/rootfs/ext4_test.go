package rootfs

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fsckClean runs e2fsck -fn on img and fails unless it exits 0 and says
// nothing beyond its pass headers and summary.
func fsckClean(t testing.TB, img string) {
	t.Helper()
	out, err := exec.Command("e2fsck", "-fn", img).CombinedOutput()
	if err != nil {
		t.Fatalf("e2fsck -fn: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.HasPrefix(line, "e2fsck ") || strings.HasPrefix(line, "Pass ") || strings.HasPrefix(line, "silo-rootfs: ") && strings.Contains(line, " files ") {
			continue
		}
		t.Fatalf("e2fsck -fn says %q:\n%s", line, out)
	}
}

// debugfsRun runs one debugfs request on img and returns its output.
func debugfsRun(t testing.TB, img, req string) string {
	t.Helper()
	out, err := exec.Command("debugfs", "-R", req, img).CombinedOutput()
	if err != nil {
		t.Fatalf("debugfs %s: %v\n%s", req, err, out)
	}
	return string(out)
}

// field returns the word after label in debugfs output ("" if none).
func field(s, label string) string {
	_, after, ok := strings.Cut(s, label)
	if !ok {
		return ""
	}
	f := strings.Fields(after)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// writeImage writes layers to a fresh image and checks it with e2fsck.
func writeImage(t testing.TB, layers []Layer) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "rootfs.ext4")
	if err := WriteExt4(layers, img, 0, 0); err != nil {
		t.Fatal(err)
	}
	fsckClean(t, img)
	return img
}

func TestWriteExt4Trees(t *testing.T) {
	for _, c := range ext4Cases() {
		t.Run(c.name, func(t *testing.T) {
			layers := c.layers(t)
			img := writeImage(t, layers)
			c.check(t, img)
			again := filepath.Join(t.TempDir(), "again.ext4")
			if err := WriteExt4(layers, again, 0, 0); err != nil {
				t.Fatal(err)
			}
			a, _ := os.ReadFile(img)
			b, _ := os.ReadFile(again)
			if !bytes.Equal(a, b) {
				t.Errorf("two writes of the same layers differ (%d and %d bytes)", len(a), len(b))
			}
		})
	}
}

type ext4Case struct {
	name   string
	layers func(t *testing.T) []Layer
	check  func(t *testing.T, img string)
}

func ext4Cases() []ext4Case {
	return []ext4Case{
		{"empty", func(t *testing.T) []Layer { return layersOf(tarOf(t)) }, checkEmpty},
		{"no layers", func(t *testing.T) []Layer { return nil }, checkEmpty},
		{"deep nesting", deepLayers, checkDeep},
		{"5000 files in one directory", manyLayers, checkMany},
		{"hard links", linkLayers, checkLinks},
		{"symlinks", symlinkLayers, checkSymlinks},
		{"xattrs", xattrLayers, checkXattrs},
		{"modes owners times", modeLayers, checkModes},
		{"names", nameLayers, checkNames},
		{"lost+found in the layers", func(t *testing.T) []Layer {
			return layersOf(tarOf(t, ent{name: "lost+found/", typ: tar.TypeDir, mode: 0o755, uid: 5}, ent{name: "lost+found/x", body: "x"}))
		}, func(t *testing.T, img string) {
			if in := debugfsStat(t, img, "/lost+found"); in.mode != 0o40755 || in.uid != 5 {
				t.Errorf("/lost+found: mode %o uid %d, want the layer's 40755 5", in.mode, in.uid)
			}
		}},
	}
}

func checkEmpty(t *testing.T, img string) {
	if in := debugfsStat(t, img, "/"); in.mode != 0o40755 {
		t.Errorf("/: mode %o", in.mode)
	}
	if in := debugfsStat(t, img, "/lost+found"); in.mode != 0o40700 {
		t.Errorf("/lost+found: mode %o", in.mode)
	}
	if out := debugfsRun(t, img, "stat /"); !strings.Contains(out, "mtime: 0x00000000:00000000") {
		t.Errorf("/ has no time in the layers and should get the Unix epoch:\n%s", out)
	}
	if out := debugfsRun(t, img, "stats"); !strings.Contains(out, "extent") || !strings.Contains(out, "Filesystem UUID:") {
		t.Errorf("superblock: %s", out)
	}
}

const deepLevels = 200

func deepPath() string {
	return strings.Repeat("level-dir/", deepLevels)
}

func deepLayers(t *testing.T) []Layer {
	return layersOf(tarOf(t, ent{name: deepPath() + "leaf", body: "deep"}))
}

func checkDeep(t *testing.T, img string) {
	if got := debugfsCat(t, img, "/"+deepPath()+"leaf"); got != "deep" {
		t.Errorf("leaf = %q", got)
	}
	if in := debugfsStat(t, img, "/"+strings.Repeat("level-dir/", deepLevels/2)); in.mode != 0o40755 {
		t.Errorf("middle directory: mode %o", in.mode)
	}
}

func manyLayers(t *testing.T) []Layer {
	ents := []ent{{name: "big/", typ: tar.TypeDir, mode: 0o755}}
	for i := range 5000 {
		ents = append(ents, ent{name: fmt.Sprintf("big/file-with-a-longish-name-%05d", i), body: fmt.Sprint(i)})
	}
	return layersOf(tarOf(t, ents...))
}

func checkMany(t *testing.T, img string) {
	out := debugfsRun(t, img, "ls -p /big")
	if n := strings.Count(out, "/file-with-a-longish-name-"); n != 5000 {
		t.Errorf("/big lists %d files, want 5000", n)
	}
	for _, i := range []int{0, 1234, 4999} {
		if got := debugfsCat(t, img, fmt.Sprintf("/big/file-with-a-longish-name-%05d", i)); got != fmt.Sprint(i) {
			t.Errorf("file %d = %q", i, got)
		}
	}
	if size := field(debugfsRun(t, img, "stat /big"), "Size:"); size == "4096" || size == "" {
		t.Errorf("/big has size %s; 5000 entries need many blocks", size)
	}
}

func linkLayers(t *testing.T) []Layer {
	return layersOf(tarOf(t,
		ent{name: "a/orig", body: "shared", mode: 0o600, uid: 3},
		ent{name: "a/same-dir", typ: tar.TypeLink, link: "a/orig"},
		ent{name: "b/other-dir", typ: tar.TypeLink, link: "a/orig"},
		ent{name: "single", body: "one"},
	))
}

func checkLinks(t *testing.T, img string) {
	ino := debugfsInode(t, img, "/a/orig")
	for _, p := range []string{"/a/same-dir", "/b/other-dir"} {
		if got := debugfsInode(t, img, p); got != ino {
			t.Errorf("%s: inode %s, want %s", p, got, ino)
		}
		if got := debugfsCat(t, img, p); got != "shared" {
			t.Errorf("%s = %q", p, got)
		}
	}
	if n := field(debugfsRun(t, img, "stat /a/orig"), "Links:"); n != "3" {
		t.Errorf("/a/orig has %s links, want 3", n)
	}
	if n := field(debugfsRun(t, img, "stat /single"), "Links:"); n != "1" {
		t.Errorf("/single has %s links, want 1", n)
	}
}

var (
	target59   = strings.Repeat("s", 59)
	target60   = strings.Repeat("l", 60)
	target4095 = strings.Repeat("x/", 2047) + "y"
)

func symlinkLayers(t *testing.T) []Layer {
	return layersOf(tarOf(t,
		ent{name: "short", typ: tar.TypeSymlink, link: "target"},
		ent{name: "fast59", typ: tar.TypeSymlink, link: target59},
		ent{name: "slow60", typ: tar.TypeSymlink, link: target60},
		ent{name: "slow4095", typ: tar.TypeSymlink, link: target4095, uid: 9, xattrs: map[string]string{"user.big": strings.Repeat("v", 200)}},
		ent{name: "pipe", typ: tar.TypeFifo, mode: 0o620},
	))
}

func checkSymlinks(t *testing.T, img string) {
	for p, want := range map[string]string{"/short": "target", "/fast59": target59} {
		if got := debugfsStat(t, img, p).linkTarget; got != want {
			t.Errorf("%s -> %q, want %q", p, got, want)
		}
	}
	for p, want := range map[string]string{"/slow60": target60, "/slow4095": target4095} {
		out := debugfsRun(t, img, "stat "+p)
		if strings.Contains(out, "Fast link") || field(out, "Size:") != fmt.Sprint(len(want)) {
			t.Errorf("%s is not a %d-byte symlink in a block:\n%s", p, len(want), out)
		}
		if got := debugfsCat(t, img, p); got != want {
			t.Errorf("%s -> %q, want %q", p, got, want)
		}
	}
	if out := debugfsRun(t, img, "stat /pipe"); !strings.Contains(out, "Type: FIFO") || field(out, "Mode:") != "0620" {
		t.Errorf("/pipe:\n%s", out)
	}
}

// capV2 is a security.capability value (version 2) granting
// cap_net_bind_service, as setcap writes it.
var capV2 = string([]byte{0, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})

// aclV2 is a POSIX access ACL in the xattr format tar carries: user::rw-,
// user:1000:r--, group::r--, mask::r--, other::---.
var aclV2 = string([]byte{
	2, 0, 0, 0,
	1, 0, 6, 0, 0xff, 0xff, 0xff, 0xff,
	2, 0, 4, 0, 0xe8, 3, 0, 0,
	4, 0, 4, 0, 0xff, 0xff, 0xff, 0xff,
	0x10, 0, 4, 0, 0xff, 0xff, 0xff, 0xff,
	0x20, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
})

func xattrLayers(t *testing.T) []Layer {
	return layersOf(tarOf(t,
		ent{name: "bin/", typ: tar.TypeDir, mode: 0o755, xattrs: map[string]string{"trusted.dir": "d"}},
		ent{name: "bin/ping", mode: 0o755, body: "ping", xattrs: map[string]string{"security.capability": capV2}},
		ent{name: "many", body: "m", xattrs: map[string]string{
			"user.a": "1", "user.bb": "22", "security.selinux": "system_u:object_r:bin_t:s0",
			"user.big": strings.Repeat("b", 2000), "security.capability": capV2,
		}},
		ent{name: "acl", body: "a", xattrs: map[string]string{"system.posix_acl_access": aclV2}},
		ent{name: "empty-value", body: "e", xattrs: map[string]string{"user.empty": ""}},
	))
}

func checkXattrs(t *testing.T, img string) {
	for p, names := range map[string][]string{
		"/bin":         {"trusted.dir"},
		"/bin/ping":    {"security.capability"},
		"/many":        {"user.a", "user.bb", "security.selinux", "user.big", "security.capability"},
		"/acl":         {"system.posix_acl_access"},
		"/empty-value": {"user.empty"},
	} {
		out := debugfsRun(t, img, "ea_list "+p)
		for _, n := range names {
			if !strings.Contains(out, n) {
				t.Errorf("%s lost xattr %s:\n%s", p, n, out)
			}
		}
	}
	for _, p := range []string{"/bin/ping", "/many"} {
		if got := eaGet(t, img, p, "security.capability"); got != capV2 {
			t.Errorf("%s: security.capability = %x, want %x", p, got, capV2)
		}
	}
	if got := eaGet(t, img, "/many", "user.big"); got != strings.Repeat("b", 2000) {
		t.Errorf("/many: user.big is %d bytes", len(got))
	}
	if field(debugfsRun(t, img, "stat /many"), "File ACL:") == "0" {
		t.Error("/many: 2 KB of xattrs should be in an xattr block")
	}
	if field(debugfsRun(t, img, "stat /bin/ping"), "File ACL:") != "0" {
		t.Error("/bin/ping: security.capability should fit in the inode")
	}
	// debugfs turns ext4's on-disk ACL back into the xattr format; the
	// named user entry keeps its id.
	if out := debugfsRun(t, img, "ea_get /acl system.posix_acl_access"); !strings.Contains(out, "(44) = 02 00 00 00 01 00 06 00 00 00 00 00 02 00 04 00 e8 03 00 00 04 00 04 00") {
		t.Errorf("/acl: ACL reads back as:\n%s", out)
	}
}

// eaGet returns the value of xattr name of p, read by debugfs.
func eaGet(t *testing.T, img, p, name string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "value")
	debugfsRun(t, img, fmt.Sprintf("ea_get -f %s %s %s", f, p, name))
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var (
	nsTime   = time.Date(2021, 3, 4, 5, 6, 7, 123456789, time.UTC)
	lateTime = time.Date(2100, 1, 2, 3, 4, 5, 0, time.UTC)
	oldTime  = time.Date(1960, 1, 2, 3, 4, 5, 0, time.UTC)
	farTime  = time.Date(2400, 1, 2, 3, 4, 5, 0, time.UTC) // clamped to 2310
)

func modeLayers(t *testing.T) []Layer {
	b := tarOf(t,
		ent{name: "su", mode: 0o4755, body: "su", uid: 100000, gid: 2000000000},
		ent{name: "sg", mode: 0o2711, body: "sg"},
		ent{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
		ent{name: "none", mode: 0o7000, body: "n"},
	)
	timed := func(name string, mt time.Time) []byte {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, ModTime: mt, Format: tar.FormatPAX, Size: 1})
		tw.Write([]byte("t"))
		tw.Close()
		return buf.Bytes()
	}
	return layersOf(b, timed("ns", nsTime), timed("late", lateTime), timed("old", oldTime), timed("far", farTime))
}

func checkModes(t *testing.T, img string) {
	for _, c := range []struct {
		path     string
		mode     int64
		uid, gid int
	}{
		{"/su", 0o104755, 100000, 2000000000},
		{"/sg", 0o102711, 0, 0},
		{"/tmp", 0o41777, 0, 0},
		{"/none", 0o107000, 0, 0},
	} {
		if in := debugfsStat(t, img, c.path); in.mode != c.mode || in.uid != c.uid || in.gid != c.gid {
			t.Errorf("%s: mode %o uid %d gid %d, want %o %d %d", c.path, in.mode, in.uid, in.gid, c.mode, c.uid, c.gid)
		}
	}
	out := debugfsRun(t, img, "stat /ns")
	if want := fmt.Sprintf("mtime: 0x%08x:%08x", nsTime.Unix(), nsTime.Nanosecond()<<2); !strings.Contains(out, want) {
		t.Errorf("/ns: want %q in\n%s", want, out)
	}
	for p, year := range map[string]string{"/late": "2100", "/old": "1960", "/far": "2310"} {
		if out := debugfsRun(t, img, "stat "+p); !strings.Contains(field(out, "mtime:"), "0x") || !strings.Contains(out, year) {
			t.Errorf("%s: want an mtime in %s:\n%s", p, year, out)
		}
	}
}

var (
	name255     = strings.Repeat("n", 255)
	name255utf8 = strings.Repeat("é", 127) + "x"
	unicodeName = "héllo-世界-🙂"
)

func nameLayers(t *testing.T) []Layer {
	return layersOf(tarOf(t,
		ent{name: unicodeName, body: "u"},
		ent{name: name255 + "/", typ: tar.TypeDir, mode: 0o755},
		ent{name: name255 + "/" + name255utf8, body: "long"},
	))
}

func checkNames(t *testing.T, img string) {
	if got := debugfsCat(t, img, "/"+unicodeName); got != "u" {
		t.Errorf("%s = %q", unicodeName, got)
	}
	if got := debugfsCat(t, img, "/"+name255+"/"+name255utf8); got != "long" {
		t.Errorf("255-byte names: %q", got)
	}
}

// TestWriteExt4NameTooLong: a name ext4 cannot hold is an error, not a
// damaged image.
func TestWriteExt4NameTooLong(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "x.ext4")
	err := WriteExt4(layersOf(tarOf(t, ent{name: strings.Repeat("n", 256), body: "x"})), dst, 0, 0)
	if err == nil || !strings.Contains(err.Error(), "255") {
		t.Fatalf("256-byte name: %v", err)
	}
	if _, err := os.Lstat(dst); !os.IsNotExist(err) {
		t.Errorf("image left behind: %v", err)
	}
}

// TestWriteExt4SizeLimit: the limit counts metadata too, and its error
// says how to raise it.
func TestWriteExt4SizeLimit(t *testing.T) {
	var ents []ent
	for i := range 300 {
		ents = append(ents, ent{name: fmt.Sprintf("f%d", i), body: "small"})
	}
	dst := filepath.Join(t.TempDir(), "x.ext4")
	err := WriteExt4(layersOf(tarOf(t, ents...)), dst, 1<<20, 0)
	if err == nil || !strings.HasPrefix(err.Error(), "the root filesystem needs more than its 1 MB size limit (raise rootfsSizeMB)") {
		t.Fatalf("300 files in 1 MB: %v", err)
	}
	if _, err := os.Lstat(dst); !os.IsNotExist(err) {
		t.Errorf("image left behind: %v", err)
	}
	if err := WriteExt4(layersOf(tarOf(t, ents...)), dst, 2<<20, 0); err != nil {
		t.Fatalf("300 files in 2 MB: %v", err)
	}
	fsckClean(t, dst)
}
