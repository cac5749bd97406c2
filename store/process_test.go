package store

import (
	"bufio"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// tmpLeft lists what is left in store/.tmp besides s's own directory.
func tmpLeft(t *testing.T, s *Store) []string {
	t.Helper()
	ents, err := os.ReadDir(s.tmp)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range ents {
		if e.Name() != s.id {
			left = append(left, e.Name())
		}
	}
	return left
}

// TestCrashSafety SIGKILLs a process in the middle of a large add, 50
// times at random points; afterwards the store must hold only whole
// entries, no metadata without its entry, and nothing in .tmp.
func TestCrashSafety(t *testing.T) {
	home := t.TempDir()
	// Time one uninterrupted add of each shape to spread the kills over it.
	var full time.Duration
	for seed := -2; seed < 0; seed++ {
		start := time.Now()
		if out, err := helper(t, "add-big", home, seed).Output(); err != nil {
			t.Fatalf("helper: %v %s", err, out)
		}
		full = max(full, time.Since(start))
	}
	t.Logf("an uninterrupted add takes %v", full)
	// Kill at a random point of the add: the window adapts so that the
	// kills spread over the whole add, commit included, whatever the load.
	killed, finished := 0, 0
	window := full * 5 / 4
	for i := 0; killed < 50 && i < 300; i++ {
		cmd := helper(t, "add-big", home, i)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rand.Int64N(int64(window))))
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			killed++
			window = window * 21 / 20
		} else if err != nil {
			t.Fatalf("helper %d failed on its own: %v", i, err)
		} else {
			finished++
			window = window * 4 / 5
		}
	}
	t.Logf("%d adds killed at random points, %d finished first", killed, finished)
	if killed < 50 {
		t.Fatalf("only %d adds could be killed in 300 attempts", killed)
	}
	s, err := Open(home)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if left := tmpLeft(t, s); len(left) > 0 {
		t.Errorf(".tmp was not swept: %v", left)
	}
	rep, err := s.Verify(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Errorf("verify after crashes: %+v", rep.Problems)
	}
	entries, _ := s.List(Filter{})
	t.Logf("%d whole entries survived, %d checked", len(entries), rep.Checked)
	if len(entries) < 2 {
		t.Errorf("even the uninterrupted adds are gone: %d entries", len(entries))
	}
}

// TestGCRace runs GC in a loop while another process adds entries and
// roots them; no rooted entry (nor what it references) may ever be lost.
func TestGCRace(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 150
	}
	home := t.TempDir()
	s, err := Open(home)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cmd := helper(t, "add-and-root", home, n)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		wg             sync.WaitGroup
		gcs, collected int
		gcErr          error
		done           = make(chan struct{})
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			r, err := s.GC(GCOptions{})
			if err != nil {
				gcErr = err
				return
			}
			gcs++
			collected += len(r.Removed)
			// flock(2) is not fair: leave the adder a moment to get in.
			time.Sleep(5 * time.Millisecond)
		}
	}()
	var rooted []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		names := strings.Fields(sc.Text())
		for _, name := range names {
			if _, err := s.Get(name); err != nil {
				t.Errorf("rooted entry lost right after rooting: %v", err)
			}
		}
		rooted = append(rooted, names...)
	}
	werr := cmd.Wait()
	close(done)
	wg.Wait()
	if werr != nil {
		t.Fatalf("adder: %v", werr)
	}
	if gcErr != nil {
		t.Fatal(gcErr)
	}
	if _, err := s.GC(GCOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d adder iterations, %d GCs ran concurrently, %d entries collected", len(rooted)/2, gcs, collected)
	if len(rooted) != 2*n {
		t.Fatalf("adder rooted %d entries, want %d", len(rooted), 2*n)
	}
	for _, name := range rooted {
		if e, err := s.Get(name); err != nil {
			t.Errorf("rooted entry lost: %v", err)
		} else if _, err := os.Stat(e.Path); err != nil {
			t.Errorf("rooted entry's file lost: %v", err)
		}
	}
	if collected == 0 {
		t.Error("GC never collected the unrooted garbage")
	}
	if all, _ := s.List(Filter{}); len(all) != 2*n {
		t.Errorf("%d entries left, want exactly the %d rooted ones", len(all), 2*n)
	}
	if rep, err := s.Verify(nil, false); err != nil || !rep.OK() {
		t.Errorf("verify: %v %+v", err, rep)
	}
}

// TestTempRootDiesWithProcess: an entry held by a live process survives
// GC; once the process is SIGKILLed, it does not.
func TestTempRootDiesWithProcess(t *testing.T) {
	home := t.TempDir()
	cmd := helper(t, "hold", home, 7)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimSpace(line)
	s, err := Open(home)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.GC(GCOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(name); err != nil {
		t.Fatalf("GC collected an entry a live process holds: %v", err)
	}
	roots, _ := s.Roots()
	found := false
	for _, r := range roots {
		found = found || (r.Kind == RootTemporary && len(r.Entries) == 1 && r.Entries[0] == name)
	}
	if !found {
		t.Errorf("Roots does not show the live temporary root: %+v", roots)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	rep, err := s.GC(GCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(name); err == nil {
		t.Fatalf("entry survived its holder's death: %+v", rep)
	}
	if ents, _ := os.ReadDir(filepath.Join(home, "roots", tempRoots)); len(ents) != 1 {
		t.Errorf("dead temporary roots left: %d files, want only ours", len(ents))
	}
}

// TestConcurrentAddSameTree: two processes add the same tree at once; both
// succeed with the same entry, and the store stays sound.
func TestConcurrentAddSameTree(t *testing.T) {
	home := t.TempDir()
	for round := range 5 {
		src := t.TempDir()
		for i := range 200 {
			writeFile(t, src, filepath.Join(strconv.Itoa(i%7), strconv.Itoa(i)), []byte(strconv.Itoa(round*1000+i)), 0o644)
		}
		var wg sync.WaitGroup
		outs := make([]string, 2)
		for k := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b, err := helper(t, "add-tree", home, 0, "SILO_STORE_SRC="+src).Output()
				if err != nil {
					t.Errorf("adder %d: %v", k, err)
				}
				outs[k] = strings.TrimSpace(string(b))
			}()
		}
		wg.Wait()
		if outs[0] == "" || outs[0] != outs[1] {
			t.Fatalf("round %d: names %q and %q", round, outs[0], outs[1])
		}
	}
	s, err := Open(home)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if rep, err := s.Verify(nil, false); err != nil || !rep.OK() || rep.Checked != 5 {
		t.Errorf("verify: %v %+v", err, rep)
	}
}

// TestUnprivileged runs the tree operations as uid 65534: renaming a
// read-only tree needs care that root never needs.
func TestUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to an unprivileged uid")
	}
	base := t.TempDir()
	for p := base; p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
		os.Chmod(p, 0o755)
	}
	bin := filepath.Join(base, "store.test")
	copyFile(t, os.Args[0], bin)
	os.Chmod(bin, 0o755)
	home := filepath.Join(base, "home")
	os.Mkdir(home, 0o755)
	os.Chown(home, 65534, 65534)
	cmd := helper(t, "unprivileged", home, 0)
	cmd.Path, cmd.Args[0] = bin, bin
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	cmd.Stderr = nil
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("as uid 65534: %v\n%s", err, out)
	}
}
