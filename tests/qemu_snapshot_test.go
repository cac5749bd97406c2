package tests

// VM runs restored from a memory snapshot (issue 14), through the built
// binary. One snapshot serves every subtest, to keep the boots few.

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// snapshotProbe is what each run prints: the kernel's credited entropy
// before anything read it (Linux 6.1: 256 once the CRNG is fully seeded),
// the workspace's mark, a hash of 32 bytes of /dev/urandom, and the
// guest's clock in Unix seconds.
const snapshotProbe = `cat /proc/sys/kernel/random/entropy_avail; cat mark; echo; head -c 32 /dev/urandom | sha256sum | cut -c1-64; date +%s`

type snapshotRun struct {
	entropy      int
	mark, random string
	clock        int64
	restored     bool
	stderr       string
}

// runSnapshotProbe runs the probe with --timing and says whether the VM
// was restored (the "restore" phase) rather than booted.
func runSnapshotProbe(t *testing.T, s *sandbox, ws string) snapshotRun {
	t.Helper()
	r := s.silo(t, ws, nil, nil, "exec", "--timing", "bb", "sh", "-c", snapshotProbe)
	if r.Code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if len(lines) != 4 {
		t.Fatalf("stdout %q: want entropy, mark, random, clock", r.Stdout)
	}
	entropy, err := strconv.Atoi(lines[0])
	if err != nil {
		t.Fatalf("guest entropy_avail %q: %v", lines[0], err)
	}
	clock, err := strconv.ParseInt(lines[3], 10, 64)
	if err != nil {
		t.Fatalf("guest clock %q: %v", lines[3], err)
	}
	return snapshotRun{entropy: entropy, mark: lines[1], random: lines[2], clock: clock, restored: strings.Contains(r.Stderr, "silo:   restore "), stderr: r.Stderr}
}

// runtimeEntries returns the runtime status's entries of kind.
func runtimeEntries(t *testing.T, s *sandbox, kind string) (current, stale []string) {
	t.Helper()
	r := s.silo(t, t.TempDir(), nil, nil, "runtime", "status", "--json")
	var st struct {
		Entries []struct {
			Name, Kind string
			Current    bool
		}
	}
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
		t.Fatalf("runtime status: %v\n%s%s", err, r.Stdout, r.Stderr)
	}
	for _, e := range st.Entries {
		switch {
		case e.Kind != kind:
		case e.Current:
			current = append(current, e.Name)
		default:
			stale = append(stale, e.Name)
		}
	}
	return current, stale
}

func setMark(t *testing.T, ws string) string {
	t.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	mark := hex.EncodeToString(b)
	writeFile(t, filepath.Join(ws, "mark"), mark)
	return mark
}

func TestQemuSnapshot(t *testing.T) {
	s := qemuSandbox(t)
	ws := s.project(t)
	mark := setMark(t, ws)
	first := runSnapshotProbe(t, s, ws)
	if !first.restored || first.mark != mark {
		t.Fatalf("first run: restored %v, mark %q want %q\n%s", first.restored, first.mark, mark, first.stderr)
	}
	snaps, _ := runtimeEntries(t, s, "snapshot")
	if len(snaps) != 1 {
		t.Fatalf("runtime status: current snapshots %v, want one", snaps)
	}
	snapshot := filepath.Join(s.home, "store", snaps[0])
	fi, err := os.Stat(snapshot)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("snapshot %s: %d MB", snaps[0], fi.Size()>>20)

	t.Run("own files, random bytes and clock", func(t *testing.T) {
		// The snapshot's clock must be visibly old for the check to mean
		// anything: a guest that kept it would be seconds behind.
		if age := time.Since(fi.ModTime()); age < 4*time.Second {
			time.Sleep(4*time.Second - age)
		}
		mark := setMark(t, ws)
		before := time.Now().Unix()
		second := runSnapshotProbe(t, s, ws)
		after := time.Now().Unix()
		if !second.restored {
			t.Fatalf("second run booted instead of restoring:\n%s", second.stderr)
		}
		if second.mark != mark {
			t.Errorf("restored run after the workspace changed: mark %q, want %q", second.mark, mark)
		}
		if second.random == first.random {
			t.Errorf("two restored runs read the same bytes from /dev/urandom: %s", first.random)
		}
		// The snapshot is taken before the guest's CRNG is seeded: only
		// the host's entropy, credited at resume, seeds it before the
		// command starts.
		for i, r := range []snapshotRun{first, second} {
			if r.entropy < 256 {
				t.Errorf("restored run %d: the guest's RNG holds %d bits of entropy when the command starts, want 256 (seeded by the host)", i+1, r.entropy)
			}
		}
		if second.clock < before-1 || second.clock > after+1 {
			t.Errorf("restored guest's clock %d, host's was %d…%d", second.clock, before, after)
		}
	})

	t.Run("a damaged snapshot falls back and is rebuilt", func(t *testing.T) {
		if err := os.Chmod(snapshot, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(snapshot, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.WriteAt(make([]byte, 4096), 0)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		mark := setMark(t, ws)
		fell := runSnapshotProbe(t, s, ws)
		if fell.restored || fell.mark != mark || strings.Count(fell.stderr, "did not restore") != 1 {
			t.Fatalf("run over a damaged snapshot: restored %v, mark %q want %q; want one line saying why:\n%s", fell.restored, fell.mark, mark, fell.stderr)
		}
		again := runSnapshotProbe(t, s, ws)
		if !again.restored || strings.Contains(again.stderr, "did not restore") {
			t.Fatalf("the run after: restored %v, want a rebuilt snapshot restored:\n%s", again.restored, again.stderr)
		}
		cur, stale := runtimeEntries(t, s, "snapshot")
		if len(cur) != 1 || cur[0] == snaps[0] {
			t.Fatalf("current snapshots %v (stale %v): want one, not the damaged %s", cur, stale, snaps[0])
		}
		snaps = cur
	})

	t.Run("store gc removes snapshots of a kernel no longer current; dry runs list them", func(t *testing.T) {
		// The same kernel with one module more is another kernel entry.
		vmlinuz, mods := debianKernel(t)
		if r := s.silo(t, t.TempDir(), nil, nil, "runtime", "import-kernel", vmlinuz, "--modules", mods, "--module", "loop"); r.Code != 0 {
			t.Fatalf("import-kernel: exit %d\n%s", r.Code, r.Stderr)
		}
		old := filepath.Join(s.home, "store", snaps[0])
		// The restores so far mapped the snapshot's RAM from files made
		// of it, which the collection must take with the entry.
		ram, _ := filepath.Glob(filepath.Join(s.home, "runtime", "snapshot-ram", snaps[0]+"@*"))
		if len(ram) == 0 {
			t.Fatalf("no RAM files made of %s in runtime/snapshot-ram", snaps[0])
		}
		// Both dry runs list the stale snapshot and remove nothing.
		for _, cmd := range [][]string{{"store", "gc", "--dry-run"}, {"runtime", "gc", "--dry-run"}} {
			r := s.silo(t, t.TempDir(), nil, nil, cmd...)
			if r.Code != 0 || !strings.Contains(r.Stdout, "would remove "+snaps[0]) {
				t.Errorf("silo %s: exit %d, want %s listed:\n%s%s", strings.Join(cmd, " "), r.Code, snaps[0], r.Stdout, r.Stderr)
			}
			if _, err := os.Stat(old); err != nil {
				t.Fatalf("silo %s removed the snapshot: %v", strings.Join(cmd, " "), err)
			}
			if cur, _ := runtimeEntries(t, s, "snapshot"); len(cur) != 1 {
				t.Fatalf("after silo %s: current snapshots %v, want the root kept", strings.Join(cmd, " "), cur)
			}
		}
		if r := s.silo(t, t.TempDir(), nil, nil, "store", "gc"); r.Code != 0 || !strings.Contains(r.Stdout, "removed "+snaps[0]) {
			t.Fatalf("store gc: exit %d, want %s removed:\n%s%s", r.Code, snaps[0], r.Stdout, r.Stderr)
		}
		cur, stale := runtimeEntries(t, s, "snapshot")
		if len(cur)+len(stale) != 0 {
			t.Errorf("after a new kernel and store gc: snapshots %v %v, want none", cur, stale)
		}
		if _, err := os.Stat(old); !os.IsNotExist(err) {
			t.Errorf("the old kernel's snapshot is still in the store: %v", err)
		}
		for _, p := range ram {
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Errorf("the collected snapshot's RAM file %s is still there: %v", p, err)
			}
		}
	})
}
