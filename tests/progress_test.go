package tests

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestProgressSteps: the long steps of a first run say what they do on a
// pipe, one line each (SILO_PROGRESS_AFTER=0 shows every step, however
// short); a warm run says nothing; -q silences them.
func TestProgressSteps(t *testing.T) {
	s := newSandbox(t, "namespace")
	ws := s.project(t)
	show := []string{"SILO_PROGRESS_AFTER=0"}
	r := s.silo(t, ws, show, nil, "exec", "bb", "true")
	if r.Code != 0 || strings.Count(r.Stderr, "silo: assembling the dir rootfs of ") != 1 {
		t.Fatalf("first run: exit %d, stderr %q; want one line saying the rootfs is assembled", r.Code, r.Stderr)
	}
	if r = s.silo(t, ws, show, nil, "exec", "bb", "true"); strings.Contains(r.Stderr, "assembling") {
		t.Errorf("warm run: stderr %q; want nothing assembled", r.Stderr)
	}

	// A compressed rootfs is decompressed on use, and says so.
	if c := s.silo(t, ws, nil, nil, "cache", "compress", "--all"); c.Code != 0 {
		t.Fatalf("compress: %d %s", c.Code, c.Stderr)
	}
	if r = s.silo(t, ws, show, nil, "exec", "bb", "true"); r.Code != 0 || !strings.Contains(r.Stderr, "silo: decompressing ") {
		t.Errorf("run after compress: exit %d, stderr %q; want a line saying what is decompressed", r.Code, r.Stderr)
	}

	// -q: nothing, on a first run either.
	q := newSandbox(t, "namespace")
	if r = q.silo(t, q.project(t), show, nil, "-q", "exec", "bb", "true"); r.Code != 0 || r.Stderr != "" {
		t.Errorf("-q first run: exit %d, stderr %q; want silence", r.Code, r.Stderr)
	}
}

// TestProgressLockWait: a run that waits for another process's store lock
// says so, naming the pid that holds it, and goes on once it is released.
func TestProgressLockWait(t *testing.T) {
	s := newSandbox(t, "namespace")
	ws := s.project(t)
	if r := s.silo(t, ws, nil, nil, "store", "ls"); r.Code != 0 {
		t.Fatalf("store ls: %d %s", r.Code, r.Stderr)
	}
	lock, err := os.Open(filepath.Join(s.home, "store", ".lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(siloBin, "exec", "bb", "true")
	cmd.Dir = ws
	cmd.Env = append(os.Environ(), "SILO_HOME="+s.home, "HOME="+s.userHome, "SILO_BACKEND=namespace")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("waiting for the store lock, held by pid %d", os.Getpid())
	sc := bufio.NewScanner(stderr)
	var seen []string
	for sc.Scan() {
		seen = append(seen, sc.Text())
		if strings.Contains(sc.Text(), want) {
			break
		}
	}
	// Release the lock whatever was seen, so that the run can end.
	syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	for sc.Scan() {
		seen = append(seen, sc.Text())
	}
	err = cmd.Wait()
	if !strings.Contains(strings.Join(seen, "\n"), want) {
		t.Errorf("stderr %q lacks %q", seen, want)
	}
	if err != nil {
		t.Errorf("the run after the lock was released: %v\n%s", err, strings.Join(seen, "\n"))
	}
}
