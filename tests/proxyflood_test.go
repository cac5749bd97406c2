package tests

// A hostile command floods the sandbox's proxy port: thousands of
// connections, each sending data and never reading. The host silo process
// must hold no more than a fixed budget for it, however many connections
// the sandbox opens (issue 16, item 5: before the fix, about 600 KB per
// connection stayed buffered on the host).

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// floodProbe opens N connections to the proxy port, writes up to SIZE
// bytes on each without reading (giving up on a connection after a few
// seconds without progress), prints "flooded", and exits once the file
// named by its third argument exists.
const floodProbe = `package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	n, _ := strconv.Atoi(os.Args[1])
	size, _ := strconv.Atoi(os.Args[2])
	var wg sync.WaitGroup
	var opened, sent atomic.Int64
	chunk := make([]byte, 32<<10)
	for i := range chunk {
		chunk[i] = 'A'
	}
	var conns []net.Conn
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", "127.0.0.1:3128")
		if err != nil {
			continue
		}
		opened.Add(1)
		conns = append(conns, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left := size; left > 0; left -= len(chunk) {
				c.SetWriteDeadline(time.Now().Add(5 * time.Second))
				k, err := c.Write(chunk[:min(left, len(chunk))])
				sent.Add(int64(k))
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	fmt.Printf("flooded %d connections, %d bytes\n", opened.Load(), sent.Load())
	for {
		if _, err := os.Stat(os.Args[3]); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, c := range conns {
		c.Close()
	}
}
`

// buildFlood builds floodProbe, statically, at out.
func buildFlood(t *testing.T, out string) {
	t.Helper()
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "main.go"), floodProbe)
	writeFile(t, filepath.Join(src, "go.mod"), "module flood\n\ngo 1.22\n")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the flood probe: %v\n%s", err, b)
	}
}

// peakRSS runs the flood probe with n connections in a sandbox (silo
// home and user home, workspace ws) and returns the host silo process's VmHWM (peak resident set) in KiB,
// read from /proc while the probe holds its connections open, and what
// the probe printed.
func peakRSS(t *testing.T, home, userHome, ws string, env []string, n, size int) (int, string) {
	t.Helper()
	release := filepath.Join(ws, "release")
	os.Remove(release)
	cmd := exec.Command(siloBin, "exec", "bb", "/workspace/flood", strconv.Itoa(n), strconv.Itoa(size), "/workspace/release")
	cmd.Dir = ws
	cmd.Env = append(append(os.Environ(), "SILO_HOME="+home, "HOME="+userHome), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		writeFile(t, release, "")
		if err := cmd.Wait(); err != nil {
			t.Errorf("silo run: %v\n%s", err, stderr.String())
		}
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if !strings.HasPrefix(line, "flooded") {
		t.Fatalf("the probe said %q (%v); stderr %s", line, err, stderr.String())
	}
	status := readFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb, strings.TrimSpace(line)
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status:\n%s", cmd.Process.Pid, status)
	return 0, ""
}

// TestProxyFloodMemory: a sandbox that opens thousands of connections to
// its proxy port and sends on each cannot grow the host process past a
// fixed budget. The baseline is the same probe with no connection, in the
// same run. SILO_FLOOD_CONNS changes the number of connections.
func TestProxyFloodMemory(t *testing.T) {
	e := newNetEnv(t)
	ws := e.project(t, `proxy.allow = ["allowed.test"]`)
	floodBounded(t, e.home, e.userHome, ws, []string{"SILO_BACKEND=namespace"}, 3000)
}

// TestQemuProxyFloodMemory: the same on the qemu backend, whose streams go
// over the same host session, from a guest with 512 MiB. (In a 256 MiB
// guest under TCG the flood sometimes stalls the guest past the 30 s
// watchdog, which then kills the VM, as it should a guest that stops
// answering, and there is nothing left to measure. What stalls the guest
// is not found yet: after a flood that completes, the guest's memory and
// socket use are small.)
func TestQemuProxyFloodMemory(t *testing.T) {
	s := qemuSandbox(t)
	ws := t.TempDir()
	writeTrusted(t, s.home, filepath.Join(ws, "silo.toml"),
		"tools = [\"bb\"]\n[overrides.bb]\nmemoryMB = 512\n[overrides.bb.network]\nproxy.allow = [\"allowed.test\"]\n")
	floodBounded(t, s.home, s.userHome, ws, []string{"SILO_BACKEND=qemu"}, 2000)
}

// floodBounded floods the proxy port of a sandbox with n connections of
// 1 MiB each and checks the host process's growth against the budget.
func floodBounded(t *testing.T, home, userHome, ws string, env []string, n int) {
	buildFlood(t, filepath.Join(ws, "flood"))
	if v := os.Getenv("SILO_FLOOD_CONNS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	base, _ := peakRSS(t, home, userHome, ws, env, 0, 0)
	start := time.Now()
	peak, said := peakRSS(t, home, userHome, ws, env, n, 1<<20)
	t.Logf("host silo VmHWM: %d MiB at rest, %d MiB after the probe %s (in %s)", base>>10, peak>>10, said, time.Since(start).Round(time.Second))
	// The streams' budget is 64 MiB (vm's streamBudget); the rest is
	// slack for the runtime.
	if grew := (peak - base) >> 10; grew > 96 {
		t.Errorf("the host process grew by %d MiB for %d hostile connections; the budget is 64 MiB", grew, n)
	}
}
