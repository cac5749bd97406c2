//go:build linux

package guestinit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/silo-dev/silo/vm/agent"
)

// Where guestinit mounts things inside the initramfs.
const (
	LowerDir     = "/silo/lower"     // the rootfs disk, read-only
	WorkspaceDir = "/silo/workspace" // the 9p workspace, read-write
	ScratchDir   = "/silo/scratch/s" // the overlay's upper layer, on the scratch disk or tmpfs
	MountsDir    = "/silo/mounts"    // the shared host directories (caches), the i-th at MountsDir/i
	SystemDir    = "/silo/system"    // the sandbox's /proc and /dev, made before the snapshot point (agent.PrepareSystem)
	scratchMount = "/silo/scratch"   // where the scratch disk or tmpfs is mounted
)

// BeatInterval is how often the guest tells the host it is alive.
const BeatInterval = 500 * time.Millisecond

// cpuOnlineDelay is how long a command runs on the boot vCPU alone.
const cpuOnlineDelay = time.Second

// deviceWait bounds the wait for a device node after its module loaded.
const deviceWait = 20 * time.Second

// ServeFunc runs the agent on the host stream conn over the mounted layout:
// agent.Serve.
type ServeFunc func(conn io.ReadWriteCloser, l agent.Layout) error

// layout is where prepare mounted the sandbox's parts, as the agent takes
// them. Mounts is set even when the host shared no directory: a spec that
// asks for one the VM lacks then fails in the agent instead of running
// without it. A VM has its own kernel: SharedKernel is false, so the
// agent syncs, and moves in the /proc and /dev ready made at System.
func layout() agent.Layout {
	return agent.Layout{Lower: LowerDir, Workspace: WorkspaceDir, Scratch: ScratchDir, Mounts: MountsDir, System: SystemDir, SharedKernel: false}
}

// Main is PID 1 of a silo VM. It never returns: it powers the VM off.
func Main(serve ServeFunc) {
	err := run(serve)
	if err != nil {
		fmt.Fprintf(os.Stderr, "silo-init: %v\n", err)
	}
	unix.Sync()
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	// Power-off failed: a reboot ends the VM too (qemu runs -no-reboot).
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
	select {}
}

// run does the work of Main up to the power-off.
func run(serve ServeFunc) error {
	if err := mountBase(); err != nil {
		return err
	}
	cmdline, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return fmt.Errorf("read /proc/cmdline: %w", err)
	}
	p := ParseCmdline(string(cmdline))
	trace := tracer(p.Debug)
	trace("init started")
	if err := loadModules(Marker, p.Pause, trace); err != nil {
		return err
	}
	trace("modules loaded")
	if p.Probe {
		// Booted, modules loaded: that is all a probe asks.
		fmt.Println(ProbeOK)
		return nil
	}
	beat, err := openPort(BeatPort)
	if err != nil {
		return err
	}
	b := newBeater(beat)
	defer b.close()
	// The same in every run, so before the snapshot point: the loopback
	// interface, the mount points, the agent's port and the disks'
	// devices, whose driver binds them after it.
	conn, unbound, err := ready(p.Pause)
	if err != nil {
		b.fail(err)
		return err
	}
	if p.Pause {
		if p, err = pause(beat, b, trace); err != nil {
			b.fail(err)
			return err
		}
	}
	if err := prepare(p, unbound); err != nil {
		b.fail(err)
		return err
	}
	trace("filesystems mounted")
	b.send(BeatReady)
	trace("ready")
	// Under TCG a second vCPU slows everything down, so short commands
	// run on one; a command that is still running after a second gets
	// them all.
	// The agent chroots this very process: hold the CPU directory open.
	if cpus, err := os.Open("/sys/devices/system/cpu"); err == nil {
		defer cpus.Close()
		online := time.AfterFunc(cpuOnlineDelay, func() { onlineCPUs(cpus, trace) })
		defer online.Stop()
	}
	err = serve(conn, layout())
	unix.Sync()
	if err != nil {
		err = fmt.Errorf("agent: %w", err)
		b.fail(err)
		return err
	}
	b.send(BeatDone)
	return nil
}

// ready does what comes before a run's parameters: brings the loopback
// interface up, makes the mount points and the sandbox's /proc and /dev
// (agent.PrepareSystem) and opens the agent's port; with
// pause, it lists the disks' devices, which no driver holds yet
// (unboundDevices).
func ready(pause bool) (conn *os.File, unbound []virtioDevice, err error) {
	if err := loopbackUp(); err != nil {
		return nil, nil, err
	}
	for _, d := range []string{LowerDir, WorkspaceDir, scratchMount, MountsDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, nil, err
		}
	}
	if err := agent.PrepareSystem(SystemDir); err != nil {
		return nil, nil, err
	}
	if pause {
		if unbound, err = unboundDevices(); err != nil {
			return nil, nil, err
		}
	}
	if conn, err = openPort(AgentPort); err != nil {
		return nil, nil, err
	}
	return conn, unbound, nil
}

// tracer returns a function that prints a step with the time since the
// kernel started, when debugging; else one that does nothing.
func tracer(debug bool) func(step string) {
	if !debug {
		return func(string) {}
	}
	return func(step string) {
		var ts unix.Timespec
		_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
		fmt.Printf("silo-init: %8.3f s %s\n", float64(ts.Nano())/1e9, step)
	}
}

// onlineCPUs brings up the vCPUs the kernel was told not to boot with
// (maxcpus=1). dir is /sys/devices/system/cpu, opened before the agent
// changed the root.
func onlineCPUs(dir *os.File, trace func(string)) {
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return
	}
	for _, n := range names {
		if !strings.HasPrefix(n, "cpu") || strings.Trim(n[3:], "0123456789") != "" || n == "cpu" {
			continue
		}
		fd, err := unix.Openat(int(dir.Fd()), n+"/online", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			continue // cpu0 has no online switch
		}
		state := make([]byte, 1)
		if _, err := unix.Read(fd, state); err == nil && state[0] == '0' {
			if _, err := unix.Pwrite(fd, []byte("1"), 0); err != nil {
				fmt.Fprintf(os.Stderr, "silo-init: bring %s online: %v\n", n, err)
			}
		}
		unix.Close(fd)
	}
	trace("vCPUs online")
}

// mountBase mounts /dev, /proc and /sys.
func mountBase() error {
	for _, m := range []struct{ fstype, dir string }{
		{"devtmpfs", "/dev"}, {"proc", "/proc"}, {"sysfs", "/sys"},
	} {
		if err := os.MkdirAll(m.dir, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(m.fstype, m.dir, m.fstype, unix.MS_NOSUID|unix.MS_NOEXEC, ""); err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("mount %s on %s: %w", m.fstype, m.dir, err)
		}
	}
	return nil
}

// pause is the snapshot point: the guest has loaded its modules (but the
// deferred ones), read no disk and mounted nothing of a run. It tells the
// host, which may migrate it to a file now, and waits for the host's
// GoLine, which also comes, and only, to a guest restored from that file.
// Then it reseeds the RNG and sets the clock (a snapshot carries the
// snapshot-taker's), loads the deferred modules and returns the run's
// parameters.
func pause(beat *os.File, b *beater, trace func(string)) (Params, error) {
	if err := checkUnbound(); err != nil {
		return Params{}, err
	}
	b.send(BeatPaused)
	trace("paused at the snapshot point")
	line, err := readLine(beat)
	if err != nil {
		return Params{}, fmt.Errorf("read the host's go: %w", err)
	}
	g, err := ParseGo(line)
	if err != nil {
		return Params{}, err
	}
	if err := unix.Settimeofday(ptr(unix.NsecToTimeval(g.Time.UnixNano()))); err != nil {
		return Params{}, fmt.Errorf("set the clock: %w", err)
	}
	if err := reseed(g.Seed); err != nil {
		return Params{}, err
	}
	b.send(BeatResumed)
	trace("resumed: clock set, RNG reseeded")
	return g.Params, nil
}

func ptr[T any](v T) *T { return &v }

// readLine reads one line from the port, byte by byte: nothing after the
// newline may be consumed, and the line is short.
func readLine(f *os.File) (string, error) {
	var line []byte
	buf := make([]byte, 1)
	for len(line) < 64<<10 {
		n, err := f.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				return string(line), nil
			}
			line = append(line, buf[0])
			continue
		}
		if err != nil {
			return "", err
		}
	}
	return "", errors.New("the host's go line is too long")
}

// The random device's ioctls (linux/random.h).
const (
	rndAddEntropy = 0x40085203 // RNDADDENTROPY: _IOW('R', 0x03, int[2])
	rndReseedCRNG = 0x5207     // RNDRESEEDCRNG: _IO('R', 0x07)
	maxSeedBytes  = 512
)

// reseed mixes seed into the kernel's input pool, credited, and has the
// CRNG reseed from it at once: from here on the guest's random numbers are
// its own, not the snapshot-taker's.
func reseed(seed []byte) error {
	if len(seed) < 32 || len(seed) > maxSeedBytes {
		return fmt.Errorf("the host sent %d bytes of entropy, want 32 to %d", len(seed), maxSeedBytes)
	}
	f, err := os.OpenFile("/dev/urandom", os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("reseed the RNG: %w", err)
	}
	defer f.Close()
	// struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; }
	info := make([]byte, 8+len(seed))
	binary.NativeEndian.PutUint32(info[0:], uint32(8*len(seed)))
	binary.NativeEndian.PutUint32(info[4:], uint32(len(seed)))
	copy(info[8:], seed)
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), rndAddEntropy, uintptr(unsafe.Pointer(&info[0]))); e != 0 {
		return fmt.Errorf("reseed the RNG: RNDADDENTROPY: %w", e)
	}
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), rndReseedCRNG, 0); e != 0 {
		return fmt.Errorf("reseed the RNG: RNDRESEEDCRNG: %w", e)
	}
	return nil
}

// isDeferred reports whether the module at path (/modules/NN-name.ko) is
// one of DeferredModules.
func isDeferred(path string) bool {
	name := strings.TrimSuffix(filepath.Base(path), ".ko")
	if _, n, ok := strings.Cut(name, "-"); ok {
		name = n
	}
	return slices.Contains(DeferredModules, name)
}

// loadModules loads the modules the marker file lists, in order. With
// unbound, DeferredModules are loaded with the virtio bus's automatic
// probing off: their drivers bind no device until bindDevices.
func loadModules(marker string, unbound bool, trace func(string)) error {
	list, err := os.ReadFile(marker)
	if err != nil {
		return fmt.Errorf("read the initfs module list: %w", err)
	}
	for _, p := range strings.Fields(string(list)) {
		if unbound && isDeferred(p) {
			err = loadUnbound(p)
		} else {
			err = loadModule(p)
		}
		if err != nil {
			return err
		}
		trace("loaded " + filepath.Base(p))
	}
	return nil
}

// virtioBus is the virtio bus in sysfs.
const virtioBus = "/sys/bus/virtio"

// loadUnbound loads the module at path with the virtio bus's automatic
// probing off, so that its driver binds none of the devices there already.
// Probing is on again for the modules after it.
func loadUnbound(path string) error {
	auto := filepath.Join(virtioBus, "drivers_autoprobe")
	if err := os.WriteFile(auto, []byte("0"), 0); err != nil {
		return fmt.Errorf("load %s unbound: %w", filepath.Base(path), err)
	}
	err := loadModule(path)
	if werr := os.WriteFile(auto, []byte("1"), 0); err == nil && werr != nil {
		err = fmt.Errorf("load %s unbound: %w", filepath.Base(path), werr)
	}
	return err
}

// deferredDrivers are the drivers of DeferredModules on the virtio bus,
// by the virtio device ID (include/uapi/linux/virtio_ids.h) each binds.
var deferredDrivers = map[string]string{"0x0002": "virtio_blk"}

// checkUnbound makes sure no driver of DeferredModules holds a device: a
// snapshot taken now must not carry anything of a disk.
func checkUnbound() error {
	for _, d := range deferredDrivers {
		bound, _ := filepath.Glob(filepath.Join(virtioBus, "drivers", d, "virtio*"))
		if len(bound) > 0 {
			return fmt.Errorf("%s bound %s before the snapshot point", d, filepath.Base(bound[0]))
		}
	}
	return nil
}

// virtioDevice is a device on the virtio bus and the driver that drives
// it.
type virtioDevice struct{ name, driver string }

// unboundDevices lists the virtio devices that a driver of
// DeferredModules drives and that are not bound yet.
func unboundDevices() ([]virtioDevice, error) {
	devs, err := filepath.Glob(filepath.Join(virtioBus, "devices", "virtio*"))
	if err != nil {
		return nil, err
	}
	var out []virtioDevice
	for _, dev := range devs {
		id, err := os.ReadFile(filepath.Join(dev, "device"))
		if err != nil {
			return nil, fmt.Errorf("read the virtio device %s: %w", filepath.Base(dev), err)
		}
		drv, ok := deferredDrivers[strings.TrimSpace(string(id))]
		if !ok {
			continue
		}
		if _, err := os.Lstat(filepath.Join(dev, "driver")); err == nil {
			continue
		}
		out = append(out, virtioDevice{filepath.Base(dev), drv})
	}
	return out, nil
}

// bindDevices binds each device to its driver, all at once: the block
// driver reads this run's disks as it binds.
func bindDevices(devs []virtioDevice) error {
	var g errgroup.Group
	for _, d := range devs {
		g.Go(func() error {
			if err := os.WriteFile(filepath.Join(virtioBus, "drivers", d.driver, "bind"), []byte(d.name), 0); err != nil {
				return fmt.Errorf("bind %s to %s: %w", d.name, d.driver, err)
			}
			return nil
		})
	}
	return g.Wait()
}

func loadModule(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("load module: %w", err)
	}
	defer f.Close()
	err = unix.FinitModule(int(f.Fd()), "", 0)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("load module %s: %w", filepath.Base(path), err)
	}
	return nil
}

// prepare mounts the rootfs, the workspace, the shared host directories
// and the scratch area, the disks and the 9p shares side by side. The
// disks' devices in unbound are first bound to their driver (a guest
// restored from its snapshot point, unboundDevices).
func prepare(p Params, unbound []virtioDevice) error {
	var g errgroup.Group
	g.Go(func() error {
		if err := bindDevices(unbound); err != nil {
			return err
		}
		var disks errgroup.Group
		disks.Go(func() error { return mountRoot(p) })
		disks.Go(func() error {
			if err := mountScratch(p); err != nil {
				return err
			}
			return os.MkdirAll(ScratchDir, 0o755)
		})
		return disks.Wait()
	})
	if p.Workspace != "" {
		g.Go(func() error {
			if err := unix.Mount(p.Workspace, WorkspaceDir, "9p", 0, opts9p); err != nil {
				return fmt.Errorf("mount the 9p workspace %q: %w", p.Workspace, err)
			}
			return nil
		})
	}
	g.Go(func() error { return mountShares(p.Mounts) })
	return g.Wait()
}

// mountRoot mounts the rootfs disk read-only at LowerDir, if there is one.
func mountRoot(p Params) error {
	if p.Root == "" {
		return nil
	}
	dev, err := findDisk(p.Root)
	if err != nil {
		return err
	}
	// noload: never replay a journal, the disk is read-only.
	if err := unix.Mount(dev, LowerDir, "ext4", unix.MS_RDONLY, "noload"); err != nil {
		return fmt.Errorf("mount the rootfs %s read-only: %w", dev, err)
	}
	return nil
}

// opts9p are the options of every 9p share.
const opts9p = "trans=virtio,version=9p2000.L,msize=262144,cache=mmap,access=client"

// mountShares mounts the n host directories shared as 9p devices tagged
// MountTag(i) at MountsDir/i, read-write: the host decides what a share
// may do.
func mountShares(n int) error {
	for i := range n {
		dir := filepath.Join(MountsDir, strconv.Itoa(i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			return fmt.Errorf("prepare the shared directory %d: %w", i, err)
		}
		if err := unix.Mount(MountTag(i), dir, "9p", unix.MS_NOSUID|unix.MS_NODEV, opts9p); err != nil {
			return fmt.Errorf("mount the shared host directory %q (a tool cache) of %d: %w", MountTag(i), n, err)
		}
	}
	return nil
}

// mountScratch mounts the scratch disk, or else a tmpfs, at scratchMount.
func mountScratch(p Params) error {
	if p.Disk != "" {
		dev, err := findDisk(p.Disk)
		if err != nil {
			return err
		}
		// noinit_itable: no background zeroing of a throwaway disk.
		if err := unix.Mount(dev, scratchMount, "ext4", unix.MS_NOATIME, "noinit_itable"); err != nil {
			return fmt.Errorf("mount the scratch disk %s: %w", dev, err)
		}
		return nil
	}
	opts := "mode=0755"
	if p.ScratchMB > 0 {
		opts += fmt.Sprintf(",size=%dm", p.ScratchMB)
	}
	if err := unix.Mount("scratch", scratchMount, "tmpfs", 0, opts); err != nil {
		return fmt.Errorf("mount the scratch tmpfs: %w", err)
	}
	return nil
}

// findDisk returns the device node of the virtio disk whose serial the
// host set to serial.
func findDisk(serial string) (string, error) {
	deadline := time.Now().Add(deviceWait)
	for {
		disks, _ := filepath.Glob("/sys/block/vd*/serial")
		for _, d := range disks {
			if b, err := os.ReadFile(d); err == nil && strings.TrimSpace(string(b)) == serial {
				dev := "/dev/" + filepath.Base(filepath.Dir(d))
				return dev, waitFor(dev)
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("the disk %q did not appear within %v", serial, deviceWait)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// loopbackUp brings lo up: a VM's network namespace starts with it down,
// and the sandbox's proxy bridge and local servers listen on 127.0.0.1.
// The kernel gives lo its addresses as it comes up.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bring up the loopback interface: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up the loopback interface: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up the loopback interface: %w", err)
	}
	return nil
}

// waitFor waits until the device node path exists: devtmpfs creates nodes
// asynchronously after a driver probes.
func waitFor(path string) error {
	deadline := time.Now().Add(deviceWait)
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("device %s did not appear within %v", path, deviceWait)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
