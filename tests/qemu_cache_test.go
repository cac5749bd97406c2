package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQemuCacheSurvivesRuns: a tool's [[cache]] directories reach the VM
// through the built binary, what one run writes there the next one reads,
// the host holds it under $SILO_HOME/cache, and nothing else outlives the
// run. Two boots.
func TestQemuCacheSurvivesRuns(t *testing.T) {
	s := qemuSandbox(t)
	f, err := os.OpenFile(filepath.Join(s.home, "config.toml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "[[tool.bb.cache]]\nguest = \"/root/.cache/pip\"\n[[tool.bb.cache]]\nguest = \"/root/.npm\"\n")
	f.Close()
	ws := s.project(t)
	s.sh(t, ws, "echo downloaded > /root/.cache/pip/wheel && echo tarball > /root/.npm/pkg && echo elsewhere > /root/gone")
	got := s.sh(t, ws, "cat /root/.cache/pip/wheel /root/.npm/pkg; ls /root/gone 2>&1 || true")
	if !strings.HasPrefix(got, "downloaded\ntarball\n") || !strings.Contains(got, "No such file") {
		t.Errorf("second run: %q (want both cached files, and nothing else kept)", got)
	}
	found := map[string]string{}
	filepath.Walk(filepath.Join(s.home, "cache"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && (fi.Name() == "wheel" || fi.Name() == "pkg") {
			found[fi.Name()] = p
		}
		return nil
	})
	if len(found) != 2 || readFile(found["wheel"]) != "downloaded\n" || readFile(found["pkg"]) != "tarball\n" {
		t.Fatalf("the caches on the host: %q", found)
	}
	if filepath.Dir(found["wheel"]) == filepath.Dir(found["pkg"]) {
		t.Errorf("both caches in one host directory: %q", found)
	}
	t.Logf("on the host: %q", found)
}
