//go:build darwin

package vz

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/Code-Hex/vz/v3"

	"github.com/silo-dev/silo/vm"
	"github.com/silo-dev/silo/vm/guestinit"
	"github.com/silo-dev/silo/vm/session"
)

// workspaceTag is the virtio-fs tag of the workspace share.
const workspaceTag = "silo.ws"

func init() {
	vm.Register("vz", func(vm.Options) vm.Backend { return &Backend{} })
}

// Needs says that a VM boots an ext4 rootfs, a kernel and an initfs.
func (*Backend) Needs() vm.Needs { return vm.Needs{Kernel: true} }

// Backend runs sandboxes as Virtualization.framework VMs.
type Backend struct{}

// Name returns "vz".
func (*Backend) Name() string { return "vz" }

// Isolation describes the sandbox.
func (*Backend) Isolation() string { return "a Linux VM (Apple Virtualization framework)" }

// Available reports why vz cannot run here, or nil.
func (*Backend) Available() error {
	if runtime.GOARCH != "arm64" {
		return errors.New("the vz backend needs Apple silicon")
	}
	return nil
}

// Run boots a VM for spec and runs its command.
func (b *Backend) Run(ctx context.Context, spec *vm.Spec) (int, error) {
	start := time.Now()
	if spec.Kernel == "" || spec.Initfs == "" || spec.RootfsImage == "" {
		return -1, errors.New("the vz backend needs the kernel, initfs and rootfs image entries (silo runtime import-kernel)")
	}
	if len(spec.Mounts) > 0 {
		return -1, fmt.Errorf("the vz backend cannot share package caches yet (%s): remove the tool's [[cache]] entries or use another backend", spec.Mounts[0].Guest)
	}
	agent, agentGuest, err := pipePair()
	if err != nil {
		return -1, err
	}
	beat, beatGuest, err := pipePair()
	if err != nil {
		return -1, err
	}
	defer beat.Close()
	machine, err := newMachine(spec, agentGuest, beatGuest)
	if err != nil {
		agent.Close()
		return -1, err
	}
	if err := machine.Start(); err != nil {
		agent.Close()
		return -1, fmt.Errorf("start the VM: %w", err)
	}
	defer stop(machine)
	go io.Copy(io.Discard, beat) // readiness is the agent's: Attach has the watchdog
	spec.Timing.Mark("boot", start)
	return session.Attach(ctx, agent, spec)
}

// newMachine configures the VM: kernel, initfs, rootfs disk, workspace
// share, the agent and heartbeat ports, entropy.
func newMachine(spec *vm.Spec, agent, beat *portFiles) (*vz.VirtualMachine, error) {
	cmdline := fmt.Sprintf("console=hvc0 quiet %s=vda %s=%s", guestinit.ParamRoot, guestinit.ParamWS, workspaceTag)
	boot, err := vz.NewLinuxBootLoader(spec.Kernel, vz.WithCommandLine(cmdline), vz.WithInitrd(spec.Initfs))
	if err != nil {
		return nil, fmt.Errorf("vz boot loader: %w", err)
	}
	cpus, mem := uint(max(spec.CPUs, 2)), uint64(max(spec.MemoryMB, 1024))<<20
	cfg, err := vz.NewVirtualMachineConfiguration(boot, cpus, mem)
	if err != nil {
		return nil, fmt.Errorf("vz configuration: %w", err)
	}
	disk, err := vz.NewDiskImageStorageDeviceAttachment(spec.RootfsImage, true)
	if err != nil {
		return nil, fmt.Errorf("attach the rootfs: %w", err)
	}
	blk, err := vz.NewVirtioBlockDeviceConfiguration(disk)
	if err != nil {
		return nil, err
	}
	cfg.SetStorageDevicesVirtualMachineConfiguration([]vz.StorageDeviceConfiguration{blk})
	fs, err := workspaceShare(spec.Workspace)
	if err != nil {
		return nil, err
	}
	cfg.SetDirectorySharingDevicesVirtualMachineConfiguration([]vz.DirectorySharingDeviceConfiguration{fs})
	console, err := ports(map[string]*portFiles{guestinit.AgentPort: agent, guestinit.BeatPort: beat})
	if err != nil {
		return nil, err
	}
	cfg.SetConsoleDevicesVirtualMachineConfiguration([]vz.ConsoleDeviceConfiguration{console})
	if rng, err := vz.NewVirtioEntropyDeviceConfiguration(); err == nil {
		cfg.SetEntropyDevicesVirtualMachineConfiguration([]*vz.VirtioEntropyDeviceConfiguration{rng})
	}
	if ok, err := cfg.Validate(); !ok || err != nil {
		return nil, fmt.Errorf("vz configuration is not valid: %w", err)
	}
	return vz.NewVirtualMachine(cfg)
}

// workspaceShare shares the workspace read-write over virtio-fs.
func workspaceShare(dir string) (*vz.VirtioFileSystemDeviceConfiguration, error) {
	fs, err := vz.NewVirtioFileSystemDeviceConfiguration(workspaceTag)
	if err != nil {
		return nil, fmt.Errorf("workspace share: %w", err)
	}
	shared, err := vz.NewSharedDirectory(dir, false)
	if err != nil {
		return nil, fmt.Errorf("workspace share: %w", err)
	}
	single, err := vz.NewSingleDirectoryShare(shared)
	if err != nil {
		return nil, fmt.Errorf("workspace share: %w", err)
	}
	fs.SetDirectoryShare(single)
	return fs, nil
}

// ports makes a virtio-console device with one named port per entry.
func ports(named map[string]*portFiles) (*vz.VirtioConsoleDeviceConfiguration, error) {
	dev, err := vz.NewVirtioConsoleDeviceConfiguration()
	if err != nil {
		return nil, fmt.Errorf("console device: %w", err)
	}
	i := 0
	for name, f := range named {
		att, err := vz.NewFileHandleSerialPortAttachment(f.read, f.write)
		if err != nil {
			return nil, fmt.Errorf("port %s: %w", name, err)
		}
		p, err := vz.NewVirtioConsolePortConfiguration(
			vz.WithVirtioConsolePortConfigurationName(name),
			vz.WithVirtioConsolePortConfigurationAttachment(att))
		if err != nil {
			return nil, fmt.Errorf("port %s: %w", name, err)
		}
		dev.SetVirtioConsolePortConfiguration(i, p)
		i++
	}
	return dev, nil
}

// stop stops the VM, forcibly if it does not power off by itself soon.
func stop(m *vz.VirtualMachine) {
	deadline := time.After(10 * time.Second)
	for m.State() != vz.VirtualMachineStateStopped && m.State() != vz.VirtualMachineStateError {
		select {
		case <-m.StateChangedNotify():
		case <-deadline:
			_ = m.Stop()
			return
		}
	}
}

// portFiles are the guest's ends of one port: it reads read, writes write.
type portFiles struct{ read, write *os.File }

// hostEnd is the host's end of one port, as one stream.
type hostEnd struct {
	r, w *os.File
}

func (h *hostEnd) Read(p []byte) (int, error)  { return h.r.Read(p) }
func (h *hostEnd) Write(p []byte) (int, error) { return h.w.Write(p) }
func (h *hostEnd) Close() error {
	h.w.Close()
	return h.r.Close()
}

// pipePair makes the two pipes of one port.
func pipePair() (*hostEnd, *portFiles, error) {
	toGuestR, toGuestW, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	toHostR, toHostW, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	return &hostEnd{r: toHostR, w: toGuestW}, &portFiles{read: toGuestR, write: toHostW}, nil
}
