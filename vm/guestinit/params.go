package guestinit

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
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
	// BeatPaused: a guest booted with silo.pause=1 reached its snapshot
	// point (modules loaded but the block driver, nothing of the run read
	// or mounted) and waits for a GoLine on the port.
	BeatPaused = 'P'
	// BeatResumed: the guest took the host's GoLine (entropy, clock and
	// the run's parameters) and goes on to mount and serve.
	BeatResumed = 'G'
)

// DeferredModules are the modules whose driver a guest booted to its
// snapshot point (silo.pause=1) binds to its devices only after the
// host's GoLine: the block driver reads its disks' size and partition
// table as it binds, and a restored guest must read this run's disks, not
// the snapshot-taker's. The module itself is loaded before the snapshot
// point, with the virtio bus's automatic probing off: loading it after a
// restore took a tenth of a second under TCG.
var DeferredModules = []string{"virtio_blk"}

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
	ParamPause   = "silo.pause"   // "1": stop at the snapshot point, report BeatPaused and wait for a GoLine
	ParamSeed    = "silo.seed"    // GoLine only: hex bytes the guest mixes into its RNG and reseeds with
	ParamTime    = "silo.time"    // GoLine only: the host's time, Unix nanoseconds, the guest's clock is set to
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
	// Pause stops the init at its snapshot point (BeatPaused) until the
	// host sends a GoLine, whose parameters then replace these.
	Pause bool
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
		case ParamPause:
			p.Pause = v == "1"
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
	if p.Pause {
		out = append(out, ParamPause+"=1")
	}
	return out
}

// Go is what the host sends a guest paused at its snapshot point (or
// restored from a snapshot taken there): the run's parameters, fresh
// entropy and the time. A snapshot carries the snapshot-taker's RNG state
// and clock; every restored guest reseeds and sets its clock from these
// before anything of the run starts.
type Go struct {
	Params Params
	Seed   []byte
	Time   time.Time
}

// GoLinePrefix starts the line a Go travels as on BeatPort, host to guest.
const GoLinePrefix = "go"

// Line is g as one line: "go", the parameters as on a kernel command
// line, silo.seed and silo.time, and a newline.
func (g Go) Line() string {
	f := append([]string{GoLinePrefix}, g.Params.Cmdline()...)
	f = append(f, ParamSeed+"="+hex.EncodeToString(g.Seed), ParamTime+"="+strconv.FormatInt(g.Time.UnixNano(), 10))
	return strings.Join(f, " ") + "\n"
}

// ParseGo reads a Go line (without or with its newline).
func ParseGo(line string) (Go, error) {
	line = strings.TrimSpace(line)
	rest, ok := strings.CutPrefix(line, GoLinePrefix+" ")
	if !ok {
		return Go{}, fmt.Errorf("not a go line: %.40q", line)
	}
	g := Go{Params: ParseCmdline(rest)}
	for _, f := range strings.Fields(rest) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case ParamSeed:
			b, err := hex.DecodeString(v)
			if err != nil {
				return Go{}, fmt.Errorf("go line: bad %s: %w", ParamSeed, err)
			}
			g.Seed = b
		case ParamTime:
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return Go{}, fmt.Errorf("go line: bad %s: %w", ParamTime, err)
			}
			g.Time = time.Unix(0, n)
		}
	}
	if len(g.Seed) == 0 || g.Time.IsZero() {
		return Go{}, fmt.Errorf("go line without %s or %s", ParamSeed, ParamTime)
	}
	return g, nil
}
