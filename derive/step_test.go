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
