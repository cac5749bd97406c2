package derive

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/silo-dev/silo/store"
)

// TestStepDerivation: every part of a step changes its hash; the order of
// its inputs does not.
func TestStepDerivation(t *testing.T) {
	base := Step{Platform: "linux/amd64", Parent: "image:sha256:aa", Argv: []string{"pip", "install"}, Env: []string{"A=1"}, Network: "allow=pypi.org",
		Inputs: []StepInput{{Path: "a.txt", Hash: "blake3:1"}, {Path: "b.txt", Hash: "blake3:2"}}}
	h := StepDerivation(base).Hash()
	swapped := base
	swapped.Inputs = []StepInput{base.Inputs[1], base.Inputs[0]}
	if StepDerivation(swapped).Hash() != h {
		t.Error("the order of the inputs changes the hash")
	}
	for name, mut := range map[string]func(s *Step){
		"parent":     func(s *Step) { s.Parent = "image:sha256:bb" },
		"argv":       func(s *Step) { s.Argv = []string{"pip", "install", "-U"} },
		"env":        func(s *Step) { s.Env = []string{"A=2"} },
		"network":    func(s *Step) { s.Network = "" },
		"input hash": func(s *Step) { s.Inputs = []StepInput{{Path: "a.txt", Hash: "blake3:9"}, base.Inputs[1]} },
		"input set":  func(s *Step) { s.Inputs = base.Inputs[:1] },
		"platform":   func(s *Step) { s.Platform = "linux/arm64" },
	} {
		s := base
		mut(&s)
		if StepDerivation(s).Hash() == h {
			t.Errorf("changing the %s does not change the hash", name)
		}
	}
}

// TestRealiseStep: a step's layer is realised once, with its diff ID; a
// failed run keeps nothing.
func TestRealiseStep(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d := StepDerivation(Step{Platform: "linux/amd64", Parent: "image:x", Argv: []string{"true"}})
	if _, _, err := RealiseStep(st, d, func(w io.Writer) error { io.WriteString(w, "half"); return errors.New("step failed") }); err == nil {
		t.Fatal("a failed run realised")
	}
	if _, err := Lookup(st, d); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a failed run left an output: %v", err)
	}
	runs := 0
	run := func(w io.Writer) error { runs++; _, err := io.WriteString(w, "layer bytes"); return err }
	_, l, err := RealiseStep(st, d, run)
	if err != nil {
		t.Fatal(err)
	}
	// sha256("layer bytes")
	if !strings.HasPrefix(l.DiffID, "sha256:") || len(l.DiffID) != 71 {
		t.Errorf("diff ID %q", l.DiffID)
	}
	_, l2, err := RealiseStep(st, d, run)
	if err != nil || l2 != l || runs != 1 {
		t.Errorf("second realisation: %v %v, %d runs", l2, err, runs)
	}
}

// TestRebuildStep: a rebuild to other bytes becomes the derivation's
// output beside the first one, which LookupStep still finds by its diff
// ID; a rebuild to the same bytes keeps the entry; a failed one changes
// nothing.
func TestRebuildStep(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d := StepDerivation(Step{Platform: "linux/amd64", Parent: "image:x", Argv: []string{"date"}})
	write := func(s string) func(io.Writer) error {
		return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
	}
	first, l1, err := RealiseStep(st, d, write("one"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := RebuildStep(st, d, write("two"))
	if err != nil {
		t.Fatal(err)
	}
	l2 := second.Annotations["oci.diffID"]
	if second.Name == first.Name || l2 == l1.DiffID {
		t.Fatalf("a rebuild to other bytes kept the first output: %s %s", second.Name, l2)
	}
	if e, err := Lookup(st, d); err != nil || e.Name != second.Name {
		t.Errorf("the derivation's output is %v (%v), not the rebuilt %s", e, err, second.Name)
	}
	if e, err := LookupStep(st, d, l1.DiffID); err != nil || e.Name != first.Name {
		t.Errorf("LookupStep by the first diff ID gave %v (%v)", e, err)
	}
	if _, err := RebuildStep(st, d, func(w io.Writer) error { return errors.New("step failed") }); err == nil {
		t.Fatal("a failed rebuild succeeded")
	}
	again, err := RebuildStep(st, d, write("one"))
	if err != nil || again.Name != first.Name {
		t.Fatalf("a rebuild to the first bytes made %v (%v), not the first entry", again, err)
	}
	if e, err := Lookup(st, d); err != nil || e.Name != first.Name {
		t.Errorf("after a rebuild to the first bytes, the output is %v (%v)", e, err)
	}
}
