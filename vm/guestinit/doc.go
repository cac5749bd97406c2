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
package guestinit
