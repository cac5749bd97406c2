package rootfs

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ent is one entry of a test layer.
type ent struct {
	name, link string
	typ        byte
	mode       int64
	uid, gid   int
	body       string
	size       int64 // declared size when it must differ from len(body)
	xattrs     map[string]string
}

var testTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// tarOf builds an uncompressed tar stream. A declared size larger than the
// body makes a truncated stream.
func tarOf(t testing.TB, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode,
			Uid: e.uid, Gid: e.gid, ModTime: testTime, Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		for k, v := range e.xattrs {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			h.PAXRecords["SCHILY.xattr."+k] = v
		}
		if e.size > 0 {
			h.Size = e.size
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			buf.WriteString(e.body) // short body: the stream ends early
			return buf.Bytes()
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// layersOf turns tar streams into Layers.
func layersOf(tars ...[]byte) []Layer {
	var ls []Layer
	for i, b := range tars {
		ls = append(ls, Layer{Name: fmt.Sprintf("test-%d", i+1), Open: func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(b)), nil
		}})
	}
	return ls
}

// ext4Inode is what debugfs says about one path of an ext4 image.
type ext4Inode struct {
	mode       int64 // type and permission bits, as in stat(2)
	uid, gid   int
	exists     bool
	linkTarget string
}

// debugfsStat reads path's inode from img with e2fsprogs' debugfs.
func debugfsStat(t testing.TB, img, path string) ext4Inode {
	t.Helper()
	out, err := exec.Command("debugfs", "-R", "stat "+path, img).CombinedOutput()
	if err != nil {
		t.Fatalf("debugfs stat %s: %v\n%s", path, err, out)
	}
	s := string(out)
	if strings.Contains(s, "File not found") {
		return ext4Inode{}
	}
	var in ext4Inode
	in.exists = true
	f := strings.Fields(s)
	for i := 0; i+1 < len(f); i++ {
		switch f[i] {
		case "Mode:":
			in.mode, _ = strconv.ParseInt(f[i+1], 8, 64)
		case "User:":
			in.uid, _ = strconv.Atoi(f[i+1])
		case "Group:":
			in.gid, _ = strconv.Atoi(f[i+1])
		}
	}
	if _, after, ok := strings.Cut(s, "Fast link dest: \""); ok {
		in.linkTarget, _, _ = strings.Cut(after, "\"")
	}
	if strings.Contains(s, "Type: directory") {
		in.mode |= 0o40000
	} else if strings.Contains(s, "Type: symlink") {
		in.mode |= 0o120000
	} else if strings.Contains(s, "Type: regular") {
		in.mode |= 0o100000
	}
	return in
}

// debugfsCat returns the contents of path in img.
func debugfsCat(t testing.TB, img, path string) string {
	t.Helper()
	out, err := exec.Command("debugfs", "-R", "cat "+path, img).Output()
	if err != nil {
		t.Fatalf("debugfs cat %s: %v", path, err)
	}
	return string(out)
}

// debugfsInode returns the inode number of path in img.
func debugfsInode(t testing.TB, img, path string) string {
	t.Helper()
	out, err := exec.Command("debugfs", "-R", "stat "+path, img).Output()
	if err != nil {
		t.Fatalf("debugfs stat %s: %v", path, err)
	}
	f := strings.Fields(string(out))
	if len(f) < 2 || f[0] != "Inode:" {
		t.Fatalf("debugfs stat %s: %s", path, out)
	}
	return f[1]
}
