package tests

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestImageManyEntriesRefusedEarly: a layer of 300,000 empty files (a few
// MB compressed; the 400,000 cost 81 s and 677 MB) is refused with
// the default limit of 250,000 entries, from its headers, before anything
// is written; the process's peak RSS (from the kernel's rusage) stays
// bounded by the limit, not by the layer.
func TestImageManyEntriesRefusedEarly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 300,000-entry layer")
	}
	entries := make([]tarEntry, 0, 300000)
	for i := range 300 {
		entries = append(entries, tarEntry{Name: fmt.Sprintf("d%03d/", i), Type: '5'})
		for j := range 999 {
			entries = append(entries, tarEntry{Name: fmt.Sprintf("d%03d/f%03d", i, j)})
		}
	}
	ref := "oci-layout:" + ociLayout(t, imageFromLayers(t, tarLayer(t, entries)))
	entries = nil
	home := t.TempDir()
	cmd := exec.Command(siloBin, "image", "pull", "--dir", ref)
	cmd.Env = append(cmd.Environ(), "SILO_HOME="+home)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The peak RSS of silo itself: VmHWM, read until it exits (rusage's
	// maxrss would count this test process, which the child was forked
	// from).
	var rss int
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	for waiting := true; waiting; {
		if kb, ok := vmHWM(cmd.Process.Pid); ok {
			rss = kb >> 10
		}
		select {
		case err = <-done:
			waiting = false
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err == nil || !strings.Contains(out.String(), "more than 250000 entries (raise maxFiles") {
		t.Fatalf("pull --dir of 300,000 entries: %v\n%s", err, out.String())
	}
	t.Logf("peak RSS at least %d MiB", rss)
	if rss == 0 || rss > 256 {
		t.Errorf("peak RSS %d MiB refusing 300,000 entries: more than 256 MiB", rss)
	}
}

// vmHWM is the peak resident set of process pid in KiB, from /proc.
func vmHWM(pid int) (int, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int
			_, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb)
			return kb, err == nil
		}
	}
	return 0, false
}
