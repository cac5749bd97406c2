package qemu

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/silo-dev/silo/internal/fsutil"
	"github.com/silo-dev/silo/internal/home"
)

// The VM's disks are opened with aio=io_uring where QEMU and the kernel
// allow it: QEMU's default (aio=threads) hands each request to a worker
// thread, which a fresh QEMU first creates, and under TCG that cost about
// 80 ms of CPU time per short run here. Whether they do (QEMU built with
// liburing, io_uring not refused by the kernel or a seccomp profile) is
// asked once per QEMU binary, by starting it with such a disk, and the
// answer kept in the home's runtime/io-uring.json.

// ioUringTimeout bounds the probe.
const ioUringTimeout = 10 * time.Second

// ioUringStatus is the cached answer for one QEMU binary.
type ioUringStatus struct {
	QEMU   string `json:"qemu"`
	Usable bool   `json:"usable"`
}

// ioUring reports whether qemu can open the VM's disks with aio=io_uring.
func (b *Backend) ioUring(ctx context.Context, qemu string) bool {
	id := qemuIdentity(qemu)
	if b.o.Home == "" || id == "" {
		return false
	}
	cache := filepath.Join(home.Dir(b.o.Home).Runtime(), "io-uring.json")
	var st ioUringStatus
	if raw, err := os.ReadFile(cache); err == nil && json.Unmarshal(raw, &st) == nil && st.QEMU == id {
		return st.Usable
	}
	st = ioUringStatus{QEMU: id, Usable: probeIOUring(ctx, qemu, filepath.Dir(cache)) == nil}
	if raw, err := json.Marshal(st); err == nil {
		_ = fsutil.WriteFile(cache, append(raw, '\n'), fsutil.WriteOptions{MkdirPerm: 0o700})
	}
	return st.Usable
}

// probeIOUring starts qemu with no machine and one disk (an empty file in
// dir) opened with aio=io_uring, and has it quit at once: QEMU refuses to
// start when it cannot use io_uring.
func probeIOUring(ctx context.Context, qemu, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".io-uring-probe-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Truncate(4096); err != nil {
		f.Close()
		return err
	}
	f.Close()
	ctx, cancel := context.WithTimeout(ctx, ioUringTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, "-machine", "none", "-nodefaults", "-no-user-config", "-display", "none",
		"-blockdev", "driver=file,node-name=probe,read-only=on,aio=io_uring,filename="+esc(f.Name()),
		"-monitor", "stdio")
	cmd.Stdin = strings.NewReader("quit\n")
	return cmd.Run()
}
