// Package guestinit is the first stage of a silo VM's PID 1: the part that
// runs in the initramfs before the guest agent takes over.
//
// It mounts /dev, /proc and /sys, loads the kernel modules the initfs
// carries (in the order /silo-initfs lists them), mounts the rootfs disk
// read-only, the 9p workspace, the host directories shared for the tool's
// caches (9p tags silo.m0, silo.m1, … at /silo/mounts/0, /silo/mounts/1,
// …, where agent.Layout.Mounts says), the scratch area, opens the
// virtio-serial ports, reports readiness and heartbeats to the host on the
// "silo.hb" port, hands the "silo.agent" port to the agent, and finally
// syncs and powers the VM off. Whatever goes wrong is written to the
// console and, as an "E" line, to the heartbeat port, so that the host can
// say why a VM did not come up instead of waiting for its watchdog.
//
// With silo.pause=1 on the kernel command line the init stops at its
// snapshot point: its modules loaded, DeferredModules (virtio_blk, whose
// probe would read the disks' size and partition table) with the virtio
// bus's automatic probing off, so that their driver holds no device (the
// init checks that none is bound), the heartbeat port open, the loopback
// interface up, the mount points made, the sandbox's /proc and /dev
// mounted (agent.PrepareSystem, at SystemDir) and the agent's port open
// (the same in every run), nothing of a run read or mounted.
// It sends BeatPaused and waits for the host's go line (Go), which a VM
// restored from a snapshot taken there receives too: the clock is set to
// the host's time, the host's entropy is mixed into the kernel's pool,
// credited (RNDADDENTROPY), and the CRNG reseeded (RNDRESEEDCRNG), so
// that no two restored guests share random numbers; then it sends
// BeatResumed, binds the disks to their driver (sysfs bind, the disks
// listed before the pause, at once) and goes on with the go line's
// parameters as a booted init does with its command line's.
//
// The disks, the 9p workspace and the shared directories are mounted side
// by side, not one after the other.
package guestinit
