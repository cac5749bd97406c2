package tests

// The runtime contract on the qemu backend, through the built binary.
// Under TCG every run is a full VM boot (~2–5 s here), so the cases that
// need a VM are folded into a few runs; the namespace backend runs the
// full table in contract_test.go.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/silo-dev/silo/vm"
	_ "github.com/silo-dev/silo/vm/qemu" // registers the qemu backend
)

// debianKernel returns the kernel scripts/fetch-kernel.sh unpacked, or
// skips the test.
func debianKernel(t testing.TB) (vmlinuz, modules string) {
	t.Helper()
	root := filepath.Join(repoRoot, ".cache", "kernel")
	imgs, _ := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	mods, _ := filepath.Glob(filepath.Join(root, "lib", "modules", "*"))
	if len(imgs) == 0 || len(mods) == 0 {
		t.Skip("no kernel in .cache/kernel: run make kernel")
	}
	return imgs[0], mods[0]
}

// qemuSandbox is the contract sandbox on the qemu backend, with Debian's
// kernel imported through `silo runtime import-kernel`.
func qemuSandbox(t *testing.T) *sandbox {
	t.Helper()
	if testing.Short() {
		t.Skip("boots VMs under TCG: skipped with -short")
	}
	b, err := vm.NewRegistry(vm.Options{Home: t.TempDir()}).Lookup("qemu")
	if err != nil {
		t.Skipf("qemu backend not built in: %v", err)
	}
	if err := b.Available(); err != nil {
		t.Skipf("qemu backend cannot run here: %v", err)
	}
	vmlinuz, mods := debianKernel(t)
	s := newSandbox(t, "qemu")
	r := silo(t, s.home, t.TempDir(), nil, nil, "runtime", "import-kernel", vmlinuz, "--modules", mods)
	if r.Code != 0 {
		t.Fatalf("import-kernel: exit %d\n%s", r.Code, r.Stderr)
	}
	return s
}

func TestQemuContract(t *testing.T) {
	s := qemuSandbox(t)
	ws := s.project(t)
	t.Run("exit codes, stdio, binary stdin", func(t *testing.T) {
		in := make([]byte, 1<<20)
		rand.Read(in)
		sum := sha256.Sum256(in)
		r := s.run(t, ws, nil, in, "sh", "-c", "sha256sum; echo to-err >&2; exit 42")
		want := hex.EncodeToString(sum[:])
		if r.Code != 42 || !strings.HasPrefix(r.Stdout, want) || r.Stderr != "to-err\n" {
			t.Errorf("exit %d stdout %q stderr %q; want 42, %s…, to-err", r.Code, r.Stdout, r.Stderr, want)
		}
		if r := s.run(t, ws, nil, nil, "false"); r.Code != 1 {
			t.Errorf("false: exit %d (%s)", r.Code, r.Stderr)
		}
		if r := s.run(t, ws, nil, nil, "sh", "-c", "kill -KILL $$"); r.Code != 128+9 {
			t.Errorf("kill -KILL $$: exit %d (%s)", r.Code, r.Stderr)
		}
	})
	t.Run("boundaries", func(t *testing.T) { qemuBoundaries(t, s, ws) })
	t.Run("fault signals to PID 1", func(t *testing.T) { agentSurvivesFaultSignals(t, s, ws) })
	t.Run("SIGINT reaches the guest", func(t *testing.T) { qemuSigint(t, s, ws) })
	t.Run("hung guest is killed", func(t *testing.T) { qemuHang(t, s, ws) })
	t.Run("SSH agent", func(t *testing.T) { sshAgentForwarded(t, s) })
	t.Run("host git runs nothing planted", func(t *testing.T) { hostGitRunsNothingPlanted(t, s) })
	t.Run("no setuid leaves", func(t *testing.T) { noSetuidLeaves(t, s) })
	// Last: it gives the tool an image with git.
	t.Run("git works inside", func(t *testing.T) { gitWorksInside(t, s) })
}

// qemuBoundaries tries every boundary from one VM run.
func qemuBoundaries(t *testing.T, s *sandbox, ws string) {
	sub := filepath.Join(ws, "sub dir")
	writeFile(t, filepath.Join(ws, ".git/config"), "[core]\n")
	writeFile(t, filepath.Join(sub, "keep"), "")
	if err := os.Symlink(filepath.Join(s.userHome, ".ssh", "id_rsa"), filepath.Join(ws, "key-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(ws, "passwd-link")); err != nil {
		t.Fatal(err)
	}
	entries := rootfsEntries(t, s.home)
	before := map[string]string{}
	for _, e := range entries {
		before[e] = treeHash(t, e)
	}
	toml := readFile(filepath.Join(ws, "silo.toml"))
	script := `pwd; env
echo made > made.txt
(echo evil >> ../silo.toml) 2>/dev/null && echo BREACH-toml
(mkdir -p ../.git/hooks && echo evil > ../.git/hooks/post-checkout) 2>/dev/null && echo BREACH-hooks
(echo evil >> ../.git/config) 2>/dev/null && echo BREACH-gitconfig
mkdir -p ../node_modules/pkg && echo x > ../node_modules/pkg/index.js && echo excluded-written
cat ../key-link ../passwd-link 2>&1; ls -a /root 2>&1
(unshare -U -r true) 2>/dev/null && echo BREACH-userns
grep '^Seccomp:' /proc/self/status
rm -rf /bin /etc /lib 2>/dev/null; true`
	env := []string{"AWS_SECRET_ACCESS_KEY=host-aws-secret", "SILO_TEST_PASS=passed-in"}
	r := s.run(t, sub, env, nil, "sh", "-c", script)
	if r.Code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	out := r.Stdout
	t.Logf("inside:\n%s", out)
	if !strings.HasPrefix(out, "/workspace/sub dir\n") {
		t.Errorf("cwd inside: %q", strings.SplitN(out, "\n", 2)[0])
	}
	for _, leak := range []string{"BREACH", "host-aws-secret", "AWS_SECRET_ACCESS_KEY", "host secret", "id_rsa", readFirstLine("/etc/passwd")} {
		if strings.Contains(out, leak) {
			t.Errorf("%q inside:\n%s", leak, out)
		}
	}
	for _, want := range []string{"SILO_TEST_PASS=passed-in\n", "excluded-written\n", "Seccomp:\t2\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("%q missing inside:\n%s", want, out)
		}
	}
	checkHostAfterBoundaries(t, ws, sub, toml)
	for _, e := range entries {
		if treeHash(t, e) != before[e] {
			t.Errorf("store entry %s changed", filepath.Base(e))
		}
	}
}

func readFirstLine(p string) string {
	line, _, _ := strings.Cut(readFile(p), "\n")
	return line
}

// checkHostAfterBoundaries checks the host side of qemuBoundaries.
func checkHostAfterBoundaries(t *testing.T, ws, sub, toml string) {
	t.Helper()
	p := filepath.Join(sub, "made.txt")
	fi, err := os.Stat(p)
	if err != nil || readFile(p) != "made\n" {
		t.Fatalf("made.txt on the host: %v %q", err, readFile(p))
	}
	if uid := fi.Sys().(*syscall.Stat_t).Uid; int(uid) != os.Getuid() {
		t.Errorf("made.txt owned by uid %d, want %d", uid, os.Getuid())
	}
	if got := readFile(filepath.Join(ws, "silo.toml")); got != toml {
		t.Errorf("silo.toml changed: %q", got)
	}
	if got := readFile(filepath.Join(ws, ".git/config")); got != "[core]\n" {
		t.Errorf(".git/config changed: %q", got)
	}
	for _, p := range []string{".git/hooks/post-checkout", "node_modules/pkg/index.js"} {
		if _, err := os.Stat(filepath.Join(ws, p)); err == nil {
			t.Errorf("%s appeared on the host", p)
		}
	}
}

// qemuSigint sends SIGINT to silo once the guest's trap is set, and
// expects the guest's handler to run.
func qemuSigint(t *testing.T, s *sandbox, ws string) {
	cmd := exec.Command(siloBin, "exec", "bb", "sh", "-c", `trap 'echo got-int; exit 7' INT; echo ready; while :; do sleep 1; done`)
	cmd.Dir = ws
	cmd.Env = append(os.Environ(), "SILO_HOME="+s.home, "HOME="+s.userHome, "SILO_BACKEND=qemu")
	// Its own process group, signalled as a whole: what a terminal's
	// Ctrl-C does to the foreground job.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	rd, stderr, done := startReady(t, cmd)
	defer close(done)
	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	rest, _ := io.ReadAll(rd)
	err := cmd.Wait()
	code := cmd.ProcessState.ExitCode()
	if string(rest) != "got-int\n" || code != 7 {
		t.Errorf("after SIGINT: stdout %q, exit %d (%v); want got-int, 7; stderr: %s", rest, code, err, stderr.String())
	}
}

// qemuHang freezes the VM (SIGSTOP to silo's qemu child) while its command
// runs, and expects silo's watchdog to kill it and say so.
func qemuHang(t *testing.T, s *sandbox, ws string) {
	cmd := exec.Command(siloBin, "exec", "bb", "sh", "-c", "echo ready; sleep 600")
	cmd.Dir = ws
	cmd.Env = append(os.Environ(), "SILO_HOME="+s.home, "HOME="+s.userHome, "SILO_BACKEND=qemu", "SILO_VM_HANG_TIMEOUT=3s")
	rd, stderr, done := startReady(t, cmd)
	defer close(done)
	pids := childrenNamed(cmd.Process.Pid, "qemu-system")
	if len(pids) != 1 {
		t.Fatalf("qemu children of silo: %v", pids)
	}
	syscall.Kill(pids[0], syscall.SIGSTOP)
	io.Copy(io.Discard, rd)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code == 0 || !strings.Contains(stderr.String(), "stopped responding") {
		t.Errorf("exit %d, stderr %q; want a failure naming the watchdog", code, stderr.String())
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pids[0])); err == nil {
		if st := readFile(fmt.Sprintf("/proc/%d/stat", pids[0])); !strings.Contains(st, ") Z") {
			t.Errorf("qemu %d still exists after silo exited", pids[0])
		}
	}
}

// startReady starts cmd under a three-minute watchdog and waits for the
// guest's first line, "ready". It returns the rest of stdout, the stderr
// collected so far and on, and the watchdog's done channel to close.
func startReady(t *testing.T, cmd *exec.Cmd) (*bufio.Reader, *bytes.Buffer, chan struct{}) {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &bytes.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := watchdog(t, cmd, 3*time.Minute)
	rd := bufio.NewReader(out)
	if line, err := rd.ReadString('\n'); line != "ready\n" {
		close(done)
		cmd.Process.Kill()
		t.Fatalf("first line %q, %v; stderr: %s", line, err, stderr.String())
	}
	return rd, stderr, done
}

// watchdog kills cmd if the test has not closed the returned channel
// within d: a test must never hang.
func watchdog(t *testing.T, cmd *exec.Cmd, d time.Duration) chan struct{} {
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-time.After(d):
			t.Errorf("silo still running after %v: killed", d)
			cmd.Process.Kill()
		}
	}()
	return done
}

// childrenNamed returns the pids of ppid's children whose command starts
// with prefix.
func childrenNamed(ppid int, prefix string) []int {
	var pids []int
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		s := readFile(p)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open || !strings.HasPrefix(s[open+1:end], prefix) {
			continue
		}
		f := strings.Fields(s[end+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(ppid) {
			pid, _ := strconv.Atoi(strings.TrimSpace(s[:open]))
			pids = append(pids, pid)
		}
	}
	return pids
}
