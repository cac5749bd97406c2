package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// camelKey is the one casing of silo's JSON keys: the configuration's
// (camelCase, no underscores, first letter lower-case).
var camelKey = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)

// dataKeys are keys whose value is data with keys of its own (a
// variable's name, an annotation, an OCI config), not silo's vocabulary:
// their values are not walked.
var dataKeys = map[string]bool{"env": true, "annotations": true, "config": true, "labels": true, "origins": true}

// TestJSONKeyCasing runs every command that has --json (found through
// `silo --help`, so a new one cannot be missed) and checks that every key
// of every object it prints is camelCase.
func TestJSONKeyCasing(t *testing.T) {
	home, dir := t.TempDir(), t.TempDir()
	layout := ociLayout(t, busyboxImage(t))
	ref := "oci-layout:" + layout
	if r := silo(t, home, dir, nil, nil, "image", "pull", ref); r.Code != 0 {
		t.Fatalf("pull: %d %s", r.Code, r.Stderr)
	}
	file := filepath.Join(dir, "blob")
	if err := os.WriteFile(file, []byte("some bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	add := silo(t, home, dir, nil, nil, "store", "add", file, "--root", "keep")
	entry := filepath.Base(strings.TrimSpace(add.Stdout))
	runs := map[string][]string{
		"doctor":           {"doctor", "--json"},
		"runtime status":   {"runtime", "status", "--json"},
		"runtime gc":       {"runtime", "gc", "--json", "--dry-run"},
		"image pull":       {"image", "pull", "--json", ref},
		"image ls":         {"image", "ls", "--json"},
		"image inspect":    {"image", "inspect", ref},
		"config show":      {"config", "show", "--json"},
		"config path":      {"config", "path", "--json"},
		"store add":        {"store", "add", "--json", file},
		"store ls":         {"store", "ls", "--json"},
		"store path-info":  {"store", "path-info", "--json", entry},
		"store verify":     {"store", "verify", "--json"},
		"store gc":         {"store", "gc", "--json", "--dry-run"},
		"store roots":      {"store", "roots", "--json"},
		"store compress":   {"store", "compress", "--json", "--dry-run", "--all"},
		"cache report":     {"cache", "report", "--json"},
		"cache list":       {"cache", "list", "--json"},
		"cache gc":         {"cache", "gc", "--json", "--dry-run"},
		"cache compress":   {"cache", "compress", "--json", "--dry-run", "--all"},
		"cache clean":      {"cache", "clean", "--json", "--dry-run"},
		"shim":             {"shim", "python", "list", "--json"},
		"current":          {"current", "--json"},
		"config show TOOL": {"config", "show", "python", "--json"},
		"status":           {"status", "--json"},
		"log":              {"log", "--json"},
		"list":             {"list", "--available", "--json"},
	}
	for _, cmd := range jsonCommands(t, home, dir) {
		if _, ok := runs[cmd]; !ok {
			t.Errorf("silo %s has --json, and this test does not run it: add it to runs", cmd)
		}
	}
	for name, args := range runs {
		r := silo(t, home, dir, nil, nil, args...)
		var v any
		if err := json.Unmarshal([]byte(r.Stdout), &v); err != nil {
			t.Errorf("silo %s: exit %d, not JSON (%v):\n%s%s", strings.Join(args, " "), r.Code, err, r.Stdout, r.Stderr)
			continue
		}
		for _, bad := range badKeys(v, "") {
			t.Errorf("silo %s: key %s is not camelCase", name, bad)
		}
	}
}

// badKeys returns the paths of the keys below v that are not camelCase.
func badKeys(v any, at string) []string {
	var bad []string
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if !camelKey.MatchString(k) {
				bad = append(bad, at+"."+k)
			}
			if !dataKeys[k] {
				bad = append(bad, badKeys(x, at+"."+k)...)
			}
		}
	case []any:
		for _, x := range v {
			bad = append(bad, badKeys(x, at+"[]")...)
		}
	}
	return bad
}

// jsonCommands lists the commands whose help offers --json.
func jsonCommands(t *testing.T, home, dir string) []string {
	r := silo(t, home, dir, nil, nil, "--help")
	var cmds []string
	in := false
	for _, line := range strings.Split(r.Stdout, "\n") {
		if strings.HasPrefix(line, "Commands:") {
			in = true
			continue
		}
		f := strings.Fields(line)
		if !in || !strings.HasPrefix(line, "  ") || strings.HasPrefix(line, "     ") || len(f) == 0 {
			continue
		}
		var words []string
		for _, w := range f {
			if !regexp.MustCompile(`^[a-z][a-z-]*$`).MatchString(w) {
				break
			}
			words = append(words, w)
		}
		// A command's words are followed by its help, which starts
		// capitalised; take the words before the first gap of two spaces.
		name := strings.TrimSpace(strings.SplitN(strings.TrimSpace(line), "  ", 2)[0])
		if len(words) == 0 || name == "" {
			continue
		}
		h := silo(t, home, dir, nil, nil, append(strings.Fields(name), "--help")...)
		if strings.Contains(h.Stdout, "--json") {
			cmds = append(cmds, name)
		}
	}
	if len(cmds) < 10 {
		t.Fatalf("found only %d commands with --json in silo --help:\n%s", len(cmds), r.Stdout)
	}
	return cmds
}

// TestDoctorKVMUnknown: when the doctor cannot decide whether KVM works
// (/dev/kvm opens, but no kernel is imported to test-boot), it says
// "unknown" and why, not FAIL.
func TestDoctorKVMUnknown(t *testing.T) {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("/dev/kvm does not open here (%v): the doctor decides no", err)
	}
	f.Close()
	home, dir := t.TempDir(), t.TempDir()
	r := silo(t, home, dir, nil, nil, "doctor", "--no-probe", "--json")
	var rep struct {
		Checks []struct{ Name, State, Detail string }
	}
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, r.Stdout)
	}
	found := false
	for _, c := range rep.Checks {
		if c.Name == "kvm" {
			found = true
			if c.State != "unknown" || !strings.Contains(c.Detail, "import") {
				t.Errorf("kvm with no kernel imported: %+v, want state unknown saying to import a kernel", c)
			}
		}
	}
	if !found {
		t.Fatalf("no kvm check in %s", r.Stdout)
	}
	r = silo(t, home, dir, nil, nil, "doctor", "--no-probe")
	if !regexp.MustCompile(`(?m)^unknown +kvm `).MatchString(r.Stdout) || regexp.MustCompile(`(?m)^FAIL +kvm `).MatchString(r.Stdout) {
		t.Errorf("doctor's kvm line is not unknown:\n%s", r.Stdout)
	}
}

// TestUsageOnStderr: a command line silo cannot read is said on stderr,
// exit 2, nothing on stdout; --help is requested output (stdout) and
// documents the exit statuses.
func TestUsageOnStderr(t *testing.T) {
	home, dir := t.TempDir(), t.TempDir()
	for _, args := range [][]string{{"store", "ls", "--bogus"}, {"image"}, {"store", "add"}, {"cache", "gc", "--max-size", "x"}} {
		r := silo(t, home, dir, nil, nil, args...)
		if r.Code != 2 || r.Stdout != "" || r.Stderr == "" {
			t.Errorf("silo %v: exit %d, stdout %q, stderr %q; want 2, nothing, the usage error", args, r.Code, r.Stdout, r.Stderr)
		}
	}
	r := silo(t, home, dir, nil, nil, "store", "path-info", "nosuchentry")
	if r.Code != 1 || r.Stdout != "" || r.Stderr == "" {
		t.Errorf("failed command: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	r = silo(t, home, dir, nil, nil, "--help")
	if r.Code != 0 || !strings.Contains(r.Stdout, "Exit status") || !strings.Contains(r.Stdout, "128+N") {
		t.Errorf("silo --help does not document the exit statuses:\n%s", r.Stdout)
	}
}
