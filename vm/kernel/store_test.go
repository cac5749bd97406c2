package kernel

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/silo-dev/silo/store"
)

// TestImportAndInitfs imports Debian's kernel into a real store and builds
// initfs entries from it.
func TestImportAndInitfs(t *testing.T) {
	vmlinuz, mods := debianKernel(t)
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Realisation(CurrentKernelKey); err == nil {
		t.Fatal("a fresh store has a current kernel")
	}
	k, err := Import(st, ImportOptions{Image: vmlinuz, Modules: mods})
	if err != nil {
		t.Fatal(err)
	}
	if k.Kind != store.KindKernel || !strings.HasSuffix(k.Name, "-linux-"+filepath.Base(mods)) {
		t.Fatalf("kernel entry %s of kind %s", k.Name, k.Kind)
	}
	again, err := Import(st, ImportOptions{Image: vmlinuz, Modules: mods})
	if err != nil || again.Name != k.Name {
		t.Fatalf("second import: %v, %v", again, err)
	}
	cur, err := Current(st)
	if err != nil || cur.Name != k.Name {
		t.Fatalf("Current = %v, %v", cur, err)
	}
	info, err := ReadInfo(k.Path)
	if err != nil || len(info.Modules) < len(SandboxModules) || info.Compression != XZ {
		t.Fatalf("kernel.json: %+v, %v", info, err)
	}

	agentA := filepath.Join(t.TempDir(), "agent")
	copyFile(t, "/bin/busybox", agentA)
	i1, err := Initfs(st, k, agentA)
	if err != nil {
		t.Fatal(err)
	}
	i2, err := Initfs(st, k, agentA)
	if err != nil || i2.Name != i1.Name {
		t.Fatalf("same kernel and agent gave %v (%v), want %s", i2, err, i1.Name)
	}
	if i1.Deriver.IsZero() || len(i1.References) != 1 || i1.References[0] != k.Name {
		t.Fatalf("initfs metadata: deriver %s refs %v", i1.Deriver, i1.References)
	}
	// Another agent is another initfs.
	agentB := filepath.Join(t.TempDir(), "agent")
	copyFile(t, "/bin/busybox", agentB)
	f, _ := os.OpenFile(agentB, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte("extra"))
	f.Close()
	i3, err := Initfs(st, k, agentB)
	if err != nil || i3.Name == i1.Name {
		t.Fatalf("a different agent gave %v (%v)", i3, err)
	}
	// The initfs's /init is the agent, byte for byte.
	dir := t.TempDir()
	cmd := exec.Command("cpio", "-idm", "--no-absolute-filenames")
	cmd.Dir = dir
	cmd.Stdin, _ = os.Open(i3.Path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio: %v %s", err, out)
	}
	want, _ := os.ReadFile(agentB)
	if got, _ := os.ReadFile(filepath.Join(dir, "init")); !bytes.Equal(got, want) {
		t.Fatal("/init is not the agent")
	}
	list, _ := os.ReadFile(filepath.Join(dir, "silo-initfs"))
	if n := len(strings.Fields(string(list))); n != len(info.Modules) {
		t.Fatalf("marker lists %d modules, kernel has %d", n, len(info.Modules))
	}
}

func TestImportRefusesBadInput(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	junk := writeFile(t, "vmlinuz", []byte(strings.Repeat("junk", 1000)))
	tests := []struct {
		name    string
		o       ImportOptions
		wantErr string
	}{
		{"missing image", ImportOptions{Image: "/nonexistent/vmlinuz", Modules: t.TempDir()}, "read the kernel image"},
		{"not a kernel", ImportOptions{Image: junk, Modules: t.TempDir()}, "not a Linux kernel"},
		{"no modules", ImportOptions{Image: writeFile(t, "vmlinux", tinyELF("Xen", 18)), Modules: t.TempDir()}, "no .ko kernel modules"},
	}
	for _, tt := range tests {
		_, err := Import(st, tt.o)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.wantErr)
		}
	}
	if es, _ := st.List(store.Filter{Kind: store.KindKernel}); len(es) != 0 {
		t.Errorf("failed imports left %d kernel entries", len(es))
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Skip(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
}
