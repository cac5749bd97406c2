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

// hostileProbe is the probe's source. Each mode prints "ok" or the error:
// "socket FAMILY TYPE PROTO" makes a socket; "tgkill PID SIG",
// "sigqueue PID SIG" (si_code SI_QUEUE) and "setsig PID SIG" (SIGIO
// redirected by fcntl F_SETOWN and F_SETSIG) send PID a signal.
const hostileProbe = `package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"unsafe"
)

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func errnoErr(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

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
	case "tgkill": // SI_TKILL
		fmt.Println(errString(syscall.Tgkill(n(2), n(2), syscall.Signal(n(3)))))
	case "sigqueue": // rt_sigqueueinfo, si_code SI_QUEUE
		var info [128]byte
		binary.LittleEndian.PutUint32(info[0:], uint32(n(3)))
		binary.LittleEndian.PutUint32(info[8:], uint32(0xffffffff)) // SI_QUEUE (-1)
		_, _, e := syscall.Syscall(syscall.SYS_RT_SIGQUEUEINFO, uintptr(n(2)), uintptr(n(3)), uintptr(unsafe.Pointer(&info[0])))
		fmt.Println(errString(errnoErr(e)))
	case "setsig": // F_SETOWN PID, F_SETSIG SIG, O_ASYNC on a pipe, then make it readable
		var p [2]int
		if err := syscall.Pipe(p[:]); err != nil {
			fmt.Println(err)
			return
		}
		_, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(p[0]), syscall.F_SETOWN, uintptr(n(2)))
		if e == 0 {
			_, _, e = syscall.Syscall(syscall.SYS_FCNTL, uintptr(p[0]), 10 /* F_SETSIG */, uintptr(n(3)))
		}
		if e == 0 {
			_, _, e = syscall.Syscall(syscall.SYS_FCNTL, uintptr(p[0]), syscall.F_SETFL, syscall.O_ASYNC|syscall.O_NONBLOCK)
		}
		if e == 0 {
			syscall.Write(p[1], []byte("x"))
		}
		fmt.Println(errString(errnoErr(e)))
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
