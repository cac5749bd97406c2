package vm

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Accelerator is implemented by backends whose speed depends on hardware
// virtualization (qemu with KVM). Accelerated reports why it is not
// available, or nil.
type Accelerator interface {
	Accelerated() error
}

// Describer is implemented by backends that describe their isolation, for
// doctor and --timing (the namespace backend says it shares the kernel).
type Describer interface {
	Isolation() string
}

// Options configure every backend. The command line fills them once, from
// its flags and the environment, and builds the backends with them: no
// backend reads the environment or finds silo's home on its own.
type Options struct {
	// Home is silo's home directory: where a backend keeps its host-side
	// caches (the KVM probe, scratch templates). Required.
	Home string
	// Agent is the guest agent binary (agentbin.Find's answer).
	Agent string
	// Runtime returns the kernel (a vmlinux file) and initfs a VM boots,
	// from the same store the run uses. Backends that boot a kernel call
	// it only for work of their own before a run (the KVM probe); a run's
	// Spec carries its own Kernel and Initfs.
	Runtime RuntimeFunc
	// HangTimeout is how long a VM may go without a heartbeat; zero means
	// the backend's default.
	HangTimeout time.Duration
	// Debug shows a VM's console on stderr.
	Debug bool
	// NoSnapshot has every VM boot: no memory snapshot is made or
	// restored (vm.Snapshotter).
	NoSnapshot bool
	// FuseDevice is the FUSE device a backend on the host's kernel gives
	// the agent for its workspace filter; "" means /dev/fuse. A user who
	// may not open /dev/fuse (root-only on some systems) can name a node
	// an administrator made for them (mknod NODE c 10 229).
	FuseDevice string
}

// RuntimeFunc returns the vmlinux file and initfs a VM boots.
type RuntimeFunc func(ctx context.Context) (kernel, initfs string, err error)

// Needs is what a backend boots, so that the caller can supply it.
type Needs struct {
	// RootfsDir: an unpacked rootfs directory (Spec.RootfsDir); else an
	// ext4 image (Spec.RootfsImage).
	RootfsDir bool
	// Kernel: a kernel and an initfs (Spec.Kernel, Spec.Initfs).
	Kernel bool
}

// Constructor builds a backend with the options.
type Constructor func(Options) Backend

var (
	regMu        sync.Mutex
	constructors = map[string]Constructor{}
)

// Register makes a backend constructor known under name. Backend packages
// call it from init; a binary links the backends it imports.
func Register(name string, c Constructor) {
	regMu.Lock()
	defer regMu.Unlock()
	constructors[name] = c
}

// Registry is the set of backends built into this binary, each built with
// one set of options.
type Registry struct {
	opts  Options
	mu    sync.Mutex
	built map[string]Backend
}

// NewRegistry returns the registered backends, to be built with o.
func NewRegistry(o Options) *Registry {
	return &Registry{opts: o, built: map[string]Backend{}}
}

// Names returns the registered backends' names, sorted.
func (r *Registry) Names() []string {
	regMu.Lock()
	defer regMu.Unlock()
	names := make([]string, 0, len(constructors))
	for n := range constructors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Lookup returns the backend named name, built with the registry's
// options (once: later calls return the same backend).
func (r *Registry) Lookup(name string) (Backend, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b, ok := r.built[name]; ok {
		return b, nil
	}
	regMu.Lock()
	c, ok := constructors[name]
	regMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("unknown backend %q: choose one of %s", name, strings.Join(r.Names(), ", "))
	}
	b := c(r.opts)
	r.built[name] = b
	return b, nil
}

// Select picks the backend to run with and says why. name is --backend
// (or $SILO_BACKEND, which the command line reads); "" or "auto" is the
// automatic choice: vz on macOS, qemu where KVM works, else namespace,
// else qemu under emulation.
func (r *Registry) Select(name string) (b Backend, reason string, err error) {
	if name != "" && name != "auto" {
		b, err := r.Lookup(name)
		if err != nil {
			return nil, "", err
		}
		if err := b.Available(); err != nil {
			return nil, "", fmt.Errorf("backend %s cannot run here: %w", name, err)
		}
		return b, "asked for by --backend or SILO_BACKEND", nil
	}
	return r.selectAuto()
}

// SharedKernelFallback reports whether Select(name) chose b as a fall
// back from a VM: an automatic choice that settled for a backend sharing
// the host's kernel (namespace) where this silo has a VM backend built
// in. The user who expected a VM should learn it.
func (r *Registry) SharedKernelFallback(name string, b Backend) bool {
	if (name != "" && name != "auto") || b == nil || b.Name() != "namespace" {
		return false
	}
	names := r.Names()
	return slices.Contains(names, "qemu") || slices.Contains(names, "vz")
}

// selectAuto is the automatic choice.
func (r *Registry) selectAuto() (Backend, string, error) {
	var why []string
	try := func(name string, accel bool) Backend {
		b, err := r.Lookup(name)
		if err != nil {
			return nil
		}
		if err := b.Available(); err != nil {
			why = append(why, fmt.Sprintf("%s: %v", name, err))
			return nil
		}
		if a, ok := b.(Accelerator); ok && accel {
			if err := a.Accelerated(); err != nil {
				why = append(why, fmt.Sprintf("%s: no hardware acceleration: %v", name, err))
				return nil
			}
		}
		return b
	}
	order := []struct {
		name  string
		accel bool
	}{{"vz", false}, {"qemu", true}, {"namespace", false}, {"qemu", false}}
	if runtime.GOOS != "darwin" {
		order = order[1:]
	}
	for _, o := range order {
		if b := try(o.name, o.accel); b != nil {
			reason := "chosen automatically"
			if len(why) > 0 {
				reason += " (" + strings.Join(why, "; ") + ")"
			}
			return b, reason, nil
		}
	}
	if len(why) == 0 {
		return nil, "", errors.New("no sandbox backend is built into this silo")
	}
	return nil, "", fmt.Errorf("no sandbox backend can run here: %s; run silo doctor", strings.Join(why, "; "))
}
