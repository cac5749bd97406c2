package qemu

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
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
	if !strings.Contains(strings.Join(baseCmdline(false), " "), "tsc_early_khz=") {
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

// TestMountArgs checks how the spec's host directories reach the guest:
// one 9p device each, tagged in order, counted on the kernel command line,
// and nothing at all on the command line when there are none.
func TestMountArgs(t *testing.T) {
	d0, d1 := t.TempDir(), filepath.Join(t.TempDir(), "npm,cache")
	if err := os.Mkdir(d1, 0o700); err != nil {
		t.Fatal(err)
	}
	argv := func(mounts []vm.Mount) []string {
		t.Helper()
		m := &machine{spec: &vm.Spec{RootfsImage: "/s/r.ext4", Workspace: "/w", Mounts: mounts}, dir: "/run/x", kernel: "/k/vmlinux", initfs: "/k/initfs", accel: AccelTCG}
		a, err := m.args()
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	base := argv(nil)
	if empty := argv([]vm.Mount{}); !slices.Equal(empty, base) {
		t.Errorf("an empty mount list changes the command line:\n%q\n%q", empty, base)
	}
	for _, a := range base {
		if strings.Contains(a, "silo.m") || strings.Contains(a, "fsdev=m") {
			t.Errorf("no mounts, yet %q", a)
		}
	}
	with := argv([]vm.Mount{{Host: d0, Guest: "/root/.cache/pip"}, {Host: d1, Guest: "/root/.npm"}})
	wantTail := []string{
		"-fsdev", "local,id=m0,security_model=none,path=" + d0,
		"-device", "virtio-9p-device,fsdev=m0,mount_tag=silo.m0",
		"-fsdev", "local,id=m1,security_model=none,path=" + strings.ReplaceAll(d1, ",", ",,"),
		"-device", "virtio-9p-device,fsdev=m1,mount_tag=silo.m1",
	}
	if len(with) != len(base)+len(wantTail) || !slices.Equal(with[len(base):], wantTail) {
		t.Fatalf("with two mounts:\n%q\nwant the base command line, then\n%q", with, wantTail)
	}
	// A directory silo opened is shared by its descriptor, which QEMU
	// inherits (ExtraFiles: 3, 4, …), never by its path.
	dir, err := vm.OpenCacheDir(d0, "opened")
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	opened := argv([]vm.Mount{{Host: d1, Guest: "/root/.npm"}, {Host: dir.Name(), Guest: "/root/.cache/pip", Dir: dir}})
	if got := opened[len(base)+5]; got != "local,id=m1,security_model=none,path=/proc/self/fd/3" {
		t.Errorf("an opened directory is shared as %q", got)
	}
	// The rest is the base command line, the kernel's told how many.
	for i, a := range base {
		want := a
		if i > 0 && base[i-1] == "-append" {
			want = a + " " + guestinit.ParamMounts + "=2"
		}
		if with[i] != want {
			t.Errorf("argument %d: %q, want %q", i, with[i], want)
		}
	}
}

// TestMountArgsRefused checks that a cache the VM cannot share is an error
// that names it, not a run without it, and that Run refuses it before
// anything boots.
func TestMountArgsRefused(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	many := make([]vm.Mount, MaxMounts+1)
	for i := range many {
		many[i] = vm.Mount{Host: dir, Guest: "/c" + strconv.Itoa(i)}
	}
	tests := []struct {
		name   string
		mounts []vm.Mount
		want   string
	}{
		{"missing", []vm.Mount{{Host: filepath.Join(dir, "gone"), Guest: "/root/.cache/pip"}}, "cache /root/.cache/pip: cannot share it"},
		{"a file", []vm.Mount{{Host: dir, Guest: "/a"}, {Host: file, Guest: "/b"}}, "cache /b: " + file + " is not a directory"},
		{"relative", []vm.Mount{{Host: "cache/pip", Guest: "/p"}}, "not an absolute path"},
		{"too many", many, "a VM shares at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &machine{spec: &vm.Spec{Mounts: tt.mounts}, dir: "/run/x", kernel: "/k/vmlinux", initfs: "/k/initfs", accel: AccelTCG}
			if _, err := m.args(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("args: %v, want an error with %q", err, tt.want)
			}
			b := New(Options{Home: t.TempDir(), Accel: AccelTCG, Runtime: func(context.Context) (string, string, error) {
				t.Error("Run went on to boot despite a cache it cannot share")
				return "", "", errors.New("not expected")
			}})
			if b.Available() != nil {
				return
			}
			code, err := b.Run(context.Background(), &vm.Spec{Argv: []string{"true"}, Mounts: tt.mounts})
			if err == nil || code != -1 || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run: %d, %v; want -1 and an error with %q", code, err, tt.want)
			}
		})
	}
}
