package qemu

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/silo-dev/silo/vm"
)

func TestRunCommand(t *testing.T) {
	r := bootable(t)
	ws := t.TempDir()
	var stdout, stderr bytes.Buffer
	spec := &vm.Spec{
		RootfsImage: busyboxRootfs(t), Kernel: r.kernel, Initfs: r.initfs,
		Workspace: ws, Argv: []string{"/bin/sh", "-c", "echo out; echo err >&2; echo made > made.txt; exit 42"},
		Env:   []string{"PATH=/bin"},
		Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
		Timing: &vm.Timing{},
	}
	b := New(Options{Home: r.home, Accel: AccelTCG})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	code, err := b.Run(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if code != 42 || stdout.String() != "out\n" || stderr.String() != "err\n" {
		t.Fatalf("code %d stdout %q stderr %q", code, stdout.String(), stderr.String())
	}
	if b, err := os.ReadFile(filepath.Join(ws, "made.txt")); err != nil || string(b) != "made\n" {
		t.Fatalf("made.txt: %q %v", b, err)
	}
	t.Logf("phases: %+v", spec.Timing.Phases)
}
