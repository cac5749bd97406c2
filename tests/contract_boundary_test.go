package tests

// The sandbox's boundaries, each tried from inside.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

func TestContractSecretsStayOutside(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		ws := s.project(t)
		env := []string{"AWS_SECRET_ACCESS_KEY=host-aws-secret", "SILO_TEST_PASS=passed-in", "GITHUB_TOKEN=host-gh-token"}
		r := s.run(t, ws, env, nil, "sh", "-c", `env; echo ---; ls -a /root /root/.ssh 2>&1; cat `+s.userHome+`/.ssh/id_rsa 2>&1;
			grep -rl "host secret" /etc /root /tmp /workspace 2>/dev/null; true`)
		if r.Code != 0 {
			t.Fatalf("exit %d: %s", r.Code, r.Stderr)
		}
		for _, leak := range []string{"host-aws-secret", "AWS_SECRET_ACCESS_KEY", "host-gh-token", "host secret", "BEGIN OPENSSH"} {
			if strings.Contains(r.Stdout, leak) {
				t.Errorf("%q is visible inside:\n%s", leak, r.Stdout)
			}
		}
		if !strings.Contains(r.Stdout, "SILO_TEST_PASS=passed-in\n") {
			t.Errorf("the passEnv variable did not arrive:\n%s", r.Stdout)
		}
		if !strings.Contains(r.Stdout, "HOME=/root\n") {
			t.Errorf("HOME inside is not /root:\n%s", r.Stdout)
		}
	})
}

func TestContractAgentUnreachable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		ws := s.project(t)
		s.checkDenied(t, ws, []string{
			"cat /proc/1/environ",
			"readlink /proc/1/fd/3",
			"cat /proc/1/mem",
			"ls /proc/1/root/",
		})
		// The agent ignores the sandbox's signals: the run completes.
		if out := s.sh(t, ws, "kill -KILL 1; kill -TERM 1; kill -INT 1; sleep 0.2; echo alive"); out != "alive\n" {
			t.Errorf("after signalling PID 1: %q", out)
		}
		out := s.sh(t, ws, "grep CapEff /proc/self/status")
		if strings.Contains(out, "1ffffffffff") {
			t.Errorf("the command runs with every capability: %s", out)
		}
	})
}

// TestContractSeccomp: the command cannot make namespaces (a nested user
// namespace would give it every capability over one), mount, or reach
// the kernel keyring; everyday work still runs.
func TestContractSeccomp(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		ws := s.project(t)
		s.checkDenied(t, ws, []string{
			"unshare -U -r true",
			"unshare -n true",
			"unshare -m true",
			"nsenter -t 1 -m true",
			"mount -t tmpfs none /mnt",
		})
		out := s.sh(t, ws, "grep '^Seccomp:' /proc/self/status; sh -c 'echo child' | cat; (sleep 0.1 &) ; wait; echo ok > /tmp/x && cat /tmp/x")
		if out != "Seccomp:\t2\nchild\nok\n" {
			t.Errorf("inside the sandbox: %q", out)
		}
	})
}

func TestContractHomeIsNoWorkspace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		r := s.run(t, s.userHome, nil, nil, "cat", "/workspace/.ssh/id_rsa")
		if r.Code == 0 || strings.Contains(r.Stdout, "host secret") || !strings.Contains(r.Stderr, "home directory") {
			t.Errorf("silo run in the home directory: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
		}
	})
}

func TestContractReadOnlyWorkspace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		ws := s.project(t)
		f, err := os.OpenFile(filepath.Join(ws, "silo.toml"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("mode = \"ro\"\n") // in the [mount] table, last in the file
		f.Close()
		trustAsIs(t, s.home, filepath.Join(ws, "silo.toml"))
		writeFile(t, filepath.Join(ws, "src/app.js"), "app\n")
		// .config/fish is protected: read-only inside as everything
		// else is.
		writeFile(t, filepath.Join(ws, ".config/fish/config.fish"), "set x 1\n")
		before := snapshot(t, ws)
		out := s.sh(t, ws, "cat src/app.js; echo x > src/app.js || echo DENIED; touch new || echo DENIED; touch .config/new .config/fish/new || echo DENIED; mkdir -p node_modules/m && echo ok > node_modules/m/f && cat node_modules/m/f")
		if out != "app\nDENIED\nDENIED\nDENIED\nok\n" {
			t.Errorf("a read-only workspace, its exclude writable: %q", out)
		}
		if diff := diffSnapshots(before, snapshot(t, ws)); diff != "" {
			t.Errorf("the host workspace changed:\n%s", diff)
		}
	})
}

func TestContractPassFiles(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		writeFile(t, filepath.Join(s.userHome, ".npmrc"), "//registry.example/:_authToken=passed\n")
		writeFile(t, filepath.Join(s.home, "silo.toml"), "passFiles = [\"~/.npmrc\"]\n")
		ws := s.project(t)
		out := s.sh(t, ws, "cat /root/.npmrc; echo changed > /root/.npmrc && echo WRITABLE; rm /root/.npmrc && echo REMOVABLE; true")
		if !strings.HasPrefix(out, "//registry.example/:_authToken=passed\n") || strings.Contains(out, "WRITABLE") || strings.Contains(out, "REMOVABLE") {
			t.Errorf("pass file inside: %q", out)
		}
		if got := readFile(filepath.Join(s.userHome, ".npmrc")); got != "//registry.example/:_authToken=passed\n" {
			t.Errorf("the host's pass file changed: %q", got)
		}
	})
}

func TestContractKernelSurface(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		ws := s.project(t)
		s.checkDenied(t, ws, []string{
			"mknod /tmp/disk b 8 0",                               // no device nodes of its own
			"ls /dev | grep -E '^(sd|vd|nvme|mem|kmem|port|kvm)'", // no disks, memory or KVM
			"mount -t tmpfs none /mnt",                            // no mounts
			"mount --bind /tmp /workspace",                        // not over the workspace either
			"echo 1 > /proc/sys/kernel/sysrq",                     // no kernel knobs
			"hostname other && test $(hostname) = other",
			"cat /proc/1/maps", // the agent's memory map
		})
	})
}

func TestContractProtectedPaths(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		t.Run("git repository", func(t *testing.T) {
			ws := s.project(t)
			writeFile(t, filepath.Join(ws, ".git/config"), "[core]\n")
			writeFile(t, filepath.Join(ws, ".git/HEAD"), "ref: refs/heads/main\n")
			writeFile(t, filepath.Join(ws, ".husky/pre-commit"), "npm test\n")
			before := snapshot(t, ws)
			s.checkDenied(t, ws, []string{
				"echo '[tool.x]' >> silo.toml",
				"rm -f silo.toml",
				"mv silo.toml x.toml",
				"echo evil > silo.lock",
				"mkdir -p .git/hooks && echo evil > .git/hooks/post-checkout",
				"echo '[core] hooksPath = /tmp' >> .git/config",
				"mv .git .git-aside && mkdir -p .git/hooks && echo evil > .git/hooks/post-checkout",
				"rm -f .git/config",
				"rmdir .git",
				"echo evil > .git/commondir",
				"echo evil > .husky/pre-commit",
				"echo evil > .envrc",
				"mkdir -p .vscode && echo {} > .vscode/tasks.json",
				"echo evil > .gitmodules",
				"umount /workspace/silo.toml",
				"umount -l /workspace/.git/hooks",
				"mount -o remount,rw /workspace/silo.toml",
				"unshare -Urm sh -c 'umount /workspace/silo.toml && echo evil > /workspace/silo.toml'",
				"unshare -Urm sh -c 'mount -o remount,bind,rw /workspace/silo.toml && echo evil > /workspace/silo.toml'",
			})
			s.sh(t, ws, "echo fine > allowed.txt && cat .git/HEAD .husky/pre-commit >/dev/null")
			after := snapshot(t, ws)
			delete(after, "allowed.txt")
			if diff := diffSnapshots(before, after); diff != "" {
				t.Errorf("the host workspace changed:\n%s", diff)
			}
		})
		t.Run("no git at all", func(t *testing.T) {
			ws := s.project(t)
			before := snapshot(t, ws)
			s.checkDenied(t, ws, []string{
				"mkdir -p .git/hooks && echo evil > .git/hooks/post-checkout",
				"git init 2>/dev/null || mkdir .git/x",
				"echo evil > silo.lock",
			})
			if diff := diffSnapshots(before, snapshot(t, ws)); diff != "" {
				t.Errorf("the host workspace changed:\n%s", diff)
			}
		})
	})
}

// checkDenied runs each script in the sandbox and fails unless it fails.
func (s *sandbox) checkDenied(t *testing.T, ws string, scripts []string) {
	t.Helper()
	for _, script := range scripts {
		r := s.run(t, ws, nil, nil, "sh", "-c", script)
		if r.Code == 0 {
			t.Errorf("%q succeeded inside the sandbox; it must fail", script)
		}
	}
}

func TestContractExcludedPaths(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		ws := s.project(t)
		out := s.sh(t, ws, "mkdir -p node_modules/left-pad && echo module > node_modules/left-pad/index.js && cat node_modules/left-pad/index.js")
		if out != "module\n" {
			t.Errorf("the excluded directory is not writable inside: %q", out)
		}
		if _, err := os.Lstat(filepath.Join(ws, "node_modules")); !os.IsNotExist(err) {
			t.Errorf("node_modules made inside is visible on the host (%v)", err)
		}
		// A host node_modules is hidden inside, and kept; the sandbox's
		// own, made by the run before, persists.
		writeFile(t, filepath.Join(ws, "node_modules/host.js"), "host\n")
		out = s.sh(t, ws, "ls -A node_modules; echo sandbox > node_modules/new.js")
		if out != "left-pad\n" {
			t.Errorf("inside, node_modules holds %q: want the sandbox's own from the run before, not the host's", out)
		}
		if got := readFile(filepath.Join(ws, "node_modules/host.js")); got != "host\n" {
			t.Errorf("host node_modules changed: %q", got)
		}
		if _, err := os.Lstat(filepath.Join(ws, "node_modules/new.js")); !os.IsNotExist(err) {
			t.Errorf("a file written in the excluded directory reached the host (%v)", err)
		}
		// silo clean drops the sandbox's own node_modules, not the host's.
		if r := s.silo(t, ws, nil, nil, "clean"); r.Code != 0 {
			t.Fatalf("silo clean: %d %s", r.Code, r.Stderr)
		}
		if out := s.sh(t, ws, "ls -A node_modules"); out != "" {
			t.Errorf("after silo clean, node_modules holds %q", out)
		}
		if got := readFile(filepath.Join(ws, "node_modules/host.js")); got != "host\n" {
			t.Errorf("silo clean changed the host's node_modules: %q", got)
		}
	})
}

func TestContractSymlinksResolveInside(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		ws := s.project(t)
		for name, target := range map[string]string{"passwd": "/etc/passwd", "home": s.userHome, "key": filepath.Join(s.userHome, ".ssh/id_rsa")} {
			if err := os.Symlink(target, filepath.Join(ws, name)); err != nil {
				t.Fatal(err)
			}
		}
		hostPasswd := readFile("/etc/passwd")
		out := s.sh(t, ws, "cat passwd; ls -A home 2>&1; cat key 2>&1; echo x > passwd 2>&1; true")
		if !strings.Contains(out, "root:x:0:0") {
			t.Errorf("passwd does not resolve to the sandbox's /etc/passwd: %q", out)
		}
		if strings.Contains(out, "host secret") || strings.Contains(out, ".ssh") {
			t.Errorf("a workspace symlink reached the host's home: %q", out)
		}
		if hostPasswd != "" && strings.Contains(out, hostPasswd) {
			t.Errorf("passwd resolved to the host's /etc/passwd")
		}
		if readFile("/etc/passwd") != hostPasswd {
			t.Fatalf("the host's /etc/passwd changed")
		}
	})
}

func TestContractRootfsUnchanged(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		ws := s.project(t)
		s.sh(t, ws, "true") // realise the rootfs
		entries := rootfsEntries(t, s.home)
		before := map[string]string{}
		for _, e := range entries {
			before[e] = treeHash(t, e)
		}
		r := s.run(t, ws, nil, nil, "sh", "-c", "rm -rf / 2>/dev/null; ls /bin/busybox")
		if r.Code == 0 {
			t.Errorf("rm -rf / inside left /bin/busybox in place")
		}
		for _, e := range entries {
			if got := treeHash(t, e); got != before[e] {
				t.Errorf("store entry %s changed after rm -rf / inside", filepath.Base(e))
			}
		}
		if got := readFile(filepath.Join(ws, "silo.toml")); !strings.Contains(got, "tools") {
			t.Errorf("silo.toml changed after rm -rf / inside: %q", got)
		}
		if got := s.sh(t, ws, "ls /bin/busybox"); got != "/bin/busybox\n" {
			t.Errorf("the next run does not start from a whole rootfs: %q", got)
		}
	})
}

func TestContractNoNetwork(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				io.WriteString(c, "host service\n")
				c.Close()
			}
		}()
		port := l.Addr().(*net.TCPAddr).Port
		ws := s.project(t)
		r := s.run(t, ws, nil, nil, "sh", "-c", "nc -w 2 127.0.0.1 "+strconv.Itoa(port)+" </dev/null; ip addr 2>/dev/null | grep -c inet")
		if strings.Contains(r.Stdout, "host service") {
			t.Errorf("the sandbox reached a host service on loopback")
		}
		if r := s.run(t, ws, nil, nil, "sh", "-c", "ls /proc | grep -c '^[0-9]'"); procCount(r.Stdout) < 0 || procCount(r.Stdout) > 5 {
			t.Errorf("the sandbox sees processes that are not its own: %q", r.Stdout)
		}
	})
}

func TestContractNetworkThroughProxy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "hello through the proxy\n")
		}))
		defer srv.Close()
		port := srv.Listener.Addr().(*net.TCPAddr).Port
		// A tool whose policy lets it reach the host: only through the
		// proxy, by the host's alias.
		f, err := os.OpenFile(filepath.Join(s.home, "config.toml"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "\n[tool.net]\nimage = %q\n[tool.net.network]\nhostAccess = true\n", s.image)
		f.Close()
		ws := t.TempDir()
		writeFile(t, filepath.Join(ws, "silo.toml"), "tools = [\"net\", \"bb\"]\n")
		url := fmt.Sprintf("http://host.silo.internal:%d/", port)
		r := s.silo(t, ws, nil, nil, "exec", "net", "sh", "-c", "wget -q -O- "+url)
		if r.Code != 0 || r.Stdout != "hello through the proxy\n" {
			t.Errorf("a tool allowed to reach the host: exit %d, %q, stderr %q", r.Code, r.Stdout, r.Stderr)
		}
		// Around the proxy, or without a policy, nothing gets through.
		direct := fmt.Sprintf("wget -q -T 3 -O- http://127.0.0.1:%d/", port)
		if r := s.silo(t, ws, nil, nil, "exec", "net", "sh", "-c", "unset http_proxy HTTP_PROXY; "+direct); r.Code == 0 {
			t.Errorf("the sandbox reached the host without the proxy: %q", r.Stdout)
		}
		if r := s.run(t, ws, nil, nil, "sh", "-c", "env | grep -i _proxy; wget -q -T 3 -O- "+url); r.Code == 0 || strings.Contains(r.Stdout, "hello") || strings.Contains(r.Stdout, "proxy=") {
			t.Errorf("a tool without network got some: exit %d, %q", r.Code, r.Stdout)
		}
	})
}

// rootfsEntries lists the store entries that are directories (the
// unpacked rootfs) or ext4 images.
func rootfsEntries(t *testing.T, home string) []string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(home, "store", "*"))
	var out []string
	for _, m := range matches {
		base := filepath.Base(m)
		if strings.HasPrefix(base, ".") {
			continue
		}
		if fi, err := os.Stat(m); err == nil && (fi.IsDir() || strings.HasSuffix(base, ".ext4")) {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no rootfs entry in %s/store", home)
	}
	return out
}

// treeHash hashes a file or a directory tree: names, modes, link targets
// and contents.
func treeHash(t *testing.T, root string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		io.WriteString(h, rel+"\x00"+fi.Mode().String()+"\x00")
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			io.WriteString(h, target)
		case fi.Mode().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			io.Copy(h, f)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("hash %s: %v", root, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// snapshot records every path under dir with its content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		m[rel] = fi.Mode().String() + ":" + readFile(p)
		return nil
	})
	return m
}

// diffSnapshots describes how two snapshots differ, or returns "".
func diffSnapshots(a, b map[string]string) string {
	var lines []string
	for k, v := range a {
		if w, ok := b[k]; !ok {
			lines = append(lines, "removed "+k)
		} else if v != w {
			lines = append(lines, "changed "+k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			lines = append(lines, "added "+k)
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// procCount parses a count printed by the sandbox, -1 if it is not one.
func procCount(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return -1
	}
	return n
}

// TestContractPlantedConfigIgnored has the sandbox write a silo.toml into
// a subdirectory, naming a host secret in passEnv; the next run from that
// subdirectory must refuse the file rather than pass the secret in, and
// must obey it once the user trusts it. The same holds for a workspace
// without a silo.toml of its own.
func TestContractPlantedConfigIgnored(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		withProject := s.project(t)
		plain := t.TempDir()
		for _, ws := range []string{withProject, plain} {
			args := []string{"exec", "bb", "sh", "-c"}
			if ws == plain {
				args = []string{"exec", "--image", s.image, "sh", "-c"}
			}
			planted := `mkdir -p /workspace/sub && printf 'tools = ["bb"]\npassEnv = ["AWS_SECRET_ACCESS_KEY"]\n' > /workspace/sub/silo.toml`
			// The workspace filter refuses a silo.toml at any depth.
			if r := s.silo(t, ws, nil, nil, append(args, planted)...); r.Code == 0 {
				t.Fatalf("the sandbox planted sub/silo.toml: %s", r.Stdout)
			}
			sub := filepath.Join(ws, "sub")
			if _, err := os.Lstat(filepath.Join(sub, "silo.toml")); err == nil {
				t.Fatal("sub/silo.toml exists after the refused plant")
			}
			// One that got there another way (a file a sandbox wrote before
			// the filter, or any later write) is still not obeyed untrusted.
			writeFile(t, filepath.Join(sub, "silo.toml"), "tools = [\"bb\"]\npassEnv = [\"AWS_SECRET_ACCESS_KEY\"]\n")
			env := []string{"AWS_SECRET_ACCESS_KEY=host-aws-secret"}
			r := s.run(t, sub, env, nil, "sh", "-c", "env")
			if strings.Contains(r.Stdout, "host-aws-secret") {
				t.Fatalf("the planted silo.toml was obeyed: the secret reached the sandbox")
			}
			hash := refusedHash(t, r, filepath.Join(sub, "silo.toml"))
			if r := s.silo(t, sub, nil, nil, "config", "trust", "--expect", hash); r.Code != 0 {
				t.Fatalf("silo config trust: exit %d: %s", r.Code, r.Stderr)
			}
			if out := s.run(t, sub, env, nil, "sh", "-c", "env"); !strings.Contains(out.Stdout, "AWS_SECRET_ACCESS_KEY=host-aws-secret") {
				t.Errorf("a trusted nested silo.toml was not obeyed: exit %d, %s", out.Code, out.Stderr)
			}
		}
	})
}
