package tests

import (
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRuntimeCLI drives silo runtime import-kernel, status, gc and silo
// doctor through the binary against Debian's kernel.
func TestRuntimeCLI(t *testing.T) {
	vmlinuz, mods := debianKernel(t)
	home, dir := t.TempDir(), t.TempDir()

	r := silo(t, home, dir, nil, nil, "runtime", "import-kernel", vmlinuz)
	if r.Code == 0 || !strings.Contains(r.Stderr, "--modules DIR is required") {
		t.Errorf("import without --modules: exit %d, %q", r.Code, r.Stderr)
	}
	r = silo(t, home, dir, nil, nil, "runtime", "import-kernel", "/etc/hostname", "--modules", mods)
	if r.Code == 0 || !strings.Contains(r.Stderr, "not a Linux kernel") {
		t.Errorf("import of a text file: exit %d, %q", r.Code, r.Stderr)
	}
	r = silo(t, home, dir, nil, nil, "runtime", "import-kernel", vmlinuz, "--modules", mods)
	if r.Code != 0 || !strings.Contains(r.Stdout, "linux-"+filepath.Base(mods)) {
		t.Fatalf("import: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}

	var st struct {
		Kernel struct {
			Name    string
			Modules []string
		}
		Initfs  string
		Entries []struct {
			Name    string
			Kind    string
			Current bool
		}
	}
	r = silo(t, home, dir, nil, nil, "runtime", "status", "--json")
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, r.Stdout)
	}
	if st.Initfs == "" || len(st.Kernel.Modules) == 0 || len(st.Entries) != 2 {
		t.Fatalf("status: %+v", st)
	}
	for _, e := range st.Entries {
		if !e.Current {
			t.Errorf("%s is not current right after the import", e.Name)
		}
	}
	// Nothing is garbage: the current kernel and initfs are rooted.
	r = silo(t, home, dir, nil, nil, "runtime", "gc", "--json")
	var gc struct{ Removed []struct{ Name string } }
	if err := json.Unmarshal([]byte(r.Stdout), &gc); err != nil || r.Code != 0 {
		t.Fatalf("gc: %v %s %s", err, r.Stdout, r.Stderr)
	}
	for _, e := range gc.Removed {
		if e.Name == st.Kernel.Name || e.Name == st.Initfs {
			t.Errorf("gc removed the current %s", e.Name)
		}
	}
	if _, err := os.Stat(filepath.Join(home, "store", st.Initfs)); err != nil {
		t.Errorf("initfs gone after gc: %v", err)
	}

	r = silo(t, home, dir, nil, nil, "doctor", "--json")
	var doc struct {
		Checks []struct {
			Name   string
			OK     bool
			Detail string
		}
		Selected string
	}
	if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil {
		t.Fatalf("doctor --json: %v\n%s%s", err, r.Stdout, r.Stderr)
	}
	seen := map[string]bool{}
	for _, c := range doc.Checks {
		seen[c.Name] = true
		if c.Detail == "" {
			t.Errorf("doctor check %s says nothing", c.Name)
		}
	}
	for _, want := range []string{"bubblewrap", "qemu", "kernel", "initfs", "kvm", "guest agent"} {
		if !seen[want] {
			t.Errorf("doctor does not check %s: %+v", want, doc.Checks)
		}
	}
	if (doc.Selected == "") != (r.Code != 0) {
		t.Errorf("doctor selected %q but exited %d", doc.Selected, r.Code)
	}
	t.Logf("doctor: %s", r.Stdout)
}

// TestDynamicAgentRefused: a silo built with cgo is dynamically linked and
// cannot be a VM's init; building the initfs says how to fix it.
func TestDynamicAgentRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("builds silo with cgo: skipped with -short")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no C compiler: cannot build a dynamic silo")
	}
	vmlinuz, mods := debianKernel(t)
	bin := filepath.Join(t.TempDir(), "silo-cgo")
	build := exec.Command("go", "build", "-o", bin, "./cmd/silo")
	build.Dir = repoRoot
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	if !dynamic(t, bin) {
		t.Skip("a cgo build is static here")
	}
	cmd := exec.Command(bin, "runtime", "import-kernel", vmlinuz, "--modules", mods)
	cmd.Env = append(os.Environ(), "SILO_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "CGO_ENABLED=0") {
		t.Fatalf("dynamic silo: %v\n%s", err, out)
	}
}

// dynamic reports whether the ELF executable at p asks for a dynamic loader.
func dynamic(t *testing.T, p string) bool {
	f, err := elf.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return true
		}
	}
	return false
}
