package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"time"

	"github.com/silo-dev/silo/vm"
)

// Accel is how QEMU executes the guest.
type Accel string

// The accelerators silo uses.
const (
	AccelAuto Accel = ""    // KVM if the cached probe says it works, else TCG
	AccelKVM  Accel = "kvm" // hardware virtualization
	AccelTCG  Accel = "tcg" // QEMU's software emulation
)

// Default limits.
const (
	// DefaultBootTimeout bounds start-to-agent-ready when the spec sets no
	// timeout. TCG boots take ~2 s here, ~10 s on a loaded host.
	DefaultBootTimeout = 90 * time.Second
	// DefaultHangTimeout is how long the host waits without a heartbeat
	// before it declares the guest hung.
	DefaultHangTimeout = 30 * time.Second
	// DefaultMemoryMB is the guest RAM when the spec sets none.
	DefaultMemoryMB = 1024
)

// Options configure the backend.
type Options struct {
	// Home is silo's home directory: the store, and the KVM probe cache.
	Home string
	// QEMU is the qemu-system binary; empty: qemu-system-x86_64 (or
	// -aarch64 on arm64) from PATH.
	QEMU string
	// Accel forces an accelerator; AccelAuto uses the cached KVM probe.
	Accel Accel
	// HangTimeout overrides DefaultHangTimeout.
	HangTimeout time.Duration
	// Runtime returns the kernel and initfs the KVM probe boots (a run
	// boots its Spec's). nil: no probe, and the automatic choice takes
	// QEMU as unaccelerated.
	Runtime vm.RuntimeFunc
	// Debug shows the VM's console on stderr and has the guest init print
	// the time of each step.
	Debug bool
	// NoSnapshot boots every VM: SnapshotShape says no shape restores.
	NoSnapshot bool
}

// Backend runs sandboxes as QEMU micro-VMs.
type Backend struct {
	o Options
}

var _ vm.Backend = (*Backend)(nil)

// New returns the qemu backend.
func New(o Options) *Backend {
	if o.HangTimeout <= 0 {
		o.HangTimeout = DefaultHangTimeout
	}
	return &Backend{o: o}
}

// Name returns "qemu".
func (b *Backend) Name() string { return "qemu" }

// Binary returns the qemu-system executable for this host's architecture.
func (b *Backend) Binary() (string, error) {
	name := b.o.QEMU
	if name == "" {
		name = "qemu-system-x86_64"
		if runtime.GOARCH == "arm64" {
			name = "qemu-system-aarch64"
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found: install QEMU (Debian: apt-get install qemu-system-x86 qemu-utils)", name)
	}
	return p, nil
}

// Available reports why the backend cannot run here: not Linux, or no QEMU.
func (b *Backend) Available() error {
	if runtime.GOOS != "linux" {
		return errors.New("the qemu backend runs on Linux hosts only")
	}
	_, err := b.Binary()
	return err
}

// Run boots a VM for spec, runs its command and returns its exit status.
func (b *Backend) Run(ctx context.Context, spec *vm.Spec) (int, error) {
	if err := b.Available(); err != nil {
		return -1, err
	}
	// A cache the VM cannot share fails the run before anything boots.
	if _, err := mountArgs(spec.Shared(), true); err != nil {
		return -1, err
	}
	t0 := time.Now()
	kern, initfs := spec.Kernel, spec.Initfs
	if kern == "" || initfs == "" {
		return -1, errors.New("the qemu backend needs a kernel and an initfs (Spec.Kernel, Spec.Initfs)")
	}
	scratch, err := b.scratchDisk(spec.RootfsSizeMB)
	if err != nil {
		return -1, err
	}
	t0 = spec.Timing.Mark("runtime lookup", t0)
	accel, err := b.accel(ctx, kern, initfs)
	if err != nil {
		return -1, err
	}
	qemu, err := b.Binary()
	if err != nil {
		return -1, err
	}
	newMachine := func() (*machine, func(), error) {
		dir, err := runDir()
		if err != nil {
			return nil, nil, err
		}
		m := &machine{spec: spec, dir: dir, qemu: qemu, kernel: kern, initfs: initfs, scratch: scratch, accel: accel, hang: b.o.HangTimeout, debug: b.o.Debug,
			ioUring: b.ioUring(ctx, qemu)}
		return m, func() { os.RemoveAll(dir) }, nil
	}
	if spec.Snapshot != "" {
		code, err := b.restore(ctx, spec, newMachine, t0)
		var re *RestoreError
		if !errors.As(err, &re) {
			return code, err
		}
		if spec.Stderr != nil {
			fmt.Fprintf(spec.Stderr, "silo: %v; booting the VM instead (the snapshot will be rebuilt)\n", re)
		}
		if spec.SnapshotFailed != nil {
			spec.SnapshotFailed(re)
		}
		t0 = time.Now()
	}
	m, cleanup, err := newMachine()
	if err != nil {
		return -1, err
	}
	defer cleanup()
	return m.run(ctx, t0)
}

// restore runs spec in a VM restored from the snapshot spec.Snapshot. A
// *RestoreError means the snapshot could not be used and nothing of the
// run started.
//
// The guest RAM is mapped from the snapshot's RAM file (ramImage) when it
// has one or one can be made; else QEMU loads the whole stream.
func (b *Backend) restore(ctx context.Context, spec *vm.Spec, newMachine func() (*machine, func(), error), t0 time.Time) (int, error) {
	stream, ramFile := spec.Snapshot, ""
	if ram, dev, err := b.ramImage(spec.Snapshot); err == nil {
		stream, ramFile = dev, ram
	}
	f, err := os.Open(stream)
	if err != nil {
		return -1, &RestoreError{Reason: err.Error()}
	}
	defer f.Close()
	m, cleanup, err := newMachine()
	if err != nil {
		return -1, err
	}
	defer cleanup()
	m.pause, m.incoming, m.ramFile = true, f, ramFile
	return m.run(ctx, t0)
}

// runDir makes the private directory of one VM's sockets, under $TMPDIR
// unless that path is too long for a unix socket, then under /tmp.
func runDir() (string, error) {
	parent := os.TempDir()
	if len(parent) > 80 {
		parent = "/tmp"
	}
	dir, err := os.MkdirTemp(parent, "silo-vm-")
	if err != nil {
		return "", fmt.Errorf("make the VM's runtime directory: %w", err)
	}
	return dir, nil
}

// accel picks the accelerator: the forced one, else KVM when the cached
// (or, the first time, freshly run) probe says it works, else TCG.
func (b *Backend) accel(ctx context.Context, kern, initfs string) (Accel, error) {
	if b.o.Accel != AccelAuto {
		return b.o.Accel, nil
	}
	st, err := b.KVM(ctx, kern, initfs)
	if err != nil {
		return "", fmt.Errorf("probe KVM: %w", err)
	}
	if st.Usable {
		return AccelKVM, nil
	}
	return AccelTCG, nil
}
