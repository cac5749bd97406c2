package guestinit

import (
	"strconv"
	"strings"
)

// MountTagPrefix starts the 9p mount tags of the host directories a VM
// shares besides the workspace (package caches): the i-th is MountTag(i).
const MountTagPrefix = "silo.m"

// MountTag is the 9p mount tag of the spec's i-th host directory.
func MountTag(i int) string { return MountTagPrefix + strconv.Itoa(i) }

// Marker is the file whose presence in / tells silo, started as PID 1,
// that it is the init of a silo VM's initfs. It lists the modules to load,
// one initfs path a line, in load order.
const Marker = "/silo-initfs"

// Port names of the virtio-serial ports the host creates.
const (
	AgentPort = "silo.agent" // the host↔agent byte stream
	BeatPort  = "silo.hb"    // readiness, heartbeats and init errors
)

// Heartbeat protocol on BeatPort, guest to host: one byte each.
const (
	BeatReady = 'R' // the agent is about to serve the agent port
	BeatAlive = '.' // sent every BeatInterval while the guest runs
	BeatError = 'E' // followed by a message line: init failed
	BeatDone  = 'D' // the agent returned; the guest is powering off
)

// ProbeOK is what a probe boot prints on the console before powering off.
const ProbeOK = "silo-init: probe ok"

// Kernel command line parameters the host passes to guestinit.
const (
	ParamProbe   = "silo.probe"   // "1": print ProbeOK and power off once the modules are loaded
	ParamRoot    = "silo.root"    // serial of the rootfs disk; absent: no rootfs
	ParamDisk    = "silo.disk"    // serial of the scratch disk; absent: a tmpfs scratch
	ParamWS      = "silo.ws"      // 9p mount tag of the workspace; absent: none
	ParamScratch = "silo.scratch" // size of the tmpfs scratch in MiB, without a disk; 0: half of RAM
	ParamDebug   = "silo.debug"   // "1": print each step's time on the console
	ParamMounts  = "silo.mounts"  // number of shared host directories, tagged MountTag(0…n-1); absent: none
)

// Params are the silo.* parameters of a kernel command line.
type Params struct {
	Probe     bool
	Root      string
	Disk      string
	Workspace string
	ScratchMB int
	Debug     bool
	// Mounts is the number of host directories shared as 9p devices
	// tagged MountTag(0), MountTag(1), …
	Mounts int
}

// ParseCmdline reads the silo.* parameters out of a kernel command line.
func ParseCmdline(cmdline string) Params {
	var p Params
	for _, f := range strings.Fields(cmdline) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case ParamProbe:
			p.Probe = v == "1"
		case ParamRoot:
			p.Root = v
		case ParamDisk:
			p.Disk = v
		case ParamWS:
			p.Workspace = v
		case ParamScratch:
			p.ScratchMB, _ = strconv.Atoi(v)
		case ParamDebug:
			p.Debug = v == "1"
		case ParamMounts:
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				p.Mounts = n
			}
		}
	}
	return p
}

// Cmdline returns the kernel command line parameters for p.
func (p Params) Cmdline() []string {
	var out []string
	if p.Probe {
		out = append(out, ParamProbe+"=1")
	}
	if p.Root != "" {
		out = append(out, ParamRoot+"="+p.Root)
	}
	if p.Disk != "" {
		out = append(out, ParamDisk+"="+p.Disk)
	}
	if p.Workspace != "" {
		out = append(out, ParamWS+"="+p.Workspace)
	}
	if p.ScratchMB > 0 {
		out = append(out, ParamScratch+"="+strconv.Itoa(p.ScratchMB))
	}
	if p.Debug {
		out = append(out, ParamDebug+"=1")
	}
	if p.Mounts > 0 {
		out = append(out, ParamMounts+"="+strconv.Itoa(p.Mounts))
	}
	return out
}
