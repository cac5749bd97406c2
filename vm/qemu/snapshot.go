package qemu

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/silo-dev/silo/vm"
	"github.com/silo-dev/silo/vm/guestinit"
)

var _ vm.Snapshotter = (*Backend)(nil)

// restoreTimeout bounds a restore from its start to the guest taking the
// host's go: past it the snapshot is taken as broken and the VM boots.
const restoreTimeout = 60 * time.Second

// seedBytes is how much entropy the host gives a restored guest.
const seedBytes = 64

// RestoreError says why a VM did not restore from its snapshot. Nothing of
// the run had started: the run boots instead.
type RestoreError struct{ Reason string }

func (e *RestoreError) Error() string { return "the VM snapshot did not restore: " + e.Reason }

// SnapshotShape returns what a snapshot spec can restore from depends on
// besides the kernel and initfs: the QEMU binary, the accelerator and the
// whole command line of the machine with its device set (memory, vCPUs,
// disks, workspace, caches), host paths replaced by stand-ins. Two specs
// with the same shape restore from the same snapshot.
//
// It is "" (no snapshot) with Options.NoSnapshot.
func (b *Backend) SnapshotShape(ctx context.Context, spec *vm.Spec) (string, error) {
	if b.o.NoSnapshot {
		return "", nil
	}
	bin, err := b.Binary()
	if err != nil {
		return "", err
	}
	accel, err := b.accel(ctx, spec.Kernel, spec.Initfs)
	if err != nil {
		return "", err
	}
	scratch, err := b.scratchDisk(spec.RootfsSizeMB)
	if err != nil {
		return "", err
	}
	s := standIns(spec, "/silo")
	if scratch != "" {
		scratch = "/silo/scratch"
	}
	m := &machine{spec: s, dir: "/silo", qemu: bin, kernel: "/kernel", initfs: "/initfs", scratch: scratch, accel: accel, pause: true, debug: b.o.Debug, shapeOnly: true,
		ioUring: b.ioUring(ctx, bin)}
	args, err := m.args()
	if err != nil {
		return "", err
	}
	shape := []string{"qemu " + qemuIdentity(bin)}
	if accel == AccelKVM {
		shape = append(shape, "cpu "+hostCPUModel())
	}
	return strings.Join(append(shape, args...), "\n"), nil
}

// standIns returns a spec of spec's shape whose disks, workspace and
// caches are stand-ins under dir: what a snapshot is taken with, since the
// guest reads none of them before its snapshot point.
func standIns(spec *vm.Spec, dir string) *vm.Spec {
	s := &vm.Spec{CPUs: spec.CPUs, MemoryMB: spec.MemoryMB, RootfsSizeMB: spec.RootfsSizeMB, BootTimeout: spec.BootTimeout}
	if spec.RootfsImage != "" {
		s.RootfsImage = filepath.Join(dir, "rootfs")
	}
	if spec.Workspace != "" {
		s.Workspace = filepath.Join(dir, "ws")
	}
	for i, mt := range spec.Shared() {
		s.Mounts = append(s.Mounts, vm.Mount{Host: filepath.Join(dir, "m"+strconv.Itoa(i)), Guest: mt.Guest})
	}
	return s
}

// MakeSnapshot boots spec's kernel and initfs, in spec's shape with
// stand-ins for its disks and directories, to the guest init's snapshot
// point, and migrates the running guest to the file path: only the pages
// the guest used (QEMU skips zero pages), about 100 MB.
func (b *Backend) MakeSnapshot(ctx context.Context, spec *vm.Spec, path string) error {
	if err := b.Available(); err != nil {
		return err
	}
	accel, err := b.accel(ctx, spec.Kernel, spec.Initfs)
	if err != nil {
		return err
	}
	scratch, err := b.scratchDisk(spec.RootfsSizeMB)
	if err != nil {
		return err
	}
	dir, err := runDir()
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	s := standIns(spec, dir)
	if err := makeStandIns(s); err != nil {
		return err
	}
	m := &machine{spec: s, dir: dir, kernel: spec.Kernel, initfs: spec.Initfs, scratch: scratch, accel: accel,
		hang: b.o.HangTimeout, debug: b.o.Debug, pause: true, qmp: filepath.Join(dir, "qmp.sock")}
	if m.qemu, err = b.Binary(); err != nil {
		return err
	}
	m.ioUring = b.ioUring(ctx, m.qemu)
	return m.snapshot(ctx, path)
}

// makeStandIns makes the empty disk and directories of a stand-in spec.
func makeStandIns(s *vm.Spec) error {
	if s.RootfsImage != "" {
		if err := os.WriteFile(s.RootfsImage, make([]byte, 4096), 0o444); err != nil {
			return fmt.Errorf("make the snapshot's stand-in disk: %w", err)
		}
	}
	dirs := []string{}
	if s.Workspace != "" {
		dirs = append(dirs, s.Workspace)
	}
	for _, mt := range s.Mounts {
		dirs = append(dirs, mt.Host)
	}
	for _, d := range dirs {
		if err := os.Mkdir(d, 0o700); err != nil {
			return fmt.Errorf("make the snapshot's stand-in directory: %w", err)
		}
	}
	return nil
}

// snapshot runs the machine to the guest's snapshot point and migrates it
// to path.
func (m *machine) snapshot(ctx context.Context, path string) error {
	ports, err := m.listen()
	if err != nil {
		return err
	}
	defer ports.close()
	if err := m.start(); err != nil {
		return err
	}
	defer m.teardown()
	stop := context.AfterFunc(ctx, func() { m.kill(ctx.Err()) })
	defer stop()
	if ports.agent, ports.beat, err = m.acceptPorts(ports.agentL, ports.beatL); err != nil {
		return m.explain(err)
	}
	ports.beats = bufio.NewReader(ports.beat)
	if err := m.waitBeat(ports.beat, ports.beats, guestinit.BeatPaused, m.bootTimeout()); err != nil {
		return m.explain(err)
	}
	q, err := dialQMP(m.qmp, time.Now().Add(m.bootTimeout()))
	if err != nil {
		return m.explain(err)
	}
	defer q.close()
	// QEMU's default migration bandwidth is 32 MiB/s: a file takes more.
	if _, err := q.do("migrate-set-parameters", map[string]any{"max-bandwidth": int64(1) << 40}); err != nil {
		return m.explain(err)
	}
	// QEMU's migration completes when it has written the stream to cat,
	// not when cat has: the stream is named path only once it is whole.
	part := path + ".part"
	uri := "exec:cat > " + shellQuote(part) + " && mv " + shellQuote(part) + " " + shellQuote(path)
	if _, err := q.do("migrate", map[string]any{"uri": uri}); err != nil {
		return m.explain(err)
	}
	if err := q.waitMigrated(); err != nil {
		return m.explain(err)
	}
	if err := waitFile(path, m.bootTimeout()); err != nil {
		return err
	}
	keep, err := kernelRanges(m.kernel)
	if err != nil {
		return err
	}
	return compactFile(path, keep)
}

// waitFile waits for path to exist, within timeout.
func waitFile(path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		_, err := os.Stat(path)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the VM's migration to a file: %w", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// resume sends a guest restored from a snapshot the host's go (this run's
// parameters, fresh entropy, the time) and waits for it to take it. Every
// failure is a *RestoreError: nothing of the run has started yet.
func (m *machine) resume(beat net.Conn, r *bufio.Reader) error {
	seed := make([]byte, seedBytes)
	if _, err := rand.Read(seed); err != nil {
		return fmt.Errorf("entropy for the restored VM: %w", err)
	}
	g := guestinit.Go{Params: m.runParams(), Seed: seed, Time: time.Now()}
	_ = beat.SetWriteDeadline(time.Now().Add(restoreTimeout))
	if _, err := beat.Write([]byte(g.Line())); err != nil {
		return m.restoreFailed(err)
	}
	if err := m.waitBeat(beat, r, guestinit.BeatResumed, restoreTimeout); err != nil {
		return m.restoreFailed(err)
	}
	return nil
}

// restoreFailed kills the VM and says why it did not restore: QEMU's own
// last words when it exited (a stream it could not load), else err.
func (m *machine) restoreFailed(err error) error {
	select {
	case <-m.exited:
	case <-time.After(200 * time.Millisecond):
	}
	reason := err.Error()
	m.mu.Lock()
	if m.failure != nil {
		reason = m.failure.Error()
	}
	m.mu.Unlock()
	for _, l := range strings.Split(m.console.Tail(2048), "\n") {
		if strings.HasPrefix(l, "qemu-system") {
			reason = strings.TrimSpace(l)
		}
	}
	m.kill(nil)
	return &RestoreError{Reason: reason}
}

// waitBeat reads the heartbeat port until want arrives, within timeout.
func (m *machine) waitBeat(beat net.Conn, r *bufio.Reader, want byte, timeout time.Duration) error {
	_ = beat.SetReadDeadline(time.Now().Add(timeout))
	defer beat.SetReadDeadline(time.Time{})
	for {
		c, err := r.ReadByte()
		if err != nil {
			if isTimeout(err) {
				err = fmt.Errorf("%w: the VM did not reach its snapshot point within %v (accel %s); it was killed", ErrWatchdog, timeout, m.accel)
				m.kill(err)
				return err
			}
			return fmt.Errorf("the VM stopped before its snapshot point: %w", err)
		}
		switch c {
		case want:
			return nil
		case guestinit.BeatError:
			line, _ := r.ReadString('\n')
			err := fmt.Errorf("the VM's init failed: %s", trimLine(line))
			m.setFailure(err)
			return err
		}
	}
}

func (m *machine) bootTimeout() time.Duration {
	if m.spec.BootTimeout > 0 {
		return m.spec.BootTimeout
	}
	return DefaultBootTimeout
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// hostCPUModel is the host CPU's model name: a KVM guest's CPU is the
// host's, and a snapshot restores only on the CPU it was taken on.
func hostCPUModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
