package agentbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestFind runs a copy of the test binary as "silo" with different files
// beside it named silo-agent: Debian's static busybox, a dynamic /bin/sh,
// a script.
func TestFind(t *testing.T) {
	const static, dynamic = "/bin/busybox", "/bin/sh"
	if !isStatic(static) || isStatic(dynamic) {
		t.Skip("needs a static /bin/busybox (busybox-static) and a dynamic /bin/sh")
	}
	dir := t.TempDir()
	self := filepath.Join(dir, "silo")
	copyFile(t, os.Args[0], self)
	lean := filepath.Join(dir, "silo-agent")
	for _, tt := range []struct {
		name, beside, want string
	}{
		{"nothing beside it", "", self},
		{"a script beside it", "", self},
		{"a dynamic binary beside it", dynamic, self},
		{"a static binary beside it", static, lean},
	} {
		os.Remove(lean)
		switch {
		case tt.beside != "":
			copyFile(t, tt.beside, lean)
		case tt.name == "a script beside it":
			if err := os.WriteFile(lean, []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command(self, "-test.run=^TestHelperFind$")
		cmd.Env = append(os.Environ(), "AGENTBIN_HELPER=1", Env+"=")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: helper: %v", tt.name, err)
		}
		if string(out) != tt.want {
			t.Errorf("%s: Find = %q, want %q", tt.name, out, tt.want)
		}
	}
	if p, err := Find("/opt/agent"); p != "/opt/agent" || err != nil {
		t.Errorf("with an explicit agent: %q, %v", p, err)
	}
}

// TestHelperFind prints what Find returns, when TestFind runs it.
func TestHelperFind(t *testing.T) {
	if os.Getenv("AGENTBIN_HELPER") != "1" {
		t.Skip("run by TestFind")
	}
	p, err := Find("")
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString(p)
	os.Exit(0)
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
}
