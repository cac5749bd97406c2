package tests

// The everyday command line of issue 11 and 15, through the built binary on
// the namespace backend, with images from a loopback registry: install from
// the catalog (through SILO_REGISTRY_MIRROR) and custom, shims that run
// the sandbox or step aside, shorthand, conflicts, uninstall and GC.

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/silo-dev/silo/vm"
)

// cliEnv is a silo home with images in a loopback registry.
type cliEnv struct {
	home, reg, work string
	env             []string
}

func newCLIEnv(t testing.TB) *cliEnv {
	t.Helper()
	b, err := vm.NewRegistry(vm.Options{Home: t.TempDir()}).Lookup("namespace")
	if err != nil {
		t.Skipf("namespace backend not built in: %v", err)
	}
	if err := b.Available(); err != nil {
		t.Skipf("namespace backend cannot run here: %v", err)
	}
	e := &cliEnv{home: t.TempDir(), reg: startRegistry(t), work: t.TempDir()}
	// The catalog's busybox:1.36 is docker.io/library/busybox:1.36: the
	// loopback registry mirrors Docker Hub.
	img := busyboxImage(t)
	pushImage(t, e.reg, "library/busybox", img)
	pushTag(t, e.reg, "library/busybox:1.36", img)
	e.env = []string{"SILO_BACKEND=namespace", "SILO_REGISTRY_MIRROR=" + e.reg, "HOME=" + e.work}
	return e
}

// pushTag pushes img to reg/repoTag ("library/busybox:1.36").
func pushTag(t testing.TB, reg, repoTag string, img v1.Image) {
	t.Helper()
	tag, err := name.NewTag(reg+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatalf("push %s: %v", tag, err)
	}
}

func (e *cliEnv) silo(t testing.TB, dir string, stdin []byte, args ...string) result {
	t.Helper()
	return silo(t, e.home, dir, e.env, stdin, args...)
}

// shim runs $SILO_HOME/bin/name with PATH as given.
func (e *cliEnv) shim(t *testing.T, dir, path string, stdin []byte, name string, args ...string) result {
	t.Helper()
	cmd := exec.Command(filepath.Join(e.home, "bin", name), args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "SILO_HOME="+e.home, "PATH="+path), e.env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{Stdout: out.String(), Stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run shim %s: %v", name, err)
	}
	return r
}

func mkdir(t testing.TB, parts ...string) string {
	t.Helper()
	p := filepath.Join(parts...)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCLIInstallCatalogAndShims: silo install busybox pulls the catalog's
// image through the loopback mirror, writes [tool.busybox], roots it,
// links its shim and pins it; the shim then runs in the sandbox with the
// exit code and stdin silo run gives; silo list shows it.
func TestCLIInstallCatalogAndShims(t *testing.T) {
	e := newCLIEnv(t)
	proj := mkdir(t, e.work, "proj")
	if r := e.silo(t, proj, nil, "install", "busybox"); r.Code != 0 || !strings.Contains(r.Stderr, "installed busybox") {
		t.Fatalf("install: exit %d, stderr %s", r.Code, r.Stderr)
	}
	cfg, _ := os.ReadFile(filepath.Join(e.home, "config.toml"))
	if !strings.Contains(string(cfg), "[tool.busybox]") || !strings.Contains(string(cfg), `image = "busybox:1.36"`) {
		t.Errorf("config.toml after install:\n%s", cfg)
	}
	r := e.silo(t, proj, nil, "list", "--json")
	var list []struct {
		Name, Image, Digest string
		Shims               []string
		Pinned, Pulled      bool
	}
	if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil || len(list) != 1 || list[0].Name != "busybox" || !list[0].Pulled || !strings.HasPrefix(list[0].Digest, "sha256:") || !list[0].Pinned {
		t.Fatalf("silo list --json: %v %s %s", err, r.Stdout, r.Stderr)
	}
	// eval "$(silo shellenv)", then the shim.
	// silo itself on PATH, as a user has it.
	binDir := mkdir(t, e.work, "usr-bin")
	if err := os.Symlink(siloBin, filepath.Join(binDir, "silo")); err != nil {
		t.Fatal(err)
	}
	sh := exec.Command("bash", "-c", `eval "$(silo shellenv)"; busybox sh -c 'echo in=$(cat); test -d /workspace && exit 7'`)
	sh.Dir, sh.Env = proj, append(append(os.Environ(), "SILO_HOME="+e.home, "SHELL=/bin/bash", "PATH="+binDir+":/usr/bin:/bin"), e.env...)
	sh.Stdin = strings.NewReader("typed\n")
	var stderr bytes.Buffer
	sh.Stderr = &stderr
	out, err := sh.Output()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 || string(out) != "in=typed\n" {
		t.Errorf("shim after shellenv: %v, stdout %q, stderr %q", err, out, stderr.String())
	}
	// The same through silo run, and the shorthand.
	if r := e.silo(t, proj, []byte("typed\n"), "run", "busybox", "sh", "-c", "echo in=$(cat); exit 7"); r.Code != 7 || r.Stdout != "in=typed\n" {
		t.Errorf("silo run: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	if r := e.silo(t, proj, nil, "busybox", "--", "echo", "short"); r.Code != 0 || r.Stdout != "short\n" {
		t.Errorf("silo busybox -- echo: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	if r := e.silo(t, proj, nil, "busybx", "echo"); r.Code != 2 || r.Stdout != "" || strings.Count(r.Stderr, "\n") != 1 || !strings.Contains(r.Stderr, `did you mean "busybox"?`) {
		t.Errorf("unknown command: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	// Installed tools root their image and rootfs: a GC keeps them.
	if r := e.silo(t, proj, nil, "store", "gc"); r.Code != 0 {
		t.Fatalf("gc: %s", r.Stderr)
	}
	r = e.silo(t, proj, nil, "cache", "list", "--json")
	if !strings.Contains(r.Stdout, "rootfs") {
		t.Errorf("after gc, the installed tool's rootfs is gone: %s", r.Stdout)
	}
}

// TestCLICustomInstallShimsStepAside: a custom tool with host:guest shims;
// its shim named python3 runs the sandbox inside a project naming the
// tool and when pinned, and outside, unpinned, steps aside to the host's
// own python3 (a script earlier on PATH than nothing but silo's shims),
// with the shim directory listed twice on PATH, once through a symlink.
// silo current says which in each case. Shim conflicts are refused.
func TestCLICustomInstallShimsStepAside(t *testing.T) {
	e := newCLIEnv(t)
	ref := e.reg + "/library/busybox:1.36"
	if r := e.silo(t, e.work, nil, "install", "pyt", "--image", ref, "--shim", "python3:sh,hello:echo", "--no-pin"); r.Code != 0 {
		t.Fatalf("custom install: exit %d, stderr %s", r.Code, r.Stderr)
	}
	if r := e.silo(t, e.work, nil, "install", "other", "--image", ref, "--shim", "hello"); r.Code != 1 || !strings.Contains(r.Stderr, "belongs to the installed tool pyt") {
		t.Errorf("a shim another tool holds: exit %d, stderr %s", r.Code, r.Stderr)
	}
	if r := e.silo(t, e.work, nil, "shim", "busybox", "add", "hello"); r.Code != 1 || !strings.Contains(r.Stderr, "belongs to the tool pyt") {
		t.Errorf("silo shim add of a held name: exit %d, stderr %s", r.Code, r.Stderr)
	}
	hostBin := mkdir(t, e.work, "hostbin")
	if err := os.WriteFile(filepath.Join(hostBin, "python3"), []byte("#!/bin/sh\necho host-python3 \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(e.work, "shims-link")
	if err := os.Symlink(filepath.Join(e.home, "bin"), link); err != nil {
		t.Fatal(err)
	}
	path := strings.Join([]string{filepath.Join(e.home, "bin"), link, filepath.Join(e.home, "bin"), hostBin, "/usr/bin:/bin"}, ":")
	inside := `test -d /workspace && echo sandboxed`

	outside := mkdir(t, e.work, "elsewhere")
	if r := e.shim(t, outside, path, nil, "python3", "-c", inside); r.Code != 0 || r.Stdout != "host-python3 -c "+inside+"\n" || r.Stderr != "" {
		t.Errorf("outside, unpinned: exit %d, stdout %q, stderr %q; want the host's python3", r.Code, r.Stdout, r.Stderr)
	}
	if r := silo(t, e.home, outside, append(e.env, "PATH="+path), nil, "current", "pyt"); !strings.Contains(r.Stdout, "falls through to "+filepath.Join(hostBin, "python3")) {
		t.Errorf("silo current outside: %q %q", r.Stdout, r.Stderr)
	}
	// Without a host python3, a shim that steps aside says so and exits 127.
	if r := e.shim(t, outside, filepath.Join(e.home, "bin")+":"+link, nil, "python3"); r.Code != 127 {
		t.Errorf("no host python3: exit %d, stderr %q", r.Code, r.Stderr)
	}

	proj := filepath.Join(e.work, "proj")
	writeTrusted(t, e.home, filepath.Join(proj, "silo.toml"), "tools = [\"pyt\"]\n")
	sub := mkdir(t, proj, "src")
	if r := e.shim(t, sub, path, nil, "python3", "-c", inside); r.Code != 0 || r.Stdout != "sandboxed\n" {
		t.Errorf("in a claiming project: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	if r := e.shim(t, sub, path, nil, "hello", "--", "a"); r.Stdout != "-- a\n" {
		t.Errorf("a shim's arguments go as given, -- included: %q %q", r.Stdout, r.Stderr)
	}
	if r := e.silo(t, sub, nil, "current", "python3"); !strings.Contains(r.Stdout, "claimed by ../silo.toml") {
		t.Errorf("silo current in the project: %q %q", r.Stdout, r.Stderr)
	}

	if r := e.silo(t, outside, nil, "pin", "pyt"); r.Code != 0 {
		t.Fatal(r.Stderr)
	}
	if r := e.shim(t, outside, path, nil, "python3", "-c", inside); r.Code != 0 || r.Stdout != "sandboxed\n" {
		t.Errorf("outside, pinned: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	if r := e.silo(t, outside, nil, "current", "--json"); !strings.Contains(r.Stdout, `"mode": "pinned"`) {
		t.Errorf("silo current --json pinned: %q %q", r.Stdout, r.Stderr)
	}
	if r := e.silo(t, outside, nil, "unpin", "pyt"); r.Code != 0 {
		t.Fatal(r.Stderr)
	}
	if r := e.shim(t, outside, path, nil, "python3", "x"); r.Stdout != "host-python3 x\n" {
		t.Errorf("unpinned again: %q %q", r.Stdout, r.Stderr)
	}
	// silo run TOOL --shim NAME, and silo's flags between the tool and --.
	if r := e.silo(t, proj, nil, "run", "pyt", "--shim", "hello", "hi"); r.Stdout != "hi\n" {
		t.Errorf("run --shim: exit %d, %q %q", r.Code, r.Stdout, r.Stderr)
	}
	if r := e.silo(t, proj, nil, "run", "pyt", "--timing", "--", "-c", "echo flags"); r.Stdout != "flags\n" || !strings.Contains(r.Stderr, "silo: backend namespace") {
		t.Errorf("run TOOL --timing -- ARGS: exit %d, %q %q", r.Code, r.Stdout, r.Stderr)
	}
	if r := e.silo(t, proj, nil, "hello", "via", "shorthand"); r.Stdout != "via shorthand\n" {
		t.Errorf("shorthand of a shim: exit %d, %q %q", r.Code, r.Stdout, r.Stderr)
	}
}

// TestCLIRefusalsSaidAndLogged: a refused connection, which an HTTP
// client shows only as a 403, is said after the command on stderr once
// per host with the silo.toml lines that allow it, and silo log keeps
// every refusal.
func TestCLIRefusalsSaidAndLogged(t *testing.T) {
	e := newNetEnv(t)
	ws := e.project(t, `proxy.allow = ["pypi.org"]`)
	r := e.sh(t, ws, "wget -q -O- http://github.com/ >/dev/null 2>&1; wget -q -O- http://github.com/x >/dev/null 2>&1; echo done")
	if r.Stdout != "done\n" {
		t.Fatalf("stdout %q, stderr %q", r.Stdout, r.Stderr)
	}
	if strings.Count(r.Stderr, "blocked github.com:80") != 1 || !strings.Contains(r.Stderr, "[overrides.bb.network]") ||
		!strings.Contains(r.Stderr, `proxy.allow = ["github.com"]`) {
		t.Errorf("stderr after the command: %q; want the refusal once, with the lines to add", r.Stderr)
	}
	r = silo(t, e.home, ws, nil, nil, "log", "--json")
	var log []struct {
		Host, Tool, Project, Rule string
		Port                      int
	}
	if err := json.Unmarshal([]byte(r.Stdout), &log); err != nil || len(log) != 2 || log[0].Host != "github.com" || log[0].Port != 80 || log[0].Tool != "bb" || log[0].Rule == "" {
		t.Errorf("silo log --json: %v %q %q", err, r.Stdout, r.Stderr)
	}
	if r := silo(t, e.home, ws, nil, nil, "log", "--since", "1h"); !strings.Contains(r.Stdout, "github.com:80") {
		t.Errorf("silo log --since 1h: %q %q", r.Stdout, r.Stderr)
	}
	if r := silo(t, e.home, ws, nil, nil, "log", "--json", "--since", "2999-01-01T00:00:00Z"); strings.TrimSpace(r.Stdout) != "[]" {
		t.Errorf("silo log --since the future: %q %q", r.Stdout, r.Stderr)
	}
}

// TestCLIStatus: a running sandbox is listed with its pid, tool, project
// and backend, and is gone once it ends.
func TestCLIStatus(t *testing.T) {
	e := newCLIEnv(t)
	ref := e.reg + "/library/busybox:1.36"
	if r := e.silo(t, e.work, nil, "install", "bb", "--image", ref, "--shim", "sh"); r.Code != 0 {
		t.Fatal(r.Stderr)
	}
	ws := mkdir(t, e.work, "proj")
	cmd := exec.Command(siloBin, "exec", "bb", "sh", "-c", "echo ready; read x; exit 0")
	cmd.Dir, cmd.Env = ws, append(append(os.Environ(), "SILO_HOME="+e.home), e.env...)
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(out, buf); err != nil {
		t.Fatal(err)
	}
	r := e.silo(t, ws, nil, "status", "--json")
	var st struct {
		Running []struct {
			PID                    int
			Tool, Project, Backend string
		}
	}
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil || len(st.Running) != 1 || st.Running[0].PID != cmd.Process.Pid ||
		st.Running[0].Tool != "bb" || st.Running[0].Project != ws || st.Running[0].Backend != "namespace" {
		t.Errorf("silo status --json while it runs: %v %q", err, r.Stdout)
	}
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if r := e.silo(t, ws, nil, "status", "--json"); !strings.Contains(r.Stdout, `"running": []`) {
		t.Errorf("silo status after the run: %q", r.Stdout)
	}
}

// TestCLIInit: silo init on sample projects, without a terminal (flags and
// detection) and on one (a pty, answers typed); the file it writes is
// trusted and loads, is never overwritten without --force, and .silo/
// goes into a git repository's .gitignore.
func TestCLIInit(t *testing.T) {
	home, work := t.TempDir(), t.TempDir()
	for _, tt := range []struct {
		files []string
		want  []string
	}{
		{[]string{"package.json"}, []string{`tools = ["node"]`, `exclude = ["node_modules"]`}},
		{[]string{"pyproject.toml"}, []string{`tools = ["python"]`, `exclude = [".venv", "__pycache__"]`}},
		{[]string{"go.mod", "Cargo.toml"}, []string{`tools = ["rust", "go"]`, `exclude = ["target"]`}},
		{[]string{"Gemfile", "deno.json", "requirements.txt"}, []string{`"python"`, `"deno"`, `"ruby"`}},
	} {
		dir := mkdir(t, work, tt.files[0]+"-project")
		for _, f := range tt.files {
			if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		r := silo(t, home, dir, nil, nil, "init", "--no-interactive")
		data, _ := os.ReadFile(filepath.Join(dir, "silo.toml"))
		for _, w := range tt.want {
			if !strings.Contains(string(data), w) {
				t.Errorf("%v: silo.toml lacks %s:\n%s\n%s", tt.files, w, data, r.Stderr)
			}
		}
		if !strings.Contains(r.Stderr, "not installed yet") {
			t.Errorf("%v: init does not say what to install: %q", tt.files, r.Stderr)
		}
	}
	// Flags that grant: the file is trusted as written, and loads.
	dir := mkdir(t, work, "granted")
	if err := os.Mkdir(filepath.Join(dir, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := silo(t, home, dir, nil, nil, "init", "--no-interactive", "--tool", "claude-code", "--port", "3000,8080:80", "--pass-env", "NPM_TOKEN", "--pass-file", ".netrc")
	if r.Code != 0 {
		t.Fatalf("init with grants: %s", r.Stderr)
	}
	if r := silo(t, home, dir, nil, nil, "config", "show", "--json", "claude"); r.Code != 0 || !strings.Contains(r.Stdout, `"NPM_TOKEN"`) || !strings.Contains(r.Stdout, `"guest": 80`) {
		t.Errorf("the written file does not load as trusted: exit %d %s %s", r.Code, r.Stdout, r.Stderr)
	}
	if gi, _ := os.ReadFile(filepath.Join(dir, ".gitignore")); string(gi) != ".silo/\n" {
		t.Errorf(".gitignore = %q", gi)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "silo.toml"))
	if r := silo(t, home, dir, nil, nil, "init", "--no-interactive", "--tool", "go"); r.Code == 0 || !strings.Contains(r.Stderr, "--force") {
		t.Errorf("init over an existing silo.toml: exit %d, %q", r.Code, r.Stderr)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "silo.toml")); string(after) != string(before) {
		t.Error("init overwrote silo.toml without --force")
	}

	// On a terminal: every question answered, some with Enter.
	dir = mkdir(t, work, "asked")
	if err := os.WriteFile(filepath.Join(dir, "requirements.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	master, slave := openPTY(t)
	cmd := exec.Command(siloBin, "init")
	cmd.Dir, cmd.Env = dir, append(os.Environ(), "SILO_HOME="+home, "TERM=dumb")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	// Tools (Enter), allow, passEnv, passFiles, excludes (Enter), ports.
	io.WriteString(master, "\npypi.example.org\nHF_TOKEN\n\n\n8000\n")
	term := newTermReader(master)
	var shown strings.Builder
	for b := range term.data {
		shown.Write(b)
	}
	if code := exitCode(t, cmd); code != 0 {
		t.Fatalf("init on a terminal: exit %d, terminal:\n%s", code, shown.String())
	}
	data, _ := os.ReadFile(filepath.Join(dir, "silo.toml"))
	for _, w := range []string{`tools = ["python"]`, `passEnv = ["HF_TOKEN"]`, `exclude = [".venv", "__pycache__"]`, `proxy.allow = ["pypi.example.org"]`, "host = 8000"} {
		if !strings.Contains(string(data), w) {
			t.Errorf("asked: silo.toml lacks %s:\n%s\nterminal:\n%s", w, data, shown.String())
		}
	}
}

// TestCLIResetAndCompletion: silo reset asks (no terminal: it refuses and
// names --yes), removes the home with its read-only store, leaves what a
// link inside points to, and refuses a home that is a symlink. The bash
// completion completes commands and the tools of the configuration.
func TestCLIResetAndCompletion(t *testing.T) {
	e := newCLIEnv(t)
	ref := e.reg + "/library/busybox:1.36"
	if r := e.silo(t, e.work, nil, "install", "mytool", "--image", ref); r.Code != 0 {
		t.Fatal(r.Stderr)
	}
	bashScript := e.silo(t, e.work, nil, "completion", "bash").Stdout
	binDir := mkdir(t, e.work, "usr-bin")
	if err := os.Symlink(siloBin, filepath.Join(binDir, "silo")); err != nil {
		t.Fatal(err)
	}
	for words, want := range map[string]string{"silo ins": "install", "silo run myt": "mytool", "silo run --ti": "--timing"} {
		w := strings.Fields(words)
		if strings.HasSuffix(words, " ") {
			w = append(w, "")
		}
		script := bashScript + "\nCOMP_WORDS=(" + strings.Join(w, " ") + "); COMP_CWORD=" + strconv.Itoa(len(w)-1) + "; _silo; printf '%s\\n' \"${COMPREPLY[@]}\""
		c := exec.Command("bash", "-c", script)
		c.Env = append(os.Environ(), "SILO_HOME="+e.home, "PATH="+binDir+":/usr/bin:/bin")
		out, err := c.Output()
		if err != nil || !strings.Contains(string(out), want+"\n") {
			t.Errorf("completing %q: %v %q, want %s", words, err, out, want)
		}
	}

	outside := filepath.Join(e.work, "keep.txt")
	if err := os.WriteFile(outside, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(e.home, "link-out")); err != nil {
		t.Fatal(err)
	}
	if r := e.silo(t, e.work, nil, "reset"); r.Code != 2 || !strings.Contains(r.Stderr, "--yes") {
		t.Errorf("reset without a terminal: exit %d %q", r.Code, r.Stderr)
	}
	if _, err := os.Stat(filepath.Join(e.home, "config.toml")); err != nil {
		t.Fatalf("reset without an answer removed the home: %v", err)
	}
	link := filepath.Join(e.work, "home-link")
	if err := os.Symlink(e.home, link); err != nil {
		t.Fatal(err)
	}
	if r := silo(t, link, e.work, e.env, nil, "reset", "--yes"); r.Code != 1 || !strings.Contains(r.Stderr, "link") {
		t.Errorf("reset of a symlinked home: exit %d %q", r.Code, r.Stderr)
	}
	if _, err := os.Stat(filepath.Join(e.home, "config.toml")); err != nil {
		t.Fatalf("reset through a symlinked home removed it: %v", err)
	}
	if r := e.silo(t, e.work, nil, "reset", "--yes"); r.Code != 0 {
		t.Fatalf("reset --yes: exit %d %q", r.Code, r.Stderr)
	}
	if _, err := os.Lstat(e.home); !os.IsNotExist(err) {
		t.Errorf("the home is still there: %v", err)
	}
	if data, err := os.ReadFile(outside); err != nil || string(data) != "mine" {
		t.Errorf("reset followed a link out of the home: %v %q", err, data)
	}
}

// TestCLIUninstallThenGC: uninstalling one of two tools unpins what only
// it used: the next GC frees its image and rootfs, and the other tool's
// stay and run.
func TestCLIUninstallThenGC(t *testing.T) {
	e := newCLIEnv(t)
	other := imageFromLayers(t, tarLayer(t, busyboxEntries(t)), tarLayer(t, []tarEntry{{Name: "only-in-other", Body: []byte(strings.Repeat("x", 1<<20))}}))
	pushTag(t, e.reg, "other:1", other)
	if r := e.silo(t, e.work, nil, "install", "keep", "--image", e.reg+"/library/busybox:1.36", "--shim", "keepsh:sh"); r.Code != 0 {
		t.Fatal(r.Stderr)
	}
	if r := e.silo(t, e.work, nil, "install", "gone", "--image", e.reg+"/other:1", "--shim", "gonesh:sh"); r.Code != 0 {
		t.Fatal(r.Stderr)
	}
	if r := e.silo(t, e.work, nil, "store", "gc", "--json"); r.Code != 0 || !strings.Contains(r.Stdout, `"freed": 0`) {
		t.Errorf("gc with both installed freed something: %s %s", r.Stdout, r.Stderr)
	}
	r := e.silo(t, e.work, nil, "uninstall", "gone")
	if r.Code != 0 || !strings.Contains(r.Stderr, "frees") {
		t.Fatalf("uninstall: exit %d %q", r.Code, r.Stderr)
	}
	if _, err := os.Lstat(filepath.Join(e.home, "bin", "gonesh")); !os.IsNotExist(err) {
		t.Errorf("the uninstalled tool's shim is still there: %v", err)
	}
	r = e.silo(t, e.work, nil, "store", "gc", "--json")
	var rep struct{ Freed int64 }
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil || rep.Freed < 1<<20 {
		t.Errorf("gc after uninstall: %v, freed %d; want the other image's 1 MiB layer and more", err, rep.Freed)
	}
	if r := e.silo(t, e.work, nil, "list", "--json"); !strings.Contains(r.Stdout, `"name": "keep"`) || !strings.Contains(r.Stdout, `"pulled": true`) || strings.Contains(r.Stdout, "gone") {
		t.Errorf("silo list after uninstall: %s", r.Stdout)
	}
	if r := e.silo(t, mkdir(t, e.work, "p"), nil, "exec", "keep", "echo", "still here"); r.Stdout != "still here\n" {
		t.Errorf("the kept tool: exit %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
}

// fakeToolImage is the busybox image with scripts standing in for a
// tool's commands: each prints its name and arguments and that it runs
// in a sandbox (/workspace is there).
func fakeToolImage(t testing.TB, cmds ...string) v1.Image {
	t.Helper()
	var entries []tarEntry
	entries = append(entries, tarEntry{Name: "usr/", Type: '5'}, tarEntry{Name: "usr/local/", Type: '5'}, tarEntry{Name: "usr/local/bin/", Type: '5'})
	for _, c := range cmds {
		entries = append(entries, tarEntry{Name: "usr/local/bin/" + c, Mode: 0o755,
			Body: []byte("#!/bin/sh\ntest -d /workspace && echo \"" + c + " in the sandbox: $*\"\n")})
	}
	return imageFromLayers(t, tarLayer(t, busyboxEntries(t)), tarLayer(t, entries))
}

// TestCLIQuickStart types the README's quick start as a new user would,
// line by line in bash, with the catalog's python and node images (fakes
// on a loopback mirror of Docker Hub).
func TestCLIQuickStart(t *testing.T) {
	e := newCLIEnv(t)
	pushTag(t, e.reg, "library/python:3.12-slim", fakeToolImage(t, "python", "python3", "pip", "pip3"))
	pushTag(t, e.reg, "library/node:22-slim", fakeToolImage(t, "node", "npm", "npx"))
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, block, _ := strings.Cut(string(readme), "## Quick start\n\n")
	var lines []string
	for _, l := range strings.Split(block, "\n") {
		if !strings.HasPrefix(l, "    ") {
			break
		}
		cmd, _, _ := strings.Cut(strings.TrimSpace(l), "  #")
		if cmd = strings.TrimSpace(cmd); cmd == "silo doctor" {
			cmd += " || true" // its exit status says whether every backend works on this machine
		}
		lines = append(lines, cmd)
	}
	if len(lines) < 8 || !strings.HasPrefix(lines[0], "silo install") {
		t.Fatalf("the README's quick start is not where it was: %q", lines)
	}
	proj := mkdir(t, e.work, "my-project")
	for f, body := range map[string]string{"script.py": "print('hi')\n", "requirements.txt": "", "package.json": "{}\n"} {
		if err := os.WriteFile(filepath.Join(proj, f), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	binDir := mkdir(t, e.work, "usr-bin")
	if err := os.Symlink(siloBin, filepath.Join(binDir, "silo")); err != nil {
		t.Fatal(err)
	}
	script := "set -e\n" + strings.Join(lines, "\n") + "\n"
	sh := exec.Command("bash", "-c", script)
	sh.Dir = e.work
	sh.Env = append(append(os.Environ(), "SILO_HOME="+e.home, "SHELL=/bin/bash", "PATH="+binDir+":/usr/bin:/bin"), e.env...)
	var out, errb bytes.Buffer
	sh.Stdout, sh.Stderr, sh.Stdin = &out, &errb, strings.NewReader("")
	if err := sh.Run(); err != nil {
		t.Fatalf("the quick start failed: %v\nscript:\n%s\nstdout:\n%s\nstderr:\n%s", err, script, out.String(), errb.String())
	}
	for _, want := range []string{"python in the sandbox: script.py", "npm in the sandbox: install"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the quick start's output lacks %q:\n%s\nstderr:\n%s", want, out.String(), errb.String())
		}
	}
	if n := strings.Count(out.String(), "python in the sandbox: script.py"); n != 2 {
		t.Errorf("python script.py ran %d times in the sandbox, want 2 (the shim, silo run):\n%s", n, out.String())
	}
}

// TestCLIRootfsPolicyFromARun: a project's [cache.rootfs] limit is applied
// by a run, in a process of its own (the run does not wait for it): the
// rootfs of another image, which nothing roots or holds, is evicted; the
// running one is held and kept; a second run the same day starts none.
func TestCLIRootfsPolicyFromARun(t *testing.T) {
	e := newCLIEnv(t)
	other := imageFromLayers(t, tarLayer(t, busyboxEntries(t)), tarLayer(t, []tarEntry{{Name: "other", Body: []byte("x")}}))
	pushTag(t, e.reg, "other:1", other)
	stale := mkdir(t, e.work, "stale")
	if r := e.silo(t, stale, nil, "exec", "--image", e.reg+"/other:1", "true"); r.Code != 0 {
		t.Fatal(r.Stderr)
	}
	rootfsEntries := func() string {
		return e.silo(t, stale, nil, "cache", "list", "--kind", "rootfs", "--json").Stdout
	}
	before := rootfsEntries()
	proj := filepath.Join(e.work, "proj")
	writeTrusted(t, e.home, filepath.Join(proj, "silo.toml"), "tools = []\n[cache.rootfs]\nmaxSizeMB = 1\n")
	cmd := exec.Command(siloBin, "exec", "--image", e.reg+"/library/busybox:1.36", "true")
	cmd.Dir, cmd.Env = proj, append(append(os.Environ(), "SILO_HOME="+e.home), e.env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the run: %v %s", err, out)
	}
	stampPath := filepath.Join(e.home, "runtime", "gc-policy")
	var stamp struct {
		Started, Finished time.Time
		PID, Removed      int
	}
	deadline := time.Now().Add(2 * time.Minute) // a bound on waiting, not a timed assertion
	for {
		data, _ := os.ReadFile(stampPath)
		if json.Unmarshal(data, &stamp) == nil && !stamp.Finished.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the policy's eviction never finished: %s", data)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if stamp.PID == cmd.Process.Pid || stamp.Removed == 0 {
		t.Errorf("eviction: pid %d (the run's %d), removed %d; want another process, and the stale rootfs removed", stamp.PID, cmd.Process.Pid, stamp.Removed)
	}
	after := rootfsEntries()
	if strings.Count(after, `"name"`) >= strings.Count(before, `"name"`)+1 {
		t.Errorf("rootfs entries before the policy run:\n%s\nafter:\n%s", before, after)
	}
	// Within a day, another run starts no eviction.
	if r := e.silo(t, proj, nil, "exec", "--image", e.reg+"/library/busybox:1.36", "true"); r.Code != 0 {
		t.Fatal(r.Stderr)
	}
	data, _ := os.ReadFile(stampPath)
	var again struct{ Started time.Time }
	if json.Unmarshal(data, &again) != nil || !again.Started.Equal(stamp.Started) {
		t.Errorf("a second run the same day started another eviction: %s", data)
	}
}

// TestCLIShimSignals: a signal sent to a shim reaches the command in the
// sandbox, and the shim exits with the command's status, as silo run does.
func TestCLIShimSignals(t *testing.T) {
	e := newCLIEnv(t)
	if r := e.silo(t, e.work, nil, "install", "bb", "--image", e.reg+"/library/busybox:1.36", "--shim", "bbsh:sh"); r.Code != 0 {
		t.Fatal(r.Stderr)
	}
	ws := mkdir(t, e.work, "proj")
	for _, viaShim := range []bool{true, false} {
		script := `trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.1; done`
		cmd := exec.Command(siloBin, "run", "bb", "-c", script)
		if viaShim {
			cmd = exec.Command(filepath.Join(e.home, "bin", "bbsh"), "-c", script)
		}
		cmd.Dir, cmd.Env = ws, append(append(os.Environ(), "SILO_HOME="+e.home), e.env...)
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 6)
		if _, err := io.ReadFull(out, buf); err != nil || string(buf) != "ready\n" {
			t.Fatalf("shim %v: %q %v", viaShim, buf, err)
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		rest, _ := io.ReadAll(out)
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 || string(rest) != "got-term\n" {
			t.Errorf("shim %v: SIGTERM: %v, output %q; want the trap's exit 7", viaShim, err, rest)
		}
	}
}

// TestCLIInstallVersionForceAndShimEdits: TOOL@VERSION picks the image
// tag; a second install says so and --force writes the definition anew;
// silo shim TOOL add, list --json and remove edit config.toml and the
// links together; an unknown catalog name gets a did-you-mean.
func TestCLIInstallVersionForceAndShimEdits(t *testing.T) {
	e := newCLIEnv(t)
	pushTag(t, e.reg, "library/busybox:1.37", busyboxImage(t))
	if r := e.silo(t, e.work, nil, "install", "busybox@1.37", "--no-pin"); r.Code != 0 || !strings.Contains(r.Stderr, "not pinned") {
		t.Fatalf("install busybox@1.37: exit %d %q", r.Code, r.Stderr)
	}
	cfg, _ := os.ReadFile(filepath.Join(e.home, "config.toml"))
	if !strings.Contains(string(cfg), `image = "busybox:1.37"`) {
		t.Errorf("config.toml: %s", cfg)
	}
	if pins, _ := os.ReadFile(filepath.Join(e.home, "pins")); strings.Contains(string(pins), "busybox") {
		t.Errorf("--no-pin pinned: %q", pins)
	}
	if r := e.silo(t, e.work, nil, "install", "busybox"); r.Code != 0 || !strings.Contains(r.Stderr, "already installed") {
		t.Errorf("second install: exit %d %q", r.Code, r.Stderr)
	}
	if r := e.silo(t, e.work, nil, "install", "busybox", "--force"); r.Code != 0 {
		t.Fatalf("install --force: %q", r.Stderr)
	}
	cfg, _ = os.ReadFile(filepath.Join(e.home, "config.toml"))
	if !strings.Contains(string(cfg), `image = "busybox:1.36"`) || strings.Count(string(cfg), "[tool.busybox]") != 1 {
		t.Errorf("config.toml after --force: %s", cfg)
	}
	if r := e.silo(t, e.work, nil, "shim", "busybox", "add", "bbx:sh"); r.Code != 0 {
		t.Fatal(r.Stderr)
	}
	r := e.silo(t, e.work, nil, "shim", "busybox", "list", "--json")
	if !strings.Contains(r.Stdout, `"name": "bbx"`) || !strings.Contains(r.Stdout, `"command": "sh"`) || !strings.Contains(r.Stdout, `"linked": true`) {
		t.Errorf("shim list --json: %s", r.Stdout)
	}
	if r := e.silo(t, e.work, nil, "shim", "busybox", "remove", "bbx"); r.Code != 0 {
		t.Fatal(r.Stderr)
	}
	if _, err := os.Lstat(filepath.Join(e.home, "bin", "bbx")); !os.IsNotExist(err) {
		t.Errorf("the removed shim's link: %v", err)
	}
	if cfg, _ := os.ReadFile(filepath.Join(e.home, "config.toml")); strings.Contains(string(cfg), "bbx") {
		t.Errorf("config.toml still has the removed shim: %s", cfg)
	}
	if r := e.silo(t, e.work, nil, "install", "pyhton"); r.Code != 2 || !strings.Contains(r.Stderr, `did you mean "python"?`) {
		t.Errorf("install of a misspelt tool: exit %d %q", r.Code, r.Stderr)
	}
}

// TestCLIInstallRunsSetup: a custom tool's --setup (a script file, as
// Silo's users pass it) runs once at install as the tool's first build
// step; every later run, in a project without a lock too, starts from its
// result without running it again, and a store GC keeps it. A setup that
// fails exits with its status; a --setup path that does not exist is a
// usage error. --network and --allow write the network keys.
func TestCLIInstallRunsSetup(t *testing.T) {
	e := newCLIEnv(t)
	ref := e.reg + "/library/busybox:1.36"
	script := filepath.Join(e.work, "install.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nset -e\nmkdir -p /opt\necho \"set up\" > /opt/marker\necho ran-setup-script\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := e.silo(t, e.work, nil, "install", "st", "--image", ref, "--shim", "sh", "--setup", "./install.sh", "--network", "--allow", "pypi.org")
	if r.Code != 0 || !strings.Contains(r.Stdout+r.Stderr, "ran-setup-script") || !strings.Contains(r.Stderr, "global build updated") {
		t.Fatalf("install with --setup: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	cfg, _ := os.ReadFile(filepath.Join(e.home, "config.toml"))
	for _, want := range []string{`setup = "#!/bin/sh\nset -e\nmkdir -p /opt\necho \"set up\" > /opt/marker`, "hostAccess = true", `allow = ["pypi.org"]`} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("config.toml lacks %q:\n%s", want, cfg)
		}
	}
	proj := filepath.Join(e.work, "proj")
	writeTrusted(t, e.home, filepath.Join(proj, "silo.toml"), "tools = [\"st\"]\n")
	for i := range 2 {
		r = e.silo(t, proj, nil, "exec", "st", "cat", "/opt/marker")
		if r.Code != 0 || r.Stdout != "set up\n" || strings.Contains(r.Stderr, "ran-setup-script") {
			t.Fatalf("run %d after install: exit %d, stdout %q, stderr %q; want the setup's result, not a second setup", i, r.Code, r.Stdout, r.Stderr)
		}
		if i == 0 {
			if r := e.silo(t, proj, nil, "store", "gc"); r.Code != 0 {
				t.Fatalf("store gc: %s", r.Stderr)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(proj, "silo.lock")); err == nil {
		t.Error("a run in a project without a lock wrote one")
	}
	// A project that adds its own step (trusted, as the user's word) gets
	// it in its runs; it never becomes the user's global build, which
	// every other project starts from.
	hooked := filepath.Join(e.work, "hooked")
	writeTrusted(t, e.home, filepath.Join(hooked, "silo.toml"), "tools = [\"st\"]\n[overrides.st]\npostInstall = [\"echo project-step > /opt/hook\"]\n")
	if r := e.silo(t, hooked, nil, "exec", "st", "cat", "/opt/marker", "/opt/hook"); r.Code != 0 || r.Stdout != "set up\nproject-step\n" {
		t.Fatalf("the project with a step of its own: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	if r := e.silo(t, proj, nil, "exec", "st", "sh", "-c", "cat /opt/marker; test -e /opt/hook && echo leaked"); r.Stdout != "set up\n" {
		t.Errorf("another project after it: exit %d, stdout %q, stderr %q; want the setup alone", r.Code, r.Stdout, r.Stderr)
	}
	if global, _ := os.ReadFile(filepath.Join(e.home, "builds.lock")); strings.Contains(string(global), "project-step") || !strings.Contains(string(global), "set up") {
		t.Errorf("the user's global builds:\n%s", global)
	}

	r = e.silo(t, e.work, nil, "install", "bad", "--image", ref, "--shim", "badsh:sh", "--setup", "echo trying; exit 3")
	if r.Code != 3 || !strings.Contains(r.Stderr, "bad's setup") || !strings.Contains(r.Stderr, "silo install bad --force") {
		t.Errorf("a failing setup: exit %d, stderr %q; want 3 and what to do", r.Code, r.Stderr)
	}
	r = e.silo(t, e.work, nil, "install", "nofile", "--image", ref, "--setup", "./missing.sh")
	if r.Code != 2 || !strings.Contains(r.Stderr, "no such script file") {
		t.Errorf("--setup of a missing file: exit %d, stderr %q", r.Code, r.Stderr)
	}
}

// TestCLIInstallPicker: on a terminal, silo install without @VERSION lists
// the catalog's versions with the default marked; a number picks one, and
// an answer that is none of them is a usage error that installs nothing.
func TestCLIInstallPicker(t *testing.T) {
	e := newCLIEnv(t)
	pushTag(t, e.reg, "library/busybox:1.37", busyboxImage(t))
	install := func(answer string) (int, string) {
		master, slave := openPTY(t)
		cmd := exec.Command(siloBin, "install", "busybox", "--force")
		cmd.Dir, cmd.Env = e.work, append(append(os.Environ(), "SILO_HOME="+e.home, "TERM=dumb"), e.env...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		slave.Close()
		io.WriteString(master, answer)
		var shown strings.Builder
		for b := range newTermReader(master).data {
			shown.Write(b)
		}
		return exitCode(t, cmd), shown.String()
	}
	code, shown := install("2\n")
	if code != 0 || !strings.Contains(shown, "1) 1.36  (default)") || !strings.Contains(shown, "2) 1.37") {
		t.Fatalf("picker: exit %d, terminal:\n%s", code, shown)
	}
	if cfg, _ := os.ReadFile(filepath.Join(e.home, "config.toml")); !strings.Contains(string(cfg), `image = "busybox:1.37"`) {
		t.Errorf("picking 2 wrote:\n%s\nterminal:\n%s", cfg, shown)
	}
	before, _ := os.ReadFile(filepath.Join(e.home, "config.toml"))
	if code, shown := install("9\n"); code != 2 || !strings.Contains(shown, "not one of the versions") {
		t.Errorf("an answer off the list: exit %d, terminal:\n%s", code, shown)
	}
	if after, _ := os.ReadFile(filepath.Join(e.home, "config.toml")); string(after) != string(before) {
		t.Errorf("a refused pick changed config.toml:\n%s", after)
	}
	if code, shown := install("\n"); code != 0 {
		t.Errorf("Enter: exit %d, terminal:\n%s", code, shown)
	} else if cfg, _ := os.ReadFile(filepath.Join(e.home, "config.toml")); !strings.Contains(string(cfg), `image = "busybox:1.36"`) {
		t.Errorf("Enter did not take the default:\n%s", cfg)
	}
}

// TestCLIGlobalStepsReadNoProjectCache: a global build step made while
// working in a project does not see that project's tool caches, which the
// project's own runs (a hostile package hook) can write: what it keeps is
// every project's.
func TestCLIGlobalStepsReadNoProjectCache(t *testing.T) {
	e := newCLIEnv(t)
	cfg := "[tool.cb]\nimage = \"" + e.reg + "/library/busybox:1.36\"\nshims = [\"cbsh:sh\"]\n[[tool.cb.cache]]\nguest = \"/cache\"\n"
	if err := os.WriteFile(filepath.Join(e.home, "config.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	hostile := filepath.Join(e.work, "hostile")
	writeTrusted(t, e.home, filepath.Join(hostile, "silo.toml"), "tools = [\"cb\"]\n")
	if r := e.silo(t, hostile, nil, "exec", "cb", "sh", "-c", "echo planted > /cache/planted && ls /cache"); r.Code != 0 || r.Stdout != "planted\n" {
		t.Fatalf("the project's run writes its cache: exit %d, %q %q", r.Code, r.Stdout, r.Stderr)
	}
	if r := e.silo(t, hostile, nil, "build", "--global", "cb", "sh", "-c", "mkdir -p /opt; ls -A /cache > /opt/seen 2>&1; true"); r.Code != 0 {
		t.Fatalf("build --global: exit %d, %q", r.Code, r.Stderr)
	}
	other := filepath.Join(e.work, "other")
	writeTrusted(t, e.home, filepath.Join(other, "silo.toml"), "tools = [\"cb\"]\n")
	r := e.silo(t, other, nil, "exec", "cb", "cat", "/opt/seen")
	if r.Code != 0 || strings.Contains(r.Stdout, "planted") {
		t.Errorf("the global step saw the project's cache: exit %d, /opt/seen %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
}

// TestCLILockedProjectPinsEveryTool: in a project with a silo.lock, a run
// of a tool that has no build steps still pins its image in the lock.
func TestCLILockedProjectPinsEveryTool(t *testing.T) {
	e := newCLIEnv(t)
	ref := e.reg + "/library/busybox:1.36"
	for _, tool := range []string{"bb", "plain"} {
		if r := e.silo(t, e.work, nil, "install", tool, "--image", ref, "--shim", tool+"sh:sh", "--no-pin"); r.Code != 0 {
			t.Fatalf("install %s: %s", tool, r.Stderr)
		}
	}
	proj := filepath.Join(e.work, "proj")
	writeTrusted(t, e.home, filepath.Join(proj, "silo.toml"), "tools = [\"bb\", \"plain\"]\n")
	if r := e.silo(t, proj, nil, "build", "bb", "true"); r.Code != 0 {
		t.Fatalf("build: %s", r.Stderr)
	}
	if r := e.silo(t, proj, nil, "exec", "plain", "true"); r.Code != 0 || !strings.Contains(r.Stderr, "silo.lock updated") {
		t.Errorf("a run of the tool without steps: exit %d, stderr %q; want the lock updated", r.Code, r.Stderr)
	}
	lock, _ := os.ReadFile(filepath.Join(proj, "silo.lock"))
	if !strings.Contains(string(lock), "[tools.plain]") {
		t.Errorf("silo.lock does not pin the tool without steps:\n%s", lock)
	}
}
