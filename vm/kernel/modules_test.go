package kernel

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestResolveDebianModules(t *testing.T) {
	_, dir := debianKernel(t)
	idx, err := IndexModules(dir)
	if err != nil {
		t.Fatal(err)
	}
	mods, err := idx.Resolve(SandboxModules)
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, m := range mods {
		if _, dup := pos[m.Name]; dup {
			t.Fatalf("%s listed twice", m.Name)
		}
		pos[m.Name] = i
	}
	for _, m := range mods {
		for _, d := range m.Depends {
			if dp, ok := pos[d]; !ok || dp > pos[m.Name] {
				t.Errorf("%s (at %d) depends on %s (at %d, present %v)", m.Name, pos[m.Name], d, dp, ok)
			}
		}
	}
	for _, want := range append([]string{"jbd2", "mbcache", "9pnet", "virtio_ring"}, SandboxModules...) {
		if _, ok := pos[want]; !ok {
			t.Errorf("%s missing from %v", want, names(mods))
		}
	}
	if _, err := idx.Resolve([]string{"no_such_module"}); err == nil || !strings.Contains(err.Error(), "no_such_module") {
		t.Fatalf("missing module: err = %v", err)
	}
}

func names(mods []*Module) []string {
	var out []string
	for _, m := range mods {
		out = append(out, m.Name)
	}
	return out
}

// TestResolveGraph checks ordering, built-ins, cycles and missing
// dependencies on a synthetic module graph.
func TestResolveGraph(t *testing.T) {
	graph := map[string][]string{
		"a": {"b", "c"}, "b": {"c", "builtin_x"}, "c": nil,
		"loop1": {"loop2"}, "loop2": {"loop1"},
		"broken": {"gone"},
	}
	idx := &ModuleIndex{Dir: "/synthetic", mods: map[string]*Module{}, paths: map[string]string{}, builtin: map[string]bool{"builtin_x": true}}
	for n, deps := range graph {
		idx.mods[n] = &Module{Name: n, Depends: deps}
		idx.paths[n] = "/synthetic/" + n + ".ko"
	}
	tests := []struct {
		want    []string
		order   string
		wantErr string
	}{
		{[]string{"a"}, "c b a", ""},
		{[]string{"c", "a", "c"}, "c b a", ""},
		{[]string{"builtin_x"}, "", ""},
		{[]string{"loop1"}, "", "cycle: loop1 -> loop2 -> loop1"},
		{[]string{"broken"}, "", "(needed by broken)"},
	}
	for _, tt := range tests {
		got, err := idx.Resolve(tt.want)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Resolve(%v) err = %v, want %q", tt.want, err, tt.wantErr)
			}
			continue
		}
		if err != nil || strings.Join(names(got), " ") != tt.order {
			t.Errorf("Resolve(%v) = %v, %v; want %s", tt.want, names(got), err, tt.order)
		}
	}
}

func TestModinfoAndSignature(t *testing.T) {
	_, dir := debianKernel(t)
	idx, err := IndexModules(dir)
	if err != nil {
		t.Fatal(err)
	}
	ko, err := os.ReadFile(idx.paths["ext4"])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(ko, []byte(sigMagic)) {
		t.Skip("Debian's modules are not signed in this kernel")
	}
	stripped := StripSignature(ko)
	if bytes.Contains(stripped[max(0, len(stripped)-4096):], []byte(sigMagic)) || len(stripped) >= len(ko) {
		t.Fatalf("signature not stripped: %d -> %d bytes", len(ko), len(stripped))
	}
	m, err := ParseModinfo(stripped)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "ext4" || strings.Join(m.Depends, ",") != "jbd2,mbcache,crc16" {
		t.Fatalf("modinfo = %+v", m)
	}
	if again := StripSignature(stripped); !bytes.Equal(again, stripped) {
		t.Fatal("stripping twice changed the module")
	}
	// A signature length that points before the file is left alone.
	bad := append(bytes.Repeat([]byte{0}, 8), append([]byte{0, 0, 0, 0xff}, sigMagic...)...)
	if got := StripSignature(bad); !bytes.Equal(got, bad) {
		t.Fatal("bogus signature length was trusted")
	}
	if _, err := ParseModinfo([]byte("not elf")); err == nil {
		t.Fatal("ParseModinfo accepted garbage")
	}
}
