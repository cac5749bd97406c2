package store

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Progress is told about a step of the store's that may take long: a
// decompression, a wait for another process's store lock. The caller
// renders it (cmd/silo draws a bar on a terminal, one line per step on a
// pipe, only for steps over half a second). Begin opens a step: what it
// is and the name of its units ("bytes", "files", "" for a wait);
// Advance says how many units are done and how many there are in all (0
// while unknown); End closes it. Steps do not nest.
type Progress interface {
	Begin(what, unit string)
	Advance(done, total int64)
	End()
}

// nopProgress is the Progress of a handle that was given none.
type nopProgress struct{}

func (nopProgress) Begin(string, string) {}
func (nopProgress) Advance(int64, int64) {}
func (nopProgress) End()                 {}

// SetProgress sets what the handle tells about its long steps (nil: nothing).
func (s *Store) SetProgress(p Progress) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.progress = p
}

// prog returns the handle's Progress, never nil.
func (s *Store) prog() Progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.progress == nil {
		return nopProgress{}
	}
	return s.progress
}

// progressReader advances p by the bytes read through it.
type progressReader struct {
	r           io.Reader
	p           Progress
	done, total int64
}

func (pr *progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.done += int64(n)
	pr.p.Advance(pr.done, pr.total)
	return n, err
}

// lockHolder names the process holding a lock on f that conflicts with
// the one wanted (any lock for an exclusive one, a write lock for a shared
// one), from /proc/locks: "pid 1234 (silo)", or "" when none is found.
func lockHolder(f *os.File, exclusive bool) string {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return ""
	}
	id := fmt.Sprintf("%02x:%02x:%d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	pl, err := os.Open("/proc/locks")
	if err != nil {
		return ""
	}
	defer pl.Close()
	sc := bufio.NewScanner(pl)
	for sc.Scan() {
		// "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; waiters have "->".
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[1] == "->" || f[1] != "FLOCK" || f[5] != id {
			continue
		}
		if !exclusive && f[3] != "WRITE" {
			continue
		}
		pid, err := strconv.Atoi(f[4])
		if err != nil || pid == os.Getpid() {
			continue
		}
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if c := strings.TrimSpace(string(comm)); c != "" {
			return fmt.Sprintf("pid %d (%s)", pid, c)
		}
		return fmt.Sprintf("pid %d", pid)
	}
	return ""
}
