package tests

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestLockIndex: a tool whose image reference names a multi-platform
// index locks the index's digest beside the manifest's and the platform;
// a new home pulls by the locked manifest digest, even after the tag
// moved, and ends in sync with the same lock.
func TestLockIndex(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the busybox fixture is linux/amd64")
	}
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		p := newBuildProject(t, s.backend)
		host := strings.TrimSuffix(p.ref, "/bb:latest")
		img := busyboxImage(t)
		index := pushIndex(t, host, "multi", multiPlatformIndex(t, img))
		manifest, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		ref := host + "/multi:latest"
		writeFile(t, filepath.Join(p.s.home, "config.toml"), "[tool.bb]\nimage = \""+ref+"\"\nshims = [\"sh\"]\n")
		p.must(t, "build", "bb", "sh", "-c", "mkdir -p /opt && echo from-index > /opt/x")
		lockPath := filepath.Join(p.ws, "silo.lock")
		lock1 := readFile(lockPath)
		for _, want := range []string{`image = "` + ref + `"`, `digest = "` + manifest.String() + `"`, `index = "` + index + `"`, `platform = "linux/amd64"`} {
			if !strings.Contains(lock1, want) {
				t.Errorf("silo.lock lacks %s:\n%s", want, lock1)
			}
		}

		// The tag moves to another image: the lock still names the old
		// one, and a pull from an empty home must fetch it by digest.
		pushImage(t, host, "multi", imageFromLayers(t, tarLayer(t, busyboxEntries(t)), tarLayer(t, []tarEntry{{Name: "moved", Body: []byte("moved\n")}})))
		home2 := t.TempDir()
		writeFile(t, filepath.Join(home2, "config.toml"), readFile(filepath.Join(p.s.home, "config.toml")))
		writeTrusted(t, home2, filepath.Join(p.ws, "silo.toml"), readFile(filepath.Join(p.ws, "silo.toml")))
		env := []string{"SILO_HOME=" + home2}
		r := p.s.silo(t, p.ws, env, nil, "pull")
		if r.Code != 0 || !strings.Contains(r.Stdout, "bb: in sync") {
			t.Fatalf("pull in a new home: code %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
		}
		if got := readFile(lockPath); got != lock1 {
			t.Errorf("pull changed silo.lock:\n%s\nwas:\n%s", got, lock1)
		}
		r = p.s.silo(t, p.ws, env, nil, "exec", "--locked", "bb", "cat", "/opt/x")
		if r.Code != 0 || r.Stdout != "from-index\n" {
			t.Errorf("a locked run in the new home: code %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
		}
		r = p.s.silo(t, p.ws, env, nil, "status")
		if !strings.Contains(r.Stdout, "in sync") {
			t.Errorf("status after the pull: code %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
		}

		// pull --update follows the moved tag, to a plain manifest: the
		// lock drops the index.
		r = p.s.silo(t, p.ws, env, nil, "pull", "--update")
		if r.Code != 0 {
			t.Fatalf("pull --update: code %d\nstderr: %s", r.Code, r.Stderr)
		}
		if got := readFile(lockPath); strings.Contains(got, "index = ") || strings.Contains(got, manifest.String()) {
			t.Errorf("pull --update to a manifest kept the index or the old digest:\n%s", got)
		}
	})
}
