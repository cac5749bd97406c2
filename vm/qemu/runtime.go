package qemu

import (
	"context"
	"fmt"

	"github.com/silo-dev/silo/store"
	"github.com/silo-dev/silo/vm/kernel"
)

// defaultRuntime finds or builds the kernel and initfs entries in the
// store at Home, with the running silo as the agent.
func (b *Backend) defaultRuntime(ctx context.Context) (string, string, error) {
	home, err := b.home()
	if err != nil {
		return "", "", err
	}
	st, err := store.Open(home)
	if err != nil {
		return "", "", err
	}
	defer st.Close()
	rt, err := kernel.Ensure(st, "")
	if err != nil {
		return "", "", err
	}
	return rt.Vmlinux(), rt.Initfs.Path, nil
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
