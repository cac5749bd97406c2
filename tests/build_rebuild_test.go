package tests

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRebuild: silo rebuild runs the stored steps again and keeps what
// they make now. A reproducible step rebuilds to the same output and says
// so, leaving silo.lock as it was; a step that writes the time rebuilds
// to a new output, which the next run sees and silo.lock pins (with
// --setup, and with --all).
func TestRebuild(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		p := newBuildProject(t, s.backend)
		lockPath := filepath.Join(p.ws, "silo.lock")
		p.must(t, "build", "bb", "sh", "-c", "mkdir -p /opt && cat requirements.txt > /opt/req")
		lock1 := readFile(lockPath)
		r := p.must(t, "rebuild", "bb")
		if !strings.Contains(r.Stderr, "build bb step 1") || !strings.Contains(r.Stderr, "rebuilt to the same output as before (reproducible)") {
			t.Errorf("rebuild of a reproducible step does not say it ran and made the same output:\n%s", r.Stderr)
		}
		if got := readFile(lockPath); got != lock1 {
			t.Errorf("rebuild of a reproducible step changed silo.lock:\n%s\nwas:\n%s", got, lock1)
		}

		// --setup replaces the project's step with one that is not
		// reproducible: each rebuild makes another output.
		stamp := "mkdir -p /opt && { date +%s%N; cat /proc/sys/kernel/random/uuid; } > /opt/stamp"
		p.must(t, "rebuild", "bb", "--setup", stamp)
		lock2 := readFile(lockPath)
		if !strings.Contains(lock2, "random/uuid") {
			t.Fatalf("rebuild --setup did not put the script in silo.lock:\n%s", lock2)
		}
		see := func() string {
			t.Helper()
			r := p.must(t, "exec", "--locked", "bb", "cat", "/opt/stamp")
			if r.Stdout == "" {
				t.Fatalf("a run does not see the build's /opt/stamp:\n%s", r.Stderr)
			}
			return r.Stdout
		}
		stamp1 := see()
		if see() != stamp1 {
			t.Fatal("two runs of one build see different stamps")
		}
		for _, args := range [][]string{{"rebuild", "bb"}, {"rebuild", "--all"}} {
			r = p.must(t, args...)
			if !strings.Contains(r.Stderr, "rebuilt to a different output than before (not reproducible)") {
				t.Errorf("silo %s of a date step does not say its output differs:\n%s", args, r.Stderr)
			}
			stamp2 := see()
			if stamp2 == stamp1 {
				t.Errorf("after silo %s, a run still sees the old output %q", args, stamp1)
			}
			lock3 := readFile(lockPath)
			if layers(lock3) == layers(lock2) || lock3 == lock2 {
				t.Errorf("silo %s did not change the locked output hash:\n%s", args, lock3)
			}
			if r := p.s.silo(t, p.ws, nil, nil, "pull"); r.Code != 0 || !strings.Contains(r.Stdout, "bb: in sync") {
				t.Errorf("pull after silo %s: code %d\nstdout: %s\nstderr: %s", args, r.Code, r.Stdout, r.Stderr)
			}
			stamp1, lock2 = stamp2, lock3
		}
		// The rebuilt output outlives a GC: the lock roots it.
		p.must(t, "store", "gc")
		if got := see(); got != stamp1 {
			t.Errorf("after store gc a run sees %q, not the rebuilt %q", got, stamp1)
		}
	})
}

// layers are the layer lines of a lock.
func layers(lock string) string {
	return strings.Join(regexp.MustCompile(`(?m)^layer = .*$`).FindAllString(lock, -1), "\n")
}
