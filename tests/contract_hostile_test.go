package tests

// Holes a security review found, each tried from inside the sandbox as a
// hostile package would.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestContractSocketFamilies: the command can make unix, inet and inet6
// sockets (and netlink route, for getifaddrs), but no vsock socket (no
// network namespace isolates vsock), no packet or other family, and no
// raw inet socket (CAP_NET_RAW is dropped).
func TestContractSocketFamilies(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		ws := s.project(t)
		probe := probeIn(t, ws)
		cases := []struct{ name, args, want string }{
			{"unix", "1 1 0", "ok"},
			{"inet", "2 1 0", "ok"},
			{"inet6", "10 2 0", "ok"},
			{"netlink route", "16 3 0", "ok"},
			{"vsock stream", "40 1 0", "address family not supported by protocol"},
			{"vsock dgram", "40 2 0", "address family not supported by protocol"},
			{"packet", "17 2 0", "address family not supported by protocol"},
			{"netlink uevent", "16 3 15", "address family not supported by protocol"},
			{"alg", "38 5 0", "address family not supported by protocol"},
			{"raw inet", "2 3 1", "operation not permitted"},
		}
		var script strings.Builder
		for _, c := range cases {
			script.WriteString(probe + " socket " + c.args + "\n")
		}
		lines := strings.Split(strings.TrimSuffix(s.sh(t, ws, script.String()), "\n"), "\n")
		if len(lines) != len(cases) {
			t.Fatalf("probe printed %q", lines)
		}
		for i, c := range cases {
			if lines[i] != c.want {
				t.Errorf("socket %s (%s) inside: %q, want %q", c.name, c.args, lines[i], c.want)
			}
		}
	})
}

// TestContractRelativeCommand: "silo run T ./script.sh" finds the script
// in the command's working directory, and in a subdirectory too.
func TestContractRelativeCommand(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		ws := s.project(t)
		writeExecutable(t, filepath.Join(ws, "script.sh"), "#!/bin/sh\necho top \"$@\"\n")
		writeExecutable(t, filepath.Join(ws, "sub/run.sh"), "#!/bin/sh\necho sub; pwd\n")
		if r := s.run(t, ws, nil, nil, "./script.sh", "a"); r.Code != 0 || r.Stdout != "top a\n" {
			t.Errorf("./script.sh: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
		}
		if r := s.run(t, filepath.Join(ws, "sub"), nil, nil, "./run.sh"); r.Code != 0 || r.Stdout != "sub\n/workspace/sub\n" {
			t.Errorf("./run.sh in sub: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
		}
		if r := s.run(t, ws, nil, nil, "sub/run.sh"); r.Code != 0 || r.Stdout != "sub\n/workspace\n" {
			t.Errorf("sub/run.sh: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
		}
		if r := s.run(t, ws, nil, nil, "./missing.sh"); r.Code != 127 || !strings.Contains(r.Stderr, "./missing.sh") {
			t.Errorf("./missing.sh: exit %d, stderr %q", r.Code, r.Stderr)
		}
	})
}

// writeExecutable writes an executable file, making its directory.
func writeExecutable(t *testing.T, p, content string) {
	t.Helper()
	writeFile(t, p, content)
	if err := os.Chmod(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestContractNestedExcludeHeld: the sandbox cannot get around a nested
// mount.exclude path by moving its parent aside and making the path anew,
// which would then be the host's.
func TestContractNestedExcludeHeld(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		ws := t.TempDir()
		writeFile(t, filepath.Join(ws, "silo.toml"), "tools = [\"bb\"]\n[mount]\nexclude = [\"frontend/node_modules\", \"a/b/c/.venv\"]\n")
		writeFile(t, filepath.Join(ws, "frontend/node_modules/host.js"), "host\n")
		writeFile(t, filepath.Join(ws, "frontend/app.js"), "app\n")
		writeFile(t, filepath.Join(ws, "a/b/c/main.py"), "main\n")
		before := snapshot(t, ws)
		s.checkDenied(t, ws, []string{
			"mv frontend frontend.old",
			"mv a/b a/b.old",
			"mv a a.old",
			"mv a/b/c a/b/c.old",
			"mv frontend/node_modules frontend/nm.old",
		})
		// Whatever the moves did, nothing may land in the host's copy.
		s.run(t, ws, nil, nil, "sh", "-c", `mv frontend frontend.old; mkdir -p frontend/node_modules; echo evil > frontend/node_modules/evil.js
			mv a/b a/b.old; mkdir -p a/b/c/.venv; echo evil > a/b/c/.venv/evil.py; true`)
		if diff := diffSnapshots(before, snapshot(t, ws)); diff != "" {
			t.Errorf("the host workspace changed:\n%s", diff)
		}
		// The excluded directories still work inside.
		if out := s.sh(t, ws, "echo m > frontend/node_modules/m.js && cat frontend/node_modules/m.js frontend/app.js"); out != "m\napp\n" {
			t.Errorf("inside: %q", out)
		}
	})
}

// TestContractAgentSurvivesFaultSignals: a process in the sandbox that
// sends PID 1 the signals of a fault (SEGV, BUS, FPE, ILL, TRAP, SYS,
// ABRT) does not end the agent: the run completes with the command's
// status.
func TestContractAgentSurvivesFaultSignals(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		ws := s.project(t)
		agentSurvivesFaultSignals(t, s, ws)
	})
}

// agentSurvivesFaultSignals signals PID 1 from inside with each fault
// signal, by kill (SI_USER), tgkill (SI_TKILL), sigqueue (SI_QUEUE) and
// SIGIO redirected to it (POLL_IN, which reads as a fault's code), and
// checks the run ends normally, with the command's status.
func agentSurvivesFaultSignals(t *testing.T, s *sandbox, ws string) {
	probe := probeIn(t, ws)
	r := s.run(t, ws, nil, nil, "sh", "-c", `for sig in SEGV BUS FPE ILL TRAP SYS ABRT STKFLT; do kill -$sig 1 || echo "kill -$sig failed"; done
		for n in 11 7 8 4 5 31 16; do `+probe+` tgkill 1 $n; `+probe+` sigqueue 1 $n; `+probe+` setsig 1 $n; done >probe.out 2>&1
		sleep 0.3; echo alive; exit 7`)
	if r.Code != 7 || r.Stdout != "alive\n" {
		t.Errorf("after fault signals to PID 1: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	for _, crash := range []string{"goroutine", "panic", "SIGSEGV", "fatal", "Kernel"} {
		if strings.Contains(r.Stderr, crash) {
			t.Errorf("the agent crashed (%q): %s", crash, r.Stderr)
			break
		}
	}
	t.Logf("probe: %s", readFile(filepath.Join(ws, "probe.out")))
}

// TestContractProcessLimit: a sandbox cannot start more processes than
// its tool's maxProcesses, however it tries, and the run still ends
// normally. The attempt is bounded (200 processes at most) so that the
// test cannot hurt the machine even without the limit.
func TestContractProcessLimit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		writeFile(t, filepath.Join(s.home, "config.toml"), fmt.Sprintf("[tool.bb]\nimage = %q\nmaxProcesses = 48\n", s.image))
		ws := s.project(t)
		r := s.run(t, ws, nil, nil, "sh", "-c", forkScript)
		checkForkBounded(t, r, 48)
		// Within the limit, work goes on as usual.
		if out := s.sh(t, ws, "for i in 1 2 3 4 5 6 7 8; do sleep 0.1 & done; wait; echo done"); out != "done\n" {
			t.Errorf("8 background jobs: %q", out)
		}
		doc := s.silo(t, ws, nil, nil, "doctor", "--no-probe")
		if !strings.Contains(doc.Stdout, "process limits") || !strings.Contains(doc.Stdout, "maxProcesses per sandbox") {
			t.Errorf("silo doctor does not say how processes are bounded:\n%s", doc.Stdout)
		}
	})
}

// forkScript starts up to 200 processes in the sandbox, then kills them
// and prints how many started. It uses only builtins once the processes
// are started: at the limit, the shell cannot fork.
const forkScript = `(i=0; while [ $i -lt 200 ]; do sleep 60 & echo $! >> /tmp/pids; i=$((i+1)); done) 2>/dev/null
n=0; while read p; do kill -9 $p; n=$((n+1)); done < /tmp/pids
echo "started $n"; exit 3`

// checkForkBounded checks that forkScript ended normally having started
// fewer than limit processes.
func checkForkBounded(t *testing.T, r result, limit int) {
	t.Helper()
	var n int
	if _, err := fmt.Sscanf(r.Stdout, "started %d", &n); err != nil || r.Code != 3 {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	if n >= limit || n == 0 {
		t.Errorf("the sandbox started %d processes beside its shell; maxProcesses is %d", n, limit)
	}
}

// TestProcessLimitUnprivileged: for a user without a cgroup of their own
// to divide, the sandbox runs under RLIMIT_NPROC; a second local user
// runs silo here.
func TestProcessLimitUnprivileged(t *testing.T) {
	uid, gid, _ := otherUser(t)
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bubblewrap is not installed")
	}
	base := passableDir(t, "silo-nproc-")
	bin, layout := ownSiloAndImage(t, base)
	home, ws := filepath.Join(base, "silo-home"), filepath.Join(base, "project")
	writeFile(t, filepath.Join(home, "config.toml"), fmt.Sprintf("[tool.bb]\nimage = %q\nmaxProcesses = 40\n", "oci-layout:"+layout))
	writeFile(t, filepath.Join(ws, "silo.toml"), "tools = [\"bb\"]\n")
	fuse := filepath.Join(base, "fuse") // a FUSE device the user may open
	var fst syscall.Stat_t
	if err := syscall.Stat("/dev/fuse", &fst); err != nil {
		t.Skipf("no /dev/fuse: %v", err)
	}
	if err := syscall.Mknod(fuse, syscall.S_IFCHR|0o666, int(fst.Rdev)); err != nil {
		t.Fatalf("make a FUSE device node: %v", err)
	}
	os.Chmod(fuse, 0o666)
	if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", uid, gid), layout, home, ws).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	run := func(args ...string) result {
		env := []string{"PATH=/usr/bin:/bin", "HOME=" + base, "SILO_HOME=" + home, "SILO_FUSE_DEVICE=" + fuse}
		return runAs(t, uid, gid, ws, env, bin, args...)
	}
	checkForkBounded(t, run("exec", "--backend", "namespace", "bb", "sh", "-c", forkScript), 40)
	if doc := run("doctor", "--no-probe"); !strings.Contains(doc.Stdout, "RLIMIT_NPROC per sandbox") {
		t.Errorf("silo doctor as uid %d does not say RLIMIT_NPROC applies:\n%s", uid, doc.Stdout)
	}
}

// TestFallbackToNamespacesSaidOnce: where silo falls back from a VM to
// namespaces (here: no kernel for VMs in a fresh home), the first run
// says so, later runs do not, and silo doctor always does.
func TestFallbackToNamespacesSaidOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		if s.backend != "namespace" {
			t.Skip("about the namespace backend")
		}
		ws := s.project(t)
		auto := []string{"SILO_BACKEND=auto"}
		const note = "share this machine's kernel"
		doc := s.silo(t, ws, auto, nil, "doctor", "--no-probe")
		if !strings.Contains(doc.Stdout, "silo run uses: namespace") {
			t.Skipf("the automatic choice here is not a fall back to namespaces:\n%s", doc.Stdout)
		}
		if !strings.Contains(doc.Stdout, note) {
			t.Errorf("silo doctor does not say that the sandbox shares the kernel:\n%s", doc.Stdout)
		}
		r := s.silo(t, ws, auto, nil, "exec", "bb", "echo", "one")
		if r.Code != 0 || r.Stdout != "one\n" || strings.Count(r.Stderr, note) != 1 {
			t.Errorf("first run: exit %d, stdout %q, stderr %q; want the note once", r.Code, r.Stdout, r.Stderr)
		}
		for i := 0; i < 2; i++ {
			if r := s.silo(t, ws, auto, nil, "exec", "bb", "echo", "again"); r.Code != 0 || r.Stderr != "" {
				t.Errorf("a later run: exit %d, stderr %q; want nothing said", r.Code, r.Stderr)
			}
		}
		if doc := s.silo(t, ws, auto, nil, "doctor", "--no-probe"); !strings.Contains(doc.Stdout, note) {
			t.Errorf("silo doctor, after the first run, no longer says it:\n%s", doc.Stdout)
		}
		// Asked for by name, namespaces are no fall back: nothing to say.
		other := newSandbox(t, "namespace")
		if r := other.silo(t, other.project(t), nil, nil, "exec", "bb", "true"); strings.Contains(r.Stderr, note) {
			t.Errorf("--backend namespace: %q", r.Stderr)
		}
	})
}
