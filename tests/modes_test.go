package tests

import (
	"os"
	"path/filepath"
	"testing"
)

// modesScript prints the modes of the image's files as the sandbox shows
// them, copies two of them into the workspace and appends to the copies.
const modesScript = `stat -c '%n %a' /opt/app /opt/app/conf.txt /opt/app/run.sh /opt/app/ro.txt /opt/app/sub &&
cp /opt/app/conf.txt /opt/app/run.sh /workspace/ && echo more >> /workspace/conf.txt && echo more >> /workspace/run.sh &&
stat -c '%n %a' /workspace/conf.txt /workspace/run.sh`

// modesImage is the busybox image with files of several modes.
func modesImage(t *testing.T) string {
	img := imageFromLayers(t, tarLayer(t, append(busyboxEntries(t),
		tarEntry{Name: "opt/", Type: '5'},
		tarEntry{Name: "opt/app/", Type: '5', Mode: 0o775},
		tarEntry{Name: "opt/app/conf.txt", Mode: 0o644, Body: []byte("conf\n")},
		tarEntry{Name: "opt/app/run.sh", Mode: 0o755, Body: []byte("#!/bin/sh\necho hi\n")},
		tarEntry{Name: "opt/app/ro.txt", Mode: 0o444, Body: []byte("read-only in the image too\n")},
		tarEntry{Name: "opt/app/sub/", Type: '5', Mode: 0o750},
	)))
	return "oci-layout:" + ociLayout(t, img)
}

// TestImageModes: a file's mode inside is the image's on the namespace
// backend too (the store does not clear its write bits for the sandbox),
// and a copy of it into the workspace is writable; the store's entry
// still verifies and its top directory stays read-only.
func TestImageModes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) { checkImageModes(t, s) })
}

// TestQemuImageModes is TestImageModes on the qemu backend (the ext4 form).
func TestQemuImageModes(t *testing.T) {
	checkImageModes(t, qemuSandbox(t))
}

func checkImageModes(t *testing.T, s *sandbox) {
	ws := s.project(t)
	r := s.silo(t, ws, nil, nil, "exec", "--image", modesImage(t), "sh", "-c", modesScript)
	want := "/opt/app 775\n/opt/app/conf.txt 644\n/opt/app/run.sh 755\n/opt/app/ro.txt 444\n/opt/app/sub 750\n/workspace/conf.txt 644\n/workspace/run.sh 755\n"
	if r.Code != 0 || r.Stdout != want {
		t.Fatalf("exit %d\nstdout:\n%s\nwant:\n%s\nstderr: %s", r.Code, r.Stdout, want, r.Stderr)
	}
	if b, err := os.ReadFile(filepath.Join(ws, "conf.txt")); err != nil || string(b) != "conf\nmore\n" {
		t.Errorf("the workspace copy: %q, %v", b, err)
	}
	if v := s.silo(t, ws, nil, nil, "store", "verify"); v.Code != 0 {
		t.Errorf("store verify after the run: exit %d\n%s%s", v.Code, v.Stdout, v.Stderr)
	}
	dirs, _ := filepath.Glob(filepath.Join(s.home, "store", "*-rootfs"))
	for _, d := range dirs {
		st, err := os.Stat(d)
		if err != nil || st.Mode().Perm()&0o222 != 0 {
			t.Errorf("rootfs entry %s: %v, mode %v; want its top directory read-only", d, err, st.Mode())
		}
	}
	if s.backend == "namespace" && len(dirs) == 0 {
		t.Errorf("no directory rootfs in %s", filepath.Join(s.home, "store"))
	}
}
