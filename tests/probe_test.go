package tests

// A static probe program the hostile-package tests copy into the
// workspace and run inside the sandbox, for what busybox cannot do.

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// hostileProbe is the probe's source. "socket FAMILY TYPE PROTO" makes a
// socket and prints "ok" or the error.
const hostileProbe = `package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

func main() {
	n := func(i int) int { v, _ := strconv.Atoi(os.Args[i]); return v }
	switch os.Args[1] {
	case "socket":
		fd, err := syscall.Socket(n(2), n(3), n(4))
		if err != nil {
			fmt.Println(err)
			return
		}
		syscall.Close(fd)
		fmt.Println("ok")
	default:
		fmt.Println("unknown probe", os.Args[1])
		os.Exit(2)
	}
}
`

var probeOnce struct {
	sync.Once
	path string
	out  []byte
	err  error
}

// probeIn copies the probe, built once, into dir as "probe" and returns
// its path inside the sandbox (relative to the workspace).
func probeIn(t *testing.T, dir string) string {
	t.Helper()
	probeOnce.Do(func() {
		src, err := os.MkdirTemp("", "silo-probe-")
		if err != nil {
			probeOnce.err = err
			return
		}
		probeOnce.path = filepath.Join(src, "probe")
		os.WriteFile(filepath.Join(src, "main.go"), []byte(hostileProbe), 0o644)
		os.WriteFile(filepath.Join(src, "go.mod"), []byte("module probe\n\ngo 1.22\n"), 0o644)
		cmd := exec.Command("go", "build", "-o", "probe", ".")
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=")
		probeOnce.out, probeOnce.err = cmd.CombinedOutput()
	})
	if probeOnce.err != nil {
		t.Fatalf("build the probe: %v\n%s", probeOnce.err, probeOnce.out)
	}
	b, err := os.ReadFile(probeOnce.path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "probe"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	return "./probe"
}
