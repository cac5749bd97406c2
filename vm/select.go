package vm

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
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

var (
	regMu    sync.Mutex
	registry = map[string]func() Backend{}
)

// Register makes a backend constructor known to Select under name. Backend
// packages call it from init; a binary links the backends it imports.
func Register(name string, newBackend func() Backend) {
	regMu.Lock()
	defer regMu.Unlock()
	registry[name] = newBackend
}

// Backends returns the registered backends' names, sorted.
func Backends() []string {
	regMu.Lock()
	defer regMu.Unlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Lookup returns a new backend by name.
func Lookup(name string) (Backend, error) {
	regMu.Lock()
	f, ok := registry[name]
	regMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("unknown backend %q: choose one of %s", name, strings.Join(Backends(), ", "))
	}
	return f(), nil
}

// Select picks the backend to run with and says why. name is --backend;
// "" falls back to $SILO_BACKEND, then to the automatic choice: vz on
// macOS, qemu where KVM works, else namespace, else qemu under emulation.
func Select(name string) (b Backend, reason string, err error) {
	if name == "" {
		name = os.Getenv("SILO_BACKEND")
	}
	if name != "" && name != "auto" {
		b, err := Lookup(name)
		if err != nil {
			return nil, "", err
		}
		if err := b.Available(); err != nil {
			return nil, "", fmt.Errorf("backend %s cannot run here: %w", name, err)
		}
		return b, "asked for by --backend or SILO_BACKEND", nil
	}
	return selectAuto()
}

// selectAuto is the automatic choice.
func selectAuto() (Backend, string, error) {
	var why []string
	try := func(name string, accel bool) Backend {
		b, err := Lookup(name)
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
