package qemu

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/silo-dev/silo/vm"
	"github.com/silo-dev/silo/vm/guestinit"
)

// wsTag is the 9p mount tag of the workspace.
const wsTag = "workspace"

// MaxMounts bounds the host directories (a tool's caches) one VM shares.
// Each is a virtio-9p device on its own virtio-mmio transport: x86's
// microvm has 24 of them (arm64's virt 32), four taken by the serial
// ports, the two disks and the workspace.
const MaxMounts = 16

// args returns QEMU's command line for m. Every option here is on the
// boot's critical path: keep it lean.
func (m *machine) args() ([]string, error) {
	mem := m.spec.MemoryMB
	if mem <= 0 {
		mem = DefaultMemoryMB
	}
	cpus := max(m.spec.CPUs, 1)
	a := []string{
		"-M", machineType(),
		"-cpu", cpuModel(m.accel),
		"-accel", string(m.accel),
		"-m", strconv.Itoa(mem),
		"-smp", strconv.Itoa(cpus),
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-serial", "stdio",
		"-kernel", m.kernel,
		"-initrd", m.initfs,
		"-append", strings.Join(m.kernelCmdline(), " "),
	}
	if m.probe {
		return a, nil
	}
	if m.pause {
		a = append(a, m.ramArgs(mem)...)
	}
	a = append(a,
		// Ports connect in this order; acceptPorts relies on it.
		"-device", "virtio-serial-device,max_ports=3",
		"-chardev", "socket,id=hb,path="+esc(filepath.Join(m.dir, "hb.sock")),
		"-device", "virtserialport,chardev=hb,name="+guestinit.BeatPort,
		"-chardev", "socket,id=agent,path="+esc(filepath.Join(m.dir, "agent.sock")),
		"-device", "virtserialport,chardev=agent,name="+guestinit.AgentPort,
	)
	aio := ""
	if m.ioUring {
		aio = "aio=io_uring,"
	}
	if m.spec.RootfsImage != "" {
		a = append(a,
			"-drive", "id=root,if=none,format=raw,read-only=on,"+aio+"file="+esc(m.spec.RootfsImage),
			"-device", "virtio-blk-device,drive=root,serial="+rootSerial)
	}
	if m.scratch != "" {
		a = append(a,
			"-drive", "id=scratch,if=none,format=raw,snapshot=on,"+aio+"file="+esc(m.scratch),
			"-device", "virtio-blk-device,drive=scratch,serial="+scratchSerial)
	}
	if m.spec.Workspace != "" {
		a = append(a,
			"-fsdev", "local,id=ws,security_model=none,path="+esc(m.spec.Workspace),
			"-device", "virtio-9p-device,fsdev=ws,mount_tag="+wsTag)
	}
	mounts, err := mountArgs(m.spec.Shared(), !m.shapeOnly)
	if err != nil {
		return nil, err
	}
	a = append(a, mounts...)
	if m.qmp != "" {
		a = append(a, "-qmp", "unix:"+esc(m.qmp)+",server=on,wait=off")
	}
	if m.incoming != nil {
		a = append(a, "-incoming", "fd:"+strconv.Itoa(m.incomingFD()))
	}
	return a, nil
}

// ramArgs give the guest RAM of a machine that stops at its snapshot
// point a memory backend of its own, ramBlockID, the name its pages have
// in the migration stream: anonymous memory, or with m.ramFile the
// snapshot's RAM mapped privately from that file (ramimage.go).
func (m *machine) ramArgs(mem int) []string {
	obj := "memory-backend-ram,id=" + ramBlockID + ",size=" + strconv.Itoa(mem) + "M"
	if m.ramFile != "" {
		obj = "memory-backend-file,id=" + ramBlockID + ",size=" + strconv.Itoa(mem) + "M,share=off,mem-path=" + esc(m.ramFile)
	}
	return []string{"-object", obj, "-machine", "memory-backend=" + ramBlockID}
}

// incomingFD is QEMU's descriptor of the snapshot file: after the mounts'
// open directories (start's ExtraFiles).
func (m *machine) incomingFD() int { return 3 + len(m.spec.MountDirs()) }

// mountArgs shares each host directory of mounts as a 9p device tagged
// guestinit.MountTag(i), which the guest init mounts at
// guestinit.MountsDir/i for the agent. No mounts, no arguments.
//
// check makes sure each host directory is one; a shape's stand-ins
// (SnapshotShape) are not checked.
func mountArgs(mounts []vm.Mount, check bool) ([]string, error) {
	if len(mounts) > MaxMounts {
		return nil, fmt.Errorf("the tool asks for %d caches and a VM shares at most %d: configure fewer [[cache]] entries", len(mounts), MaxMounts)
	}
	var a []string
	fd := 3 // QEMU's descriptor of the next open directory (ExtraFiles)
	for i, mt := range mounts {
		if check {
			if err := checkMountHost(mt); err != nil {
				return nil, err
			}
		}
		path := mt.Host
		if mt.Dir != nil {
			// The directory silo opened beneath its root, not its path
			// resolved again: QEMU opens the descriptor it inherited.
			path = "/proc/self/fd/" + strconv.Itoa(fd)
			fd++
		}
		id := "m" + strconv.Itoa(i)
		a = append(a,
			"-fsdev", "local,id="+id+",security_model=none,path="+esc(path),
			"-device", "virtio-9p-device,fsdev="+id+",mount_tag="+guestinit.MountTag(i))
	}
	return a, nil
}

// checkMountHost makes sure a mount's host side is an absolute path to a
// directory, so that QEMU does not fail on it with a message of its own.
func checkMountHost(mt vm.Mount) error {
	if !filepath.IsAbs(mt.Host) {
		return fmt.Errorf("cache %s: host directory %q is not an absolute path", mt.Guest, mt.Host)
	}
	stat := func() (os.FileInfo, error) { return os.Stat(mt.Host) }
	if mt.Dir != nil {
		stat = mt.Dir.Stat
	}
	fi, err := stat()
	if err != nil {
		return fmt.Errorf("cache %s: cannot share it with the VM: %w", mt.Guest, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("cache %s: %s is not a directory: remove it, or point the cache elsewhere", mt.Guest, mt.Host)
	}
	return nil
}

// kernelCmdline returns the guest kernel's command line. A guest that
// stops at its snapshot point gets the run's parameters in the host's go
// instead: its command line is the same for every run of its shape.
func (m *machine) kernelCmdline() []string {
	p := m.runParams()
	c := baseCmdline(m.debug)
	if m.pause {
		p = guestinit.Params{Pause: true, Debug: m.debug}
		// Freed pages (the initramfs image once unpacked, boot-time
		// buffers) zeroed: the migration skips zero pages, so the
		// snapshot holds only what the guest uses.
		c = append(c, "init_on_free=1")
	}
	c = append(c, p.Cmdline()...)
	// A snapshot's guest boots every vCPU before its snapshot point: one
	// brought online after a restore may hang the guest (seen under TCG).
	if m.spec.CPUs > 1 && !m.pause {
		// Under TCG, secondary vCPUs slow the whole boot down (~0.5 s
		// bringing them up, and every step after): boot on one, and let
		// the guest init bring the others online once the command has
		// run for a second.
		c = append(c, "maxcpus=1")
	}
	return c
}

// runParams are the guest init's parameters of this run.
func (m *machine) runParams() guestinit.Params {
	p := guestinit.Params{ScratchMB: m.spec.RootfsSizeMB, Probe: m.probe, Debug: m.debug}
	if m.spec.RootfsImage != "" {
		p.Root = rootSerial
	}
	if m.scratch != "" {
		p.Disk, p.ScratchMB = scratchSerial, 0
	}
	if m.spec.Workspace != "" {
		p.Workspace = wsTag
	}
	p.Mounts = len(m.spec.Shared())
	return p
}

// baseCmdline is the kernel command line every silo VM boots with.
// tsc_early_khz: under TCG, microvm has no HPET or PM timer and the guest
// may fail to calibrate its TSC against the emulated PIT, then spin
// forever; giving it the host's TSC frequency removes those hangs.
func baseCmdline(debug bool) []string {
	c := []string{"console=" + consoleDev(), "panic=-1", "mitigations=off", "rodata=off",
		// Boot work a throwaway sandbox does not need; under TCG each of
		// these is measurable (together ~20% of the boot's CPU time).
		"audit=0", "apparmor=0", "lsm=capability", "ima_appraise=off", "pci=off", "nowatchdog",
		"cryptomgr.notests", "random.trust_cpu=on", "tsc=reliable", "no_timer_check"}
	if !debug {
		c = append(c, "quiet")
	}
	if runtime.GOARCH == "amd64" {
		if khz := hostTSCkHz(); khz > 0 {
			c = append(c, fmt.Sprintf("tsc_early_khz=%d", khz))
		}
	}
	return c
}

func machineType() string {
	if runtime.GOARCH == "arm64" {
		return "virt"
	}
	return "microvm,x-option-roms=off"
}

func consoleDev() string {
	if runtime.GOARCH == "arm64" {
		return "ttyAMA0"
	}
	return "ttyS0"
}

func cpuModel(a Accel) string {
	switch {
	case a == AccelKVM:
		return "host"
	case runtime.GOARCH == "arm64":
		return "max"
	default:
		return "qemu64"
	}
}

// esc escapes a value for QEMU's comma-separated option syntax.
func esc(s string) string { return strings.ReplaceAll(s, ",", ",,") }

// ProbeCommand returns the QEMU command that boots kernel and initfs to
// the guest init and powers off, with no disks, workspace or ports: what
// the KVM probe runs, and the bare boot silo's own runs are measured
// against.
//
// cpus and memoryMB shape the VM as a Spec's CPUs and MemoryMB do.
func ProbeCommand(qemu, kernel, initfs string, accel Accel, cpus, memoryMB int) *exec.Cmd {
	spec := probeSpec()
	spec.CPUs, spec.MemoryMB = cpus, memoryMB
	m := &machine{spec: spec, qemu: qemu, kernel: kernel, initfs: initfs, accel: accel, probe: true}
	args, _ := m.args()
	return exec.Command(qemu, args...)
}
