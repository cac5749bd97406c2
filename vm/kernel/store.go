package kernel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/silo-dev/silo/derive"
	"github.com/silo-dev/silo/store"
)

// Store keys and root names of the runtime entries.
const (
	// CurrentKernelKey is the realisation key of the kernel VMs boot.
	CurrentKernelKey = "runtime:kernel"
	// KernelRoot and InitfsRoot are the direct roots that keep the current
	// kernel and initfs from being collected.
	KernelRoot = "runtime-kernel"
	InitfsRoot = "runtime-initfs"
	// initfsFormat versions the initfs derivation: bump it whenever
	// WriteInitfs changes what it writes.
	initfsFormat = "silo-initfs/v1"
)

// Info is kernel.json, the description inside a kernel entry.
type Info struct {
	// Release is the kernel release ("6.1.0-56-amd64").
	Release string `json:"release"`
	// Version is the full version string of the bzImage header, if any.
	Version string `json:"version,omitempty"`
	// Compression is how the imported image's payload was compressed.
	Compression Compression `json:"compression"`
	// Modules are the module names in modules/, in load order.
	Modules []string `json:"modules"`
}

// ImportOptions say what to import.
type ImportOptions struct {
	// Image is the kernel: a bzImage (vmlinuz) or a PVH vmlinux.
	Image string
	// Modules is the kernel's modules directory (/lib/modules/<release>).
	Modules string
	// Extra are modules to include beyond SandboxModules.
	Extra []string
}

// Import adds the kernel described by o to st as a content-addressed
// kernel entry (a directory: vmlinux, modules/, kernel.json), makes it the
// kernel VMs boot, and returns it.
func Import(st *store.Store, o ImportOptions) (*store.Entry, error) {
	img, err := os.ReadFile(o.Image)
	if err != nil {
		return nil, fmt.Errorf("read the kernel image: %w", err)
	}
	vmlinux, comp, err := ExtractVmlinux(img)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.Image, err)
	}
	idx, err := IndexModules(o.Modules)
	if err != nil {
		return nil, err
	}
	mods, err := idx.Resolve(append(append([]string{}, SandboxModules...), o.Extra...))
	if err != nil {
		return nil, fmt.Errorf("resolve the sandbox's kernel modules: %w", err)
	}
	info := Info{Release: filepath.Base(filepath.Clean(o.Modules)), Version: KernelVersion(img), Compression: comp}
	if v, _, _ := strings.Cut(info.Version, " "); v != "" {
		info.Release = v
	}
	tmp, err := st.MkTemp("kernel-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "kernel")
	if err := stage(dir, vmlinux, mods, &info); err != nil {
		return nil, err
	}
	e, err := st.AddDir(dir, store.AddOptions{Name: "linux-" + info.Release, Kind: store.KindKernel, Move: true})
	if err != nil {
		return nil, fmt.Errorf("add the kernel to the store: %w", err)
	}
	if err := st.AddRoot(KernelRoot, e.Name); err != nil {
		return nil, err
	}
	if err := st.SetRealisation(CurrentKernelKey, e.Name); err != nil {
		return nil, err
	}
	return e, nil
}

// stage writes a kernel entry's tree into dir.
func stage(dir string, vmlinux []byte, mods []*Module, info *Info) error {
	if err := os.MkdirAll(filepath.Join(dir, "modules"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "vmlinux"), vmlinux, 0o644); err != nil {
		return fmt.Errorf("stage vmlinux: %w", err)
	}
	for i, m := range mods {
		b, err := os.ReadFile(m.Path)
		if err != nil {
			return fmt.Errorf("read module %s: %w", m.Name, err)
		}
		p := filepath.Join(dir, "modules", fmt.Sprintf("%02d-%s.ko", i, m.Name))
		if err := os.WriteFile(p, StripSignature(b), 0o644); err != nil {
			return fmt.Errorf("stage module %s: %w", m.Name, err)
		}
		info.Modules = append(info.Modules, m.Name)
	}
	j, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "kernel.json"), append(j, '\n'), 0o644)
}

// ReadInfo reads kernel.json from a kernel entry directory.
func ReadInfo(entryDir string) (*Info, error) {
	b, err := os.ReadFile(filepath.Join(entryDir, "kernel.json"))
	if err != nil {
		return nil, fmt.Errorf("read the kernel entry's kernel.json: %w", err)
	}
	var info Info
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("parse %s/kernel.json: %w", entryDir, err)
	}
	return &info, nil
}

// ErrNoKernel is returned when no kernel is imported and the host's own
// kernel cannot be read.
var ErrNoKernel = errors.New("no kernel for VMs")

// Current returns the kernel entry VMs boot, importing the host's own
// kernel first if none was imported yet and the host's is readable.
func Current(st *store.Store) (*store.Entry, error) {
	e, err := st.Realisation(CurrentKernelKey)
	if err == nil {
		return st.Use(e.Name)
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	o, herr := HostKernel()
	if herr != nil {
		return nil, fmt.Errorf("%w: %v; import one with `silo runtime import-kernel VMLINUZ --modules DIR` (Debian: apt-get download linux-image-amd64 && dpkg -x …, or scripts/fetch-kernel.sh)", ErrNoKernel, herr)
	}
	if e, err = Import(st, o); err != nil {
		return nil, fmt.Errorf("import the host kernel %s: %w", o.Image, err)
	}
	return e, nil
}

// InitfsDerivation is the derivation of the initfs of a kernel entry and
// an agent binary, given their content hashes.
func InitfsDerivation(kernelContent, agent store.Hash) *derive.Derivation {
	return &derive.Derivation{
		Version: derive.Version, Type: "initfs", Platform: initfsFormat,
		Inputs: []string{kernelContent.String(), agent.String()},
	}
}

// FindInitfs returns the initfs of kernel k for the agent binary at
// agentPath if the store has it, else store.ErrNotFound. It builds
// nothing.
func FindInitfs(st *store.Store, k *store.Entry, agentPath string) (*store.Entry, error) {
	agentHash, err := AgentHash(st.Home(), agentPath)
	if err != nil {
		return nil, err
	}
	return derive.Lookup(st, InitfsDerivation(k.ContentHash, agentHash))
}

// Initfs returns the initfs entry for kernel k and the agent binary at
// agentPath, building and adding it on first use.
func Initfs(st *store.Store, k *store.Entry, agentPath string) (*store.Entry, error) {
	agentHash, err := AgentHash(st.Home(), agentPath)
	if err != nil {
		return nil, err
	}
	d := InitfsDerivation(k.ContentHash, agentHash)
	e, err := derive.Realise(st, d, func(tmp string) (*derive.Output, error) {
		return buildInitfs(k, agentPath, agentHash, tmp)
	})
	if err != nil {
		return nil, err
	}
	if err := st.AddRoot(InitfsRoot, e.Name); err != nil {
		return nil, err
	}
	return e, nil
}

// buildInitfs writes the initfs of kernel k and the agent at agentPath
// into tmp.
func buildInitfs(k *store.Entry, agentPath string, agentHash store.Hash, tmp string) (*derive.Output, error) {
	agent, err := os.ReadFile(agentPath)
	if err != nil {
		return nil, fmt.Errorf("read the guest agent: %w", err)
	}
	if store.HashBytes(agent) != agentHash {
		return nil, fmt.Errorf("the guest agent %s changed while silo read it; retry", agentPath)
	}
	info, err := ReadInfo(k.Path)
	if err != nil {
		return nil, err
	}
	mods, err := loadStaged(k.Path, info)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := WriteInitfs(&buf, agent, mods); err != nil {
		return nil, err
	}
	out := &derive.Output{Path: filepath.Join(tmp, "initfs.cpio"), Name: "initfs-" + info.Release + ".cpio", Kind: store.KindInitfs, References: []string{k.Name}}
	if err := os.WriteFile(out.Path, buf.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("stage the initfs: %w", err)
	}
	return out, nil
}

// loadStaged reads a kernel entry's modules in load order.
func loadStaged(dir string, info *Info) ([]InitfsModule, error) {
	var mods []InitfsModule
	for i, name := range info.Modules {
		b, err := os.ReadFile(filepath.Join(dir, "modules", fmt.Sprintf("%02d-%s.ko", i, name)))
		if err != nil {
			return nil, fmt.Errorf("kernel entry %s: %w", filepath.Base(dir), err)
		}
		mods = append(mods, InitfsModule{Name: name, Data: b})
	}
	return mods, nil
}

// Runtime is what a VM boots: the vmlinux and the initfs, as files.
type Runtime struct {
	Kernel, Initfs *store.Entry
}

// Vmlinux is the path of the kernel image to boot.
func (r *Runtime) Vmlinux() string { return filepath.Join(r.Kernel.Path, "vmlinux") }

// Ensure returns the current kernel and the initfs for the agent binary
// at agentPath, importing and building what is missing.
func Ensure(st *store.Store, agentPath string) (*Runtime, error) {
	k, err := Current(st)
	if err != nil {
		return nil, err
	}
	i, err := Initfs(st, k, agentPath)
	if err != nil {
		return nil, err
	}
	return &Runtime{Kernel: k, Initfs: i}, nil
}
