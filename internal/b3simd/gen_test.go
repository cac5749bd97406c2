package b3simd

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGenerated checks that chunks_amd64.s is what gen/main.go writes,
// so the kernels never drift from their documented generator.
func TestGenerated(t *testing.T) {
	out := filepath.Join(t.TempDir(), "chunks_amd64.s")
	cmd := exec.Command("go", "run", "./gen", "-out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./gen: %v\n%s", err, b)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	have, err := os.ReadFile("chunks_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, have) {
		t.Fatal("chunks_amd64.s is stale: run go generate ./internal/b3simd")
	}
}
