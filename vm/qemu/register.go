package qemu

import (
	"context"
	"errors"
	"fmt"

	"github.com/silo-dev/silo/vm"
)

func init() {
	vm.Register("qemu", func(o vm.Options) vm.Backend {
		return New(Options{Home: o.Home, HangTimeout: o.HangTimeout, Runtime: o.Runtime, Debug: o.Debug, NoSnapshot: o.NoSnapshot})
	})
}

// Needs says that a VM boots an ext4 rootfs, a kernel and an initfs.
func (b *Backend) Needs() vm.Needs { return vm.Needs{Kernel: true} }

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
	// this QEMU settles it without resolving the kernel. silo doctor
	// probes again whenever the kernel changes.
	if st := b.CachedKVM(); st != nil && !st.Usable && st.QEMU != "" {
		if qemu, err := b.Binary(); err == nil && st.QEMU == qemuIdentity(qemu) {
			return fmt.Errorf("%s", st.Reason)
		}
	}
	if b.o.Runtime == nil {
		return errors.New("no kernel to probe KVM with")
	}
	kern, initfs, err := b.o.Runtime(context.Background())
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
