package qemu

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/silo-dev/silo/vm"
	"github.com/silo-dev/silo/vm/guestinit"
)

func TestArgs(t *testing.T) {
	tests := []struct {
		name      string
		spec      vm.Spec
		scratch   string
		accel     Accel
		want      []string
		notWanted []string
	}{
		{
			name:  "full",
			spec:  vm.Spec{RootfsImage: "/s/root,fs.ext4", Workspace: "/home/u/my,proj", CPUs: 2, MemoryMB: 512, RootfsSizeMB: 300},
			accel: AccelTCG,
			want: []string{"-cpu qemu64", "-accel tcg", "-m 512", "-smp 2", "read-only=on,file=/s/root,,fs.ext4",
				"path=/home/u/my,,proj", "silo.root=silo-rootfs", "serial=silo-rootfs", "silo.ws=workspace", "silo.scratch=300", "-no-reboot", "-nodefaults", "maxcpus=1"},
			notWanted: []string{"silo.probe", "rtc=off", "snapshot"},
		},
		{
			name:      "scratch disk",
			spec:      vm.Spec{RootfsImage: "/s/r.ext4", RootfsSizeMB: 300},
			scratch:   "/h/runtime/scratch-300M.ext4",
			accel:     AccelTCG,
			want:      []string{"snapshot=on,file=/h/runtime/scratch-300M.ext4", "serial=silo-scratch", "silo.disk=silo-scratch"},
			notWanted: []string{"silo.scratch="},
		},
		{
			name:      "no disks",
			spec:      vm.Spec{},
			accel:     AccelKVM,
			want:      []string{"-cpu host", "-accel kvm", "-m 1024", "-smp 1"},
			notWanted: []string{"silo.root", "silo.ws", "virtio-blk", "virtio-9p", "silo.scratch", "maxcpus"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &machine{spec: &tt.spec, dir: "/run/x", kernel: "/k/vmlinux", initfs: "/k/initfs", scratch: tt.scratch, accel: tt.accel}
			args, err := m.args()
			if err != nil {
				t.Fatal(err)
			}
			line := strings.Join(args, " ")
			for _, w := range tt.want {
				if !strings.Contains(line, w) {
					t.Errorf("command line lacks %q:\n%s", w, line)
				}
			}
			for _, w := range tt.notWanted {
				if strings.Contains(line, w) {
					t.Errorf("command line has %q:\n%s", w, line)
				}
			}
		})
	}
}

func TestHostTSC(t *testing.T) {
	f := filepath.Join(t.TempDir(), "cpuinfo")
	os.WriteFile(f, []byte("processor\t: 0\nmodel name\t: X\ncpu MHz\t\t: 2596.138\ncpu MHz\t\t: 1.0\n"), 0o644)
	fh, _ := os.Open(f)
	defer fh.Close()
	if got := parseCPUMHz(fh); got != 2596138 {
		t.Fatalf("parseCPUMHz = %d", got)
	}
	if _, err := os.Stat("/proc/cpuinfo"); err == nil && hostTSCkHz() <= 0 {
		t.Fatal("no TSC frequency found on this host")
	}
	if !strings.Contains(strings.Join(baseCmdline(), " "), "tsc_early_khz=") {
		t.Fatal("the kernel command line lacks tsc_early_khz")
	}
}

func TestTailBuffer(t *testing.T) {
	b := newTailBuffer(8)
	b.Write([]byte("hello "))
	b.Write([]byte("world\n"))
	if got := b.Tail(100); got != "o world" {
		t.Fatalf("tail %q", got)
	}
	if got := b.Tail(3); got != "ld" {
		t.Fatalf("tail(3) %q", got)
	}
}

// TestKVMProbeCached probes KVM for real (here it fails: a nested KVM
// that cannot run a stock kernel; elsewhere it may work) and checks the
// answer is cached and reused.
func TestKVMProbeCached(t *testing.T) {
	r := bootable(t)
	home := t.TempDir()
	b := New(Options{Home: home})
	if b.CachedKVM() != nil {
		t.Fatal("a fresh home has a cached KVM answer")
	}
	first, err := b.KVM(context.Background(), r.kernel, r.initfs)
	if err != nil {
		t.Fatal(err)
	}
	if first.Reason == "" {
		t.Fatal("no reason given")
	}
	second, err := b.KVM(context.Background(), r.kernel, r.initfs)
	if err != nil {
		t.Fatal(err)
	}
	if !second.When.Equal(first.When) || second.Usable != first.Usable {
		t.Fatalf("second call probed again: %+v then %+v", first, second)
	}
	if c := b.CachedKVM(); c == nil || c.Key != first.Key {
		t.Fatalf("cache %+v", c)
	}
	t.Logf("KVM usable=%v: %s", first.Usable, first.Reason)
	if !first.Usable && first.QEMU != "" {
		// The automatic choice reuses a test boot's "no" without
		// resolving the kernel again.
		fast := New(Options{Home: home, Runtime: func(context.Context) (string, string, error) {
			t.Error("Accelerated resolved the kernel despite a cached answer")
			return "", "", errors.New("not expected")
		}})
		if err := fast.Accelerated(); err == nil || err.Error() != first.Reason {
			t.Errorf("Accelerated() = %v, want the cached reason %q", err, first.Reason)
		}
	}
	// Another kernel is another key: probed afresh.
	other := filepath.Join(t.TempDir(), "vmlinux")
	os.Link(r.kernel, other)
	third, err := b.KVM(context.Background(), other, r.initfs)
	if err != nil {
		t.Fatal(err)
	}
	if third.Key == first.Key {
		t.Fatal("the cache key ignores the kernel")
	}
}

// TestProbeCommand boots the bare probe command under TCG: the kernel and
// initfs alone, to the guest init and power-off.
func TestProbeCommand(t *testing.T) {
	r := bootable(t)
	bin, err := New(Options{}).Binary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := ProbeCommand(bin, r.kernel, r.initfs, AccelTCG, 2, 0)
	for _, a := range cmd.Args {
		if strings.Contains(a, "virtserialport") || strings.Contains(a, "virtio-blk") || strings.Contains(a, "virtio-9p") {
			t.Fatalf("probe command has devices: %v", cmd.Args)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd = exec.CommandContext(ctx, cmd.Args[0], cmd.Args[1:]...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), guestinit.ProbeOK) {
		t.Fatalf("probe boot: %v\n%s", err, out)
	}
}
