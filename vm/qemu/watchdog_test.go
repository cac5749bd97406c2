package qemu

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/silo-dev/silo/vm"
	"github.com/silo-dev/silo/vm/session"
)

// TestWatchdogBootDeadline: a VM whose agent is not ready within the boot
// deadline is killed and reported.
func TestWatchdogBootDeadline(t *testing.T) {
	r := bootable(t)
	spec := &vm.Spec{
		RootfsImage: busyboxRootfs(t), Kernel: r.kernel, Initfs: r.initfs, Workspace: t.TempDir(),
		Argv: []string{"/bin/true"}, Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard,
		BootTimeout: 300 * time.Millisecond, // no TCG boot is this fast
	}
	start := time.Now()
	_, err := New(Options{Home: r.home, Accel: AccelTCG}).Run(context.Background(), spec)
	if !errors.Is(err, ErrWatchdog) || !errors.Is(err, session.ErrBootTimeout) || !strings.Contains(err.Error(), "within 300ms") {
		t.Fatalf("err = %v, want the boot watchdog", err)
	}
	t.Logf("killed after %v: %v", time.Since(start), err)
	assertNoQEMUChild(t)
}

// TestWatchdogHang: a VM that stops answering while its command runs (here
// QEMU is frozen with SIGSTOP, as a hung guest would be) is killed.
func TestWatchdogHang(t *testing.T) {
	r := bootable(t)
	stdout := &signalWriter{want: "started", hit: make(chan struct{})}
	spec := &vm.Spec{
		RootfsImage: busyboxRootfs(t), Kernel: r.kernel, Initfs: r.initfs, Workspace: t.TempDir(),
		Argv: []string{"/bin/sh", "-c", "echo started; sleep 600"}, Env: []string{"PATH=/bin"},
		Stdin: strings.NewReader(""), Stdout: stdout, Stderr: io.Discard,
	}
	go func() {
		select {
		case <-stdout.hit:
		case <-time.After(2 * time.Minute):
			return
		}
		for _, pid := range qemuChildren() {
			syscall.Kill(pid, syscall.SIGSTOP)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	_, err := New(Options{Home: r.home, Accel: AccelTCG, HangTimeout: 3 * time.Second}).Run(ctx, spec)
	if !errors.Is(err, ErrWatchdog) || !strings.Contains(err.Error(), "stopped responding") {
		t.Fatalf("err = %v, want the hang watchdog", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the test's own deadline ended the run, not the watchdog")
	}
	assertNoQEMUChild(t)
}

// signalWriter closes hit once want has been written to it.
type signalWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	hit  chan struct{}
	once sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.hit) })
	}
	return len(p), nil
}

// qemuChildren returns the pids of this process's qemu children.
func qemuChildren() []int {
	var pids []int
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		fields := strings.Fields(s[close+1:])
		if len(fields) < 2 || !strings.HasPrefix(s[open+1:close], "qemu-system") {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid == os.Getpid() && fields[0] != "Z" {
			pid, _ := strconv.Atoi(s[:strings.IndexByte(s, ' ')])
			pids = append(pids, pid)
		}
	}
	return pids
}

func assertNoQEMUChild(t *testing.T) {
	t.Helper()
	if pids := qemuChildren(); len(pids) > 0 {
		t.Fatalf("qemu still running after Run returned: %v", pids)
	}
}
