package lock

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProjectGrantsNeedTrust plays a cloned repository whose silo.toml
// grants itself something of the user's: each key must be refused until
// the user trusts the file, and the refusal must name the grant.
func TestProjectGrantsNeedTrust(t *testing.T) {
	tests := []struct {
		name, toml, want string
	}{
		{"passEnv", `passEnv = ["AWS_SECRET_ACCESS_KEY"]`, "passEnv AWS_SECRET_ACCESS_KEY  (line 1)"},
		{"override passEnv", "[overrides.python]\npassEnv = [\"AWS_SECRET_ACCESS_KEY\"]", "python: passEnv AWS_SECRET_ACCESS_KEY  (line 2)"},
		{"passFiles", `passFiles = ["key.pem"]`, "passFiles "},
		{"passSshAgent", `passSshAgent = true`, "passSshAgent true"},
		{"hostAccess", "[overrides.python.network]\nhostAccess = true", "python: network.hostAccess true"},
		{"allow everything", "[overrides.python.network]\nproxy.allow = [\"*\"]", "python: network.allow *"},
		{"installAllow", "[overrides.python.network]\nproxy.installAllow = [\"evil.example\"]", "python: network.installAllow evil.example"},
		{"ports", "[[overrides.python.ports]]\nhost = 8000\nguest = 80", "python: ports host 8000 → guest 80"},
		{"cache", "[[overrides.python.cache]]\nguest = \"/root/.x\"", "python: caches /root/.x ← "},
		{"local image in the project", "[overrides.python]\nimage = \"oci-layout:img\"", "python: image oci-layout:"},
		{"rw over the user's ro", "[mount]\nmode = \"rw\"", "mount.mode rw  (line 2)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.user(t, "[mount]\nmode = \"ro\"\n")
			p := f.write(t, "home/proj/silo.toml", tt.toml+"\n")
			_, err := f.load(f.project)
			ue, ok := IsUntrusted(err)
			if !ok {
				t.Fatalf("Load of a project file granting %s = %v, want an untrusted-file error", tt.name, err)
			}
			if ue.Outer != "" || ue.Changed || ue.Path != p {
				t.Errorf("error = %+v", ue)
			}
			msg := err.Error()
			for _, want := range []string{tt.want, "silo config trust " + p + " --expect " + ue.ShortHash()} {
				if !strings.Contains(msg, want) {
					t.Errorf("the refusal does not say %q:\n%s", want, msg)
				}
			}
			if err := ue.Trust(f.home); err != nil {
				t.Fatal(err)
			}
			if _, err := f.load(f.project); err != nil {
				t.Fatalf("Load after trusting the refused bytes: %v", err)
			}
			f.write(t, "home/proj/silo.toml", tt.toml+"\n# changed\n")
			if _, err := f.load(f.project); err == nil {
				t.Fatal("a trusted file that changed was obeyed")
			} else if ue, ok := IsUntrusted(err); !ok || !ue.Changed {
				t.Fatalf("Load of a changed file = %v, want it refused as changed", err)
			}
		})
	}
}

// TestWhatIsNotAGrant: values the defaults or the user already give, and
// the user's own files, need no trust.
func TestWhatIsNotAGrant(t *testing.T) {
	f := newFixture(t)
	f.user(t, "passEnv = [\"GITHUB_TOKEN\"]\npassSshAgent = true\n[overrides.python.network]\nproxy.allow = [\"*\"]\nhostAccess = true\n")
	f.global(t, "[tool.bb]\nimage = \"oci-layout:/elsewhere/img\"\n[tool.bb.network]\nhostAccess = true\n")
	f.write(t, "home/proj/silo.toml", "passEnv = [\"GITHUB_TOKEN\"]\n[overrides.python]\nimage = \"python:3.13\"\n[overrides.python.network]\nproxy.allow = [\"pypi.org\", \"*\"]\n[[overrides.python.ports]]\nhost = 1\nguest = 1\n[overrides.bb]\nports = []\n")
	if _, err := f.load(f.project); err == nil {
		t.Fatal("the project's own port forward was not a grant")
	}
	f.write(t, "home/proj/silo.toml", "passEnv = [\"GITHUB_TOKEN\"]\n[overrides.python]\nimage = \"python:3.13\"\n[overrides.python.network]\nproxy.allow = [\"pypi.org\", \"*\"]\n[overrides.bb]\nports = []\n[mount]\nmode = \"rw\"\n")
	if _, err := f.load(f.project); err != nil {
		t.Fatalf("a project file asking for nothing the user and built-ins do not give: %v", err)
	}
}

// TestTrustIsOfWhatWasShown: a file swapped between the review and the
// trust stays untrusted, and --expect names the bytes.
func TestTrustIsOfWhatWasShown(t *testing.T) {
	f := newFixture(t)
	p := f.write(t, "home/proj/silo.toml", "passEnv = [\"HARMLESS\"]\n")
	r, err := ReviewFile(Options{Home: f.home, UserHome: f.userHome}, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Grants) != 1 || r.Grants[0].String() != "passEnv HARMLESS" {
		t.Fatalf("grants = %v", r.Grants)
	}
	f.write(t, "home/proj/silo.toml", "passEnv = [\"AWS_SECRET_ACCESS_KEY\"]\n")
	if err := r.Trust(f.home); err != nil {
		t.Fatal(err)
	}
	if _, err := f.load(f.project); err == nil {
		t.Fatal("the swapped file was obeyed: trust recorded what was not shown")
	}
	for hash, want := range map[string]bool{r.ShortHash(): true, strings.ToUpper(r.Hash): true, r.Hash[1:33] + "0": false} {
		if ok, err := r.Matches(hash); err != nil || ok != want {
			t.Errorf("Matches(%s) = %v, %v; want %v", hash, ok, err, want)
		}
	}
	for _, bad := range []string{"", r.Hash[:8], "zz" + r.Hash[2:], r.Hash + "00"} {
		if _, err := r.Matches(bad); err == nil {
			t.Errorf("Matches(%q) took a malformed hash", bad)
		}
	}
}

// TestWriteTrusted: what silo writes at the user's word is obeyed at once.
func TestWriteTrusted(t *testing.T) {
	f := newFixture(t)
	p := filepath.Join(f.project, ProjectFileName)
	if err := WriteTrusted(f.home, p, []byte("passEnv = [\"TOKEN\"]\n")); err != nil {
		t.Fatal(err)
	}
	c, err := f.load(f.project)
	if err != nil {
		t.Fatalf("Load of a file silo wrote: %v", err)
	}
	if tl, _ := c.Tool("python"); len(tl.PassEnv) != 1 {
		t.Errorf("passEnv = %v", tl.PassEnv)
	}
	if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("the file written: %v, %v", st, err)
	}
	if left, _ := filepath.Glob(filepath.Join(f.project, ".silo.toml-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestProjectLocalImageStaysInside: a project's local image path, like
// its passFiles, cannot name a host path outside the project.
func TestProjectLocalImageStaysInside(t *testing.T) {
	f := newFixture(t)
	outside := f.write(t, "elsewhere/img/index.json", "{}")
	if err := os.Symlink(filepath.Dir(outside), filepath.Join(f.project, "link")); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{
		"oci-layout:" + filepath.Dir(outside), "oci-layout:~/x", "docker-archive:~/x.tar",
		"oci-archive:../x.tar", "oci-layout:link:v1", "oci-layout:link/../../elsewhere/img",
	} {
		p := f.write(t, "home/proj/silo.toml", "[overrides.python]\nimage = \""+ref+"\"\n")
		_, err := f.load(f.project)
		if err == nil || !strings.Contains(err.Error(), p+":2:1") || !strings.Contains(err.Error(), "outside the project") {
			t.Errorf("image %s in a project file: %v; want a refusal at %s:2:1", ref, err, p)
		}
	}
	f.write(t, "home/proj/silo.toml", "")
	f.user(t, "[overrides.python]\nimage = \"oci-layout:"+filepath.Dir(outside)+"\"\n")
	if _, err := f.load(f.project); err != nil {
		t.Errorf("a local image outside the project in the user-wide file: %v", err)
	}
}
