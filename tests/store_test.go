package tests

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// storeEntry is the part of `silo store ls --json` the tests read.
type storeEntry struct {
	Name        string `json:"name"`
	Path        string `json:"path"`
	Kind        string `json:"kind"`
	ContentHash string `json:"content_hash"`
	Compressed  bool   `json:"compressed"`
}

func storeLs(t *testing.T, home string) []storeEntry {
	t.Helper()
	r := silo(t, home, home, nil, nil, "store", "ls", "--json")
	if r.Code != 0 {
		t.Fatalf("store ls: %d %s", r.Code, r.Stderr)
	}
	var es []storeEntry
	if err := json.Unmarshal([]byte(r.Stdout), &es); err != nil {
		t.Fatalf("store ls --json: %v\n%s", err, r.Stdout)
	}
	return es
}

// TestStoreConcurrentAdds: two silo processes adding the same content at
// once both succeed with the same path, for a large file and for a tree.
func TestStoreConcurrentAdds(t *testing.T) {
	home := t.TempDir()
	src := t.TempDir()
	big := make([]byte, 24<<20)
	rng := rand.NewChaCha8([32]byte{1})
	rng.Read(big)
	tree := filepath.Join(src, "tree")
	for i := range 300 {
		p := filepath.Join(tree, string(rune('a'+i%26)), strings.Repeat("f", 1+i%40))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, big[i*100:i*100+1000+i], 0o644)
	}
	for round := range 4 {
		big[0] = byte(round) // fresh content each round
		file := filepath.Join(src, "blob")
		os.WriteFile(file, big, 0o644)
		os.WriteFile(filepath.Join(tree, "round"), []byte{byte(round)}, 0o644)
		for _, path := range []string{file, tree} {
			var wg sync.WaitGroup
			res := make([]result, 2)
			for k := range res {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res[k] = silo(t, home, src, nil, nil, "store", "add", path)
				}()
			}
			wg.Wait()
			for k, r := range res {
				if r.Code != 0 {
					t.Fatalf("round %d, adder %d of %s: exit %d: %s", round, k, path, r.Code, r.Stderr)
				}
			}
			if res[0].Stdout == "" || res[0].Stdout != res[1].Stdout {
				t.Fatalf("round %d: %q vs %q", round, res[0].Stdout, res[1].Stdout)
			}
		}
	}
	if n := len(storeLs(t, home)); n != 8 {
		t.Errorf("%d entries, want 8", n)
	}
	if r := silo(t, home, home, nil, nil, "store", "verify"); r.Code != 0 {
		t.Errorf("verify: %d %s %s", r.Code, r.Stdout, r.Stderr)
	}
}

// TestStoreVerifyCLI: a flipped byte and a truncated metadata file are
// reported, exit 1, no panic; --repair removes them; verify is clean again.
func TestStoreVerifyCLI(t *testing.T) {
	home := t.TempDir()
	src := t.TempDir()
	var paths []string
	for _, c := range []string{"one", "two", "three"} {
		p := filepath.Join(src, c)
		os.WriteFile(p, []byte(strings.Repeat(c, 100)), 0o644)
		r := silo(t, home, src, nil, nil, "store", "add", p)
		if r.Code != 0 {
			t.Fatalf("add: %s", r.Stderr)
		}
		paths = append(paths, strings.TrimSpace(r.Stdout))
	}
	b, _ := os.ReadFile(paths[0])
	b[10] ^= 0x20
	os.Chmod(paths[0], 0o644)
	os.WriteFile(paths[0], b, 0o444)
	meta := filepath.Join(home, "store", ".meta", filepath.Base(paths[1])+".json")
	mb, _ := os.ReadFile(meta)
	os.WriteFile(meta, mb[:len(mb)/3], 0o644)

	r := silo(t, home, src, nil, nil, "store", "verify", "--json")
	if r.Code != 1 || strings.Contains(r.Stderr, "panic") {
		t.Fatalf("verify: exit %d, stderr %s", r.Code, r.Stderr)
	}
	var rep struct {
		Checked  int
		Problems []struct{ Name, Kind string }
	}
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("%v: %s", err, r.Stdout)
	}
	kinds := map[string]string{}
	for _, p := range rep.Problems {
		kinds[p.Name] = p.Kind
	}
	if kinds[filepath.Base(paths[0])] != "corrupt" || kinds[filepath.Base(paths[1])] != "corrupt-metadata" || len(kinds) != 2 {
		t.Fatalf("problems: %+v", rep.Problems)
	}
	r = silo(t, home, src, nil, nil, "store", "verify")
	if r.Code != 1 || !strings.Contains(r.Stdout, "corrupt:") || !strings.Contains(r.Stderr, "--repair") {
		t.Errorf("verify text: %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if r = silo(t, home, src, nil, nil, "store", "verify", "--repair"); r.Code != 0 {
		t.Errorf("verify --repair: %d %s %s", r.Code, r.Stdout, r.Stderr)
	}
	if r = silo(t, home, src, nil, nil, "store", "verify"); r.Code != 0 {
		t.Errorf("verify after repair: %d %s", r.Code, r.Stdout)
	}
	if es := storeLs(t, home); len(es) != 1 || es[0].Path != paths[2] {
		t.Errorf("after repair: %+v", es)
	}
}

// TestStoreCacheCLI walks the cache verbs: roots keep entries, gc
// --dry-run removes nothing, compress and use round-trip, clean evicts.
func TestStoreCacheCLI(t *testing.T) {
	home := t.TempDir()
	src := t.TempDir()
	tree := filepath.Join(src, "rootfs")
	os.MkdirAll(filepath.Join(tree, "bin"), 0o755)
	os.WriteFile(filepath.Join(tree, "bin", "sh"), bytes.Repeat([]byte("#!/bin/sh\n"), 5000), 0o755)
	os.Symlink("sh", filepath.Join(tree, "bin", "bash"))
	junk := filepath.Join(src, "junk")
	os.WriteFile(junk, []byte("junk"), 0o644)
	run := func(want int, args ...string) result {
		t.Helper()
		r := silo(t, home, src, nil, nil, args...)
		if r.Code != want {
			t.Fatalf("silo %v: exit %d, want %d\n%s%s", args, r.Code, want, r.Stdout, r.Stderr)
		}
		return r
	}
	rootfs := strings.TrimSpace(run(0, "store", "add", "--kind", "rootfs", "--rebuildable", "--root", "tool", tree).Stdout)
	junkPath := strings.TrimSpace(run(0, "store", "add", junk).Stdout)
	roots := run(0, "store", "roots", "--json").Stdout
	if !strings.Contains(roots, filepath.Base(rootfs)) || !strings.Contains(roots, `"direct"`) {
		t.Errorf("roots: %s", roots)
	}
	if out := run(0, "store", "gc", "--dry-run").Stdout; !strings.Contains(out, "would remove "+filepath.Base(junkPath)) {
		t.Errorf("gc --dry-run: %s", out)
	}
	if _, err := os.Stat(junkPath); err != nil {
		t.Fatal("dry run removed the entry")
	}
	if out := run(0, "cache", "gc").Stdout; !strings.Contains(out, "removed "+filepath.Base(junkPath)) {
		t.Errorf("cache gc: %s", out)
	}
	if _, err := os.Stat(junkPath); !os.IsNotExist(err) {
		t.Errorf("junk survived gc: %v", err)
	}
	run(0, "cache", "compress", "--all")
	es := storeLs(t, home)
	if len(es) != 1 || !es[0].Compressed {
		t.Fatalf("after compress: %+v", es)
	}
	var rep struct {
		Total struct{ Count, Compressed int }
		Saved int64
	}
	if err := json.Unmarshal([]byte(run(0, "cache", "report", "--json").Stdout), &rep); err != nil || rep.Total.Compressed != 1 || rep.Saved <= 0 {
		t.Errorf("cache report: %+v %v", rep, err)
	}
	run(0, "store", "verify")
	info := run(0, "store", "path-info", "--json", filepath.Base(rootfs)[:8]).Stdout
	if !strings.Contains(info, es[0].ContentHash) {
		t.Errorf("path-info by prefix: %s", info)
	}
	run(1, "store", "path-info", "zzzzzzzz")
	run(0, "cache", "list", "--json")
	// clean evicts the rebuildable rootfs even though a direct root names it.
	if out := run(0, "cache", "clean").Stdout; !strings.Contains(out, filepath.Base(rootfs)) {
		t.Errorf("cache clean: %s", out)
	}
	if es := storeLs(t, home); len(es) != 0 {
		t.Errorf("after clean: %+v", es)
	}
}

// TestStoreRefusesBadInput: bad names, a missing reference, a store on a
// read-only filesystem: clear errors, nothing half-written.
func TestStoreRefusesBadInput(t *testing.T) {
	home := t.TempDir()
	src := t.TempDir()
	f := filepath.Join(src, "f")
	os.WriteFile(f, []byte("x"), 0o644)
	for _, args := range [][]string{
		{"store", "add", "--name", "../escape", f},
		{"store", "add", "--name", "bad\x1bname", f},
		{"store", "add", "--ref", "00000000000000000000000000000000-missing", f},
		{"store", "add", "--deriver", "sha256:abc", f},
		{"store", "path-info", "/etc/passwd"},
	} {
		r := silo(t, home, src, nil, nil, args...)
		if r.Code == 0 || !strings.HasPrefix(r.Stderr, "silo: ") || strings.Contains(r.Stderr, "panic") {
			t.Errorf("silo %q: exit %d, stderr %q", args, r.Code, r.Stderr)
		}
	}
	if es := storeLs(t, home); len(es) != 0 {
		t.Errorf("refused adds left entries: %+v", es)
	}
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bwrap not installed: no read-only filesystem test")
	}
	for _, fresh := range []bool{true, false} {
		ro := t.TempDir()
		if !fresh {
			silo(t, ro, src, nil, nil, "store", "add", f)
		}
		cmd := exec.Command("bwrap", "--bind", "/", "/", "--ro-bind", ro, ro, "--dev", "/dev", siloBin, "store", "add", f)
		cmd.Env = append(os.Environ(), "SILO_HOME="+ro)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "read-only file system") || !strings.Contains(string(out), "SILO_HOME") {
			t.Errorf("read-only store (fresh %v): %v\n%s", fresh, err, out)
		}
	}
}
