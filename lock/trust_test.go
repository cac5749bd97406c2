package lock

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNestedProjectNeedsTrust plays the attack: a sandbox whose workspace
// is a project, or a plain directory, writes a silo.toml into a
// subdirectory to widen its next run. Load must refuse that file until the
// user trusts it, and again once it changes.
func TestNestedProjectNeedsTrust(t *testing.T) {
	const planted = "passEnv = [\"AWS_SECRET_ACCESS_KEY\"]\n"
	tests := []struct {
		name  string
		setup func(t *testing.T, f *fixture) (outer string)
	}{
		{"inside a project", func(t *testing.T, f *fixture) string {
			f.projectFile(t, "")
			return f.project
		}},
		{"inside a workspace a sandbox had", func(t *testing.T, f *fixture) string {
			if err := NoteWorkspace(f.home, f.project); err != nil {
				t.Fatal(err)
			}
			return f.project
		}},
		{"deep inside a workspace, recorded above the user's home", func(t *testing.T, f *fixture) string {
			if err := NoteWorkspace(f.home, f.top); err != nil {
				t.Fatal(err)
			}
			return f.top
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			outer := tt.setup(t, f)
			nested := f.write(t, "home/proj/sub/silo.toml", planted)
			dir := filepath.Dir(nested)

			_, err := f.load(dir)
			var ue *UntrustedError
			if !errors.As(err, &ue) || ue.Path != nested || ue.Outer != outer || ue.Changed {
				t.Fatalf("Load of a planted silo.toml = %v, want an untrusted-file error naming %s in %s", err, nested, outer)
			}
			if !strings.Contains(err.Error(), "silo config trust "+nested) {
				t.Errorf("the error does not say how to trust the file: %v", err)
			}

			if err := f.trust(nested); err != nil {
				t.Fatal(err)
			}
			c, err := f.load(dir)
			if err != nil {
				t.Fatalf("Load after trust: %v", err)
			}
			if c.ProjectRoot() != dir {
				t.Errorf("ProjectRoot = %s, want %s", c.ProjectRoot(), dir)
			}

			f.write(t, "home/proj/sub/silo.toml", planted+"passFiles = [\"key\"]\n")
			_, err = f.load(dir)
			if !errors.As(err, &ue) || !ue.Changed {
				t.Fatalf("Load of a trusted file that changed = %v, want an untrusted-file error", err)
			}
		})
	}
}

// TestTopLevelProjectNeedsNoTrust checks the usual case stays free: a
// project's own silo.toml that grants nothing beyond the defaults, even
// in a directory sandboxes have had.
func TestTopLevelProjectNeedsNoTrust(t *testing.T) {
	f := newFixture(t)
	f.write(t, "home/proj/silo.toml", "tools = [\"python\"]\npassSshAgent = false\n[mount]\nexclude = [\"node_modules\"]\nmode = \"ro\"\n[overrides.python]\ncpus = 4\nenv = { A = \"1\" }\npostInstall = \"pip install -e .\"\n[overrides.python.network]\nhostAccess = false\nproxy.deny = [\"evil.example\"]\nproxy.allow = [\"pypi.org\"]\n")
	if err := NoteWorkspace(f.home, f.project); err != nil {
		t.Fatal(err)
	}
	if err := NoteWorkspace(f.home, f.project); err != nil {
		t.Fatalf("recording a workspace twice: %v", err)
	}
	// A silo.toml above the user's home is beyond the walk: it does not
	// make the project nested.
	f.write(t, "silo.toml", "")
	if _, err := f.load(filepath.Join(f.project, "a")); err != nil {
		t.Fatal(err)
	}
}

// TestTrustRefusesBadInput checks Trust on what it cannot vouch for.
func TestTrustRefusesBadInput(t *testing.T) {
	f := newFixture(t)
	if err := f.trust(filepath.Join(f.project, "silo.toml")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("Trust of a missing file = %v", err)
	}
	if err := os.Mkdir(filepath.Join(f.project, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := f.trust(filepath.Join(f.project, "d")); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Trust of a directory = %v", err)
	}
}

// TestNestedProjectOlderThanSandboxes: a nested silo.toml that was there
// before any sandbox had the workspace above it needs no trust; once
// changed after that, it does.
func TestNestedProjectOlderThanSandboxes(t *testing.T) {
	f := newFixture(t)
	nested := f.write(t, "home/proj/sub/silo.toml", "tools = []\n")
	// File times come from a coarse clock: let it tick before the
	// workspace is recorded.
	time.Sleep(50 * time.Millisecond)
	if err := NoteWorkspace(f.home, f.project); err != nil {
		t.Fatal(err)
	}
	if _, err := f.load(filepath.Dir(nested)); err != nil {
		t.Fatalf("a nested silo.toml older than every sandbox: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	f.write(t, "home/proj/sub/silo.toml", "tools = []\npassEnv = [\"AWS_SECRET_ACCESS_KEY\"]\n")
	var ue *UntrustedError
	if _, err := f.load(filepath.Dir(nested)); !errors.As(err, &ue) {
		t.Fatalf("a nested silo.toml changed after a sandbox had the workspace: %v", err)
	}
	// A sandbox cannot make a file look old: setting its times back
	// leaves the change time at now.
	old := time.Now().Add(-24 * time.Hour)
	if err := os.Chtimes(nested, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := f.load(filepath.Dir(nested)); !errors.As(err, &ue) {
		t.Fatalf("a changed file with its times set back: %v", err)
	}
	// An earlier sandbox higher up counts too.
	g := newFixture(t)
	if err := NoteWorkspace(g.home, g.top); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	nested = g.write(t, "home/proj/sub/silo.toml", "tools = []\n")
	time.Sleep(50 * time.Millisecond)
	if err := NoteWorkspace(g.home, g.project); err != nil {
		t.Fatal(err)
	}
	if _, err := g.load(filepath.Dir(nested)); !errors.As(err, &ue) {
		t.Fatalf("a file made after a sandbox had a workspace higher up: %v", err)
	}
}
