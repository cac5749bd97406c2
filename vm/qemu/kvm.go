package qemu

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/silo-dev/silo/internal/fsutil"
	"os"
	"strings"
	"time"

	"github.com/silo-dev/silo/internal/home"
)

// probeTimeout bounds the KVM probe boot.
const probeTimeout = 30 * time.Second

// KVMStatus is the cached answer to "does KVM really work here?".
type KVMStatus struct {
	Usable bool   `json:"usable"`
	Reason string `json:"reason"`
	Key    string `json:"key"`
	// QEMU identifies the QEMU binary a test boot ran with, so that its
	// "no" can be reused without resolving the kernel (see Accelerated).
	// Empty when no test boot ran (/dev/kvm could not be opened).
	QEMU string    `json:"qemu,omitempty"`
	When time.Time `json:"when"`
	// BootMS is how long the probe boot took, in milliseconds.
	BootMS int64 `json:"bootMs,omitempty"`
}

// KVM reports whether QEMU can boot silo's kernel under KVM here. /dev/kvm
// existing is not enough (a nested, software KVM may fail to run a stock
// kernel), so the first call boots the kernel and initfs once with
// -accel kvm and caches the answer in Home, keyed by the QEMU binary and
// the kernel; later calls read the cache.
func (b *Backend) KVM(ctx context.Context, kernel, initfs string) (*KVMStatus, error) {
	qemu, err := b.Binary()
	if err != nil {
		return nil, err
	}
	key, err := probeKey(qemu, kernel)
	if err != nil {
		return nil, err
	}
	cache := home.Dir(b.o.Home).KVMCache()
	if st, err := readKVMCache(cache); err == nil && st.Key == key {
		return st, nil
	}
	st := &KVMStatus{Key: key, When: time.Now().UTC()}
	if err := openKVM(); err != nil {
		st.Reason = err.Error()
	} else {
		st.QEMU = qemuIdentity(qemu)
		t0 := time.Now()
		if err := b.probe(ctx, qemu, kernel, initfs); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			st.Reason = "a test boot under KVM failed: " + summary(err)
		} else {
			st.Usable, st.Reason = true, "a test boot under KVM succeeded"
			st.BootMS = time.Since(t0).Milliseconds()
		}
	}
	return st, writeKVMCache(cache, st)
}

// CachedKVM returns the cached KVM answer, or nil when there is none.
func (b *Backend) CachedKVM() *KVMStatus {
	st, err := readKVMCache(home.Dir(b.o.Home).KVMCache())
	if err != nil {
		return nil
	}
	return st
}

// KVMDevice reports why /dev/kvm cannot be used, or nil. A usable device
// is necessary, not sufficient: see KVM.
func KVMDevice() error { return openKVM() }

// openKVM checks that /dev/kvm can be opened for reading and writing.
func openKVM() error {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("/dev/kvm is not usable: %w", err)
	}
	return f.Close()
}

// probe boots kernel and initfs under KVM to the guest init and back.
func (b *Backend) probe(ctx context.Context, qemu, kernel, initfs string) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	m := &machine{spec: probeSpec(), qemu: qemu, kernel: kernel, initfs: initfs, accel: AccelKVM, hang: b.o.HangTimeout, probe: true, debug: b.o.Debug}
	return m.runProbe(ctx)
}

// summary is the one line of a failed probe that says why: QEMU's own
// error message if it printed one, else the error's first line.
func summary(err error) string {
	lines := strings.Split(err.Error(), "\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "qemu-system") && strings.Contains(l, "error") {
			return l
		}
	}
	return lines[0]
}

// probeKey identifies what the probe answer depends on.
func probeKey(qemu, kernel string) (string, error) {
	id := qemuIdentity(qemu)
	if id == "" {
		return "", fmt.Errorf("stat %s: not found", qemu)
	}
	sum := sha256.Sum256([]byte(id + "|" + kernel))
	return hex.EncodeToString(sum[:]), nil
}

// qemuIdentity names a QEMU binary by path, size and modification time, or
// is empty when it cannot be read.
func qemuIdentity(qemu string) string {
	fi, err := os.Stat(qemu)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%s|%d|%d", qemu, fi.Size(), fi.ModTime().UnixNano())
}

func readKVMCache(path string) (*KVMStatus, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var st KVMStatus
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, err
	}
	if st.Key == "" {
		return nil, errors.New("empty cache")
	}
	return &st, nil
}

// writeKVMCache writes the cache atomically.
func writeKVMCache(path string, st *KVMStatus) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := fsutil.WriteFile(path, append(b, '\n'), fsutil.WriteOptions{MkdirPerm: 0o700}); err != nil {
		return fmt.Errorf("cache the KVM probe: %w", err)
	}
	return nil
}
