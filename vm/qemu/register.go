package qemu

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/silo-dev/silo/vm"
)

func init() {
	vm.Register("qemu", func() vm.Backend { return New(Options{}) })
}

// home returns the silo home: Options.Home, $SILO_HOME or ~/.silo.
func (b *Backend) home() (string, error) {
	if b.o.Home != "" {
		return b.o.Home, nil
	}
	if h := os.Getenv("SILO_HOME"); h != "" {
		return filepath.Abs(h)
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find silo's home: %w (set SILO_HOME)", err)
	}
	return filepath.Join(h, ".silo"), nil
}

// Accelerated reports why QEMU cannot use KVM here, or nil: it implements
// vm.Accelerator for the automatic backend choice. The first call may boot
// a test VM (see KVM); the answer is cached.
func (b *Backend) Accelerated() error {
	if err := openKVM(); err != nil {
		return err
	}
	if b.o.Accel == AccelTCG {
		return fmt.Errorf("TCG was asked for")
	}
	// Every automatically chosen run asks: a test boot's cached "no" for
	// this QEMU settles it without opening the store to resolve the
	// kernel. silo doctor probes again whenever the kernel changes.
	if st := b.CachedKVM(); st != nil && !st.Usable && st.QEMU != "" {
		if qemu, err := b.Binary(); err == nil && st.QEMU == qemuIdentity(qemu) {
			return fmt.Errorf("%s", st.Reason)
		}
	}
	kern, initfs, err := b.runtimeEntries(context.Background(), &vm.Spec{})
	if err != nil {
		return err
	}
	st, err := b.KVM(context.Background(), kern, initfs)
	if err != nil {
		return err
	}
	if !st.Usable {
		return fmt.Errorf("%s", st.Reason)
	}
	return nil
}
