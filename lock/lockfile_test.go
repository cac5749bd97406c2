package lock

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	testHash   = "blake3:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

func sampleLock() *LockFile {
	return &LockFile{Version: LockVersion, Tools: map[string]*LockTool{
		"python": {Image: "python:3.12-slim", Digest: testDigest, Platform: "linux/amd64", Rootfs: testHash,
			DerivedFrom: &LockFrom{Env: map[string]string{"PIP_NO_CACHE": testHash, "a.b": testHash}, Allow: []string{"pypi.org"}, InstallAllow: []string{"*.pythonhosted.org"}}, Steps: []*LockStep{
				{Scope: ScopeGlobal, Argv: []string{"pip", "install", "ruff"}, Derivation: testHash, Layer: testDigest, Rootfs: testHash},
				{Scope: ScopeProject, Argv: []string{"sh", "-c", "pip install -r \"requirements.txt\"\n"}, Derivation: testHash,
					Inputs: []LockInput{{Path: "requirements.txt", Hash: testHash}}, Layer: testDigest, Rootfs: testHash},
			}},
		"node": {Image: "node:22", Digest: testDigest, Index: testDigest, Platform: "linux/amd64", Rootfs: testHash, Kernel: testHash, Initfs: testHash},
	}}
}

// TestLockFileRoundTrip: the canonical text parses back to the same lock
// and writes the same bytes, with the tools in a fixed order.
func TestLockFileRoundTrip(t *testing.T) {
	b := sampleLock().Marshal()
	if !strings.HasSuffix(string(b), "\n") || strings.Index(string(b), "[tools.node]") > strings.Index(string(b), "[tools.python]") {
		t.Fatalf("not canonical:\n%s", b)
	}
	lf, err := ParseLockFile("silo.lock", b)
	if err != nil {
		t.Fatalf("parse what Marshal wrote: %v\n%s", err, b)
	}
	if got := lf.Marshal(); string(got) != string(b) {
		t.Errorf("a round trip changed the lock:\n%s\nwas:\n%s", got, b)
	}
	for i := 0; i < 20; i++ {
		if string(sampleLock().Marshal()) != string(b) {
			t.Fatal("Marshal is not deterministic")
		}
	}
}

// TestLockFileWithoutDerivedFrom: a lock written before derivedFrom
// existed reads, and writes back the same bytes.
func TestLockFileWithoutDerivedFrom(t *testing.T) {
	lf := sampleLock()
	lf.Tools["python"].DerivedFrom = nil
	b := lf.Marshal()
	if strings.Contains(string(b), "derivedFrom") {
		t.Fatalf("a lock without derivedFrom writes one:\n%s", b)
	}
	got, err := ParseLockFile("silo.lock", b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Tools["python"].DerivedFrom != nil || string(got.Marshal()) != string(b) {
		t.Errorf("a round trip without derivedFrom changed the lock:\n%s", got.Marshal())
	}
}

// TestLockFileErrors: a malformed, newer or inconsistent lock is refused
// with its line and the repair command.
func TestLockFileErrors(t *testing.T) {
	good := string(sampleLock().Marshal())
	line := func(s, sub string) int { return 1 + strings.Count(s[:strings.Index(s, sub)], "\n") }
	for name, tc := range map[string]struct{ text, at, msg string }{
		"not toml":     {good + "\n[tools\n", "[tools\n", "TOML"},
		"newer":        {strings.Replace(good, "version = 1", "version = 9", 1), "version = 9", "newer"},
		"bad digest":   {strings.Replace(good, `digest = "sha256:0123`, `digest = "sha256:zz23`, 1), `digest = "sha256:zz23`, "sha256 digest"},
		"bad scope":    {strings.Replace(good, `scope = "project"`, `scope = "team"`, 1), `scope = "team"`, "scope"},
		"unknown key":  {strings.Replace(good, `platform = "linux/amd64"`, "platform = \"linux/amd64\"\nflavour = \"x\"", 1), "flavour", "flavour"},
		"env hash":     {strings.Replace(good, `PIP_NO_CACHE = "blake3:0123`, `PIP_NO_CACHE = "plain`, 1), `PIP_NO_CACHE = "plain`, "blake3"},
		"global after": {strings.Replace(strings.Replace(good, `scope = "global"`, `scope = "tmp"`, 1), `scope = "project"`, `scope = "global"`, 1), `scope = "tmp"`, "scope"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseLockFile("/p/silo.lock", []byte(tc.text))
			if err == nil {
				t.Fatal("accepted")
			}
			want := "/p/silo.lock:" + itoa(line(tc.text, tc.at)) + ":"
			if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "silo pull --update") {
				t.Errorf("error %q: want %s, %q and the repair command", err, want, tc.msg)
			}
		})
	}
}

// TestLockFileMissingAndPlaceholder: no file, and the workspace guard's
// empty placeholder, are no lock.
func TestLockFileMissingAndPlaceholder(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, LockFileName)
	if lf, err := ReadLockFile(p); lf != nil || err != nil {
		t.Errorf("missing: %v %v", lf, err)
	}
	os.WriteFile(p, nil, 0o644)
	if lf, err := ReadLockFile(p); lf != nil || err != nil {
		t.Errorf("empty placeholder: %v %v", lf, err)
	}
	if err := WriteLockFile(p, sampleLock()); err != nil {
		t.Fatal(err)
	}
	if lf, err := ReadLockFile(p); err != nil || lf.Tools["python"].Steps[1].Inputs[0].Path != "requirements.txt" {
		t.Errorf("written lock: %v %v", lf, err)
	}
}

// TestLockFileExample: silo.lock.example at the repository's top is a
// valid lock with every field.
func TestLockFileExample(t *testing.T) {
	b, err := os.ReadFile("../silo.lock.example")
	if err != nil {
		t.Fatal(err)
	}
	lf, err := ParseLockFile("silo.lock.example", b)
	if err != nil {
		t.Fatal(err)
	}
	py := lf.Tools["python"]
	if py == nil || py.Index == "" || py.Kernel == "" || py.DerivedFrom == nil || len(py.DerivedFrom.Env) != 1 || py.Initfs == "" || len(py.Steps) != 2 || len(py.Steps[1].Inputs) != 1 {
		t.Errorf("the example does not show every field: %+v", py)
	}
}
