package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/silo-dev/silo/store"
	"github.com/silo-dev/silo/vm/kernel"
	"github.com/silo-dev/silo/vm/qemu"
)

// RuntimeCmd manages the kernel and initfs entries VMs boot.
type RuntimeCmd struct {
	ImportKernel ImportKernelCmd  `cmd:"" name:"import-kernel" help:"Import a kernel (bzImage or vmlinux) and its modules as the kernel VMs boot."`
	Status       RuntimeStatusCmd `cmd:"" help:"Show the kernel and initfs VMs boot, and whether KVM works."`
	GC           RuntimeGCCmd     `cmd:"" name:"gc" help:"Remove kernels, initfs images and VM snapshots no longer in use (runs a store GC)."`
}

// ImportKernelCmd is `silo runtime import-kernel`.
type ImportKernelCmd struct {
	Image   string   `arg:"" optional:"" type:"existingfile" help:"The kernel: vmlinuz (xz, gzip or zstd bzImage) or a PVH vmlinux. Default: the host's /boot/vmlinuz-$(uname -r)."`
	Modules string   `type:"existingdir" help:"The kernel's modules directory (/lib/modules/<release>). Default: the host's, with the host's kernel." placeholder:"DIR"`
	Module  []string `help:"An extra module to put into the initfs (repeatable)." placeholder:"NAME"`
}

// Run imports the kernel and builds the initfs for this silo.
func (c *ImportKernelCmd) Run(g *Globals) error {
	o := kernel.ImportOptions{Image: c.Image, Modules: c.Modules, Extra: c.Module}
	if c.Image == "" {
		host, err := kernel.HostKernel()
		if err != nil {
			return fmt.Errorf("%w; pass a kernel: silo runtime import-kernel VMLINUZ --modules DIR", err)
		}
		o.Image, o.Modules = host.Image, host.Modules
	} else if c.Modules == "" {
		return errors.New("--modules DIR is required with a kernel image: the kernel's /lib/modules/<release> directory")
	}
	st, err := g.OpenStore()
	if err != nil {
		return err
	}
	defer st.Close()
	rtProgress(g, "importing %s …", o.Image)
	k, err := kernel.Import(st, o)
	if err != nil {
		return err
	}
	info, err := kernel.ReadInfo(k.Path)
	if err != nil {
		return err
	}
	i, err := kernel.Initfs(st, k, g.agent)
	if err != nil {
		return fmt.Errorf("kernel imported, but its initfs: %w", err)
	}
	if !g.Quiet {
		fmt.Printf("kernel  %s (%s, %d modules)\ninitfs  %s\n", k.Name, info.Compression, len(info.Modules), i.Name)
	}
	return nil
}

// rtProgress prints a progress line on a terminal, and nothing when piped.
func rtProgress(g *Globals, format string, args ...any) {
	if g.Quiet || !term.IsTerminal(int(os.Stderr.Fd())) {
		return
	}
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

// RuntimeStatusCmd is `silo runtime status`.
type RuntimeStatusCmd struct {
	JSON bool `help:"Print JSON."`
}

// runtimeStatus is what `silo runtime status` reports.
type runtimeStatus struct {
	Kernel  *kernelStatus     `json:"kernel"`
	Initfs  string            `json:"initfs,omitempty"` // for this silo; "" if not built yet
	KVM     *qemu.KVMStatus   `json:"kvm,omitempty"`
	Entries []runtimeEntryRow `json:"entries"`
}

type kernelStatus struct {
	Name    string   `json:"name"`
	Release string   `json:"release"`
	Modules []string `json:"modules"`
}

type runtimeEntryRow struct {
	Name     string     `json:"name"`
	Kind     store.Kind `json:"kind"`
	DiskSize int64      `json:"diskSize"`
	Current  bool       `json:"current"`
}

// Run prints the status.
func (c *RuntimeStatusCmd) Run(g *Globals) error {
	st, err := g.OpenStore()
	if err != nil {
		return err
	}
	defer st.Close()
	s, err := collectRuntimeStatus(g, st)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(os.Stdout, s)
	}
	printRuntimeStatus(s)
	return nil
}

func collectRuntimeStatus(g *Globals, st *store.Store) (*runtimeStatus, error) {
	s := &runtimeStatus{Entries: []runtimeEntryRow{}}
	if q, err := qemuBackend(g.backends()); err == nil {
		s.KVM = q.CachedKVM()
	}
	current := map[string]bool{}
	if k, err := st.Realisation(kernel.CurrentKernelKey); err == nil {
		info, err := kernel.ReadInfo(k.Path)
		if err != nil {
			return nil, err
		}
		s.Kernel = &kernelStatus{Name: k.Name, Release: info.Release, Modules: info.Modules}
		current[k.Name] = true
		if name, err := initfsFor(st, k, g.agent); err == nil {
			s.Initfs = name
			current[name] = true
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if err := currentSnapshots(st, current); err != nil {
		return nil, err
	}
	for _, kind := range []store.Kind{store.KindKernel, store.KindInitfs, store.KindSnapshot} {
		es, err := st.List(store.Filter{Kind: kind})
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			s.Entries = append(s.Entries, runtimeEntryRow{Name: e.Name, Kind: e.Kind, DiskSize: e.DiskSize, Current: current[e.Name]})
		}
	}
	return s, nil
}

// currentSnapshots marks the VM snapshots a root keeps for restoring.
func currentSnapshots(st *store.Store, current map[string]bool) error {
	roots, err := st.Roots()
	if err != nil {
		return err
	}
	for _, r := range roots {
		if r.Kind == store.RootDirect && strings.HasPrefix(r.Name, kernel.SnapshotRootPrefix) {
			for _, e := range r.Entries {
				current[e] = true
			}
		}
	}
	return nil
}

// initfsFor returns the name of the initfs of kernel k for the agent
// binary silo uses, if it was built.
func initfsFor(st *store.Store, k *store.Entry, agent string) (string, error) {
	e, err := kernel.FindInitfs(st, k, agent)
	if err != nil {
		return "", err
	}
	return e.Name, nil
}

func printRuntimeStatus(s *runtimeStatus) {
	if s.Kernel == nil {
		fmt.Println("kernel  none imported (silo runtime import-kernel, or the host's kernel is imported on first VM run)")
	} else {
		fmt.Printf("kernel  %s (%d modules)\n", s.Kernel.Name, len(s.Kernel.Modules))
	}
	switch {
	case s.Initfs != "":
		fmt.Printf("initfs  %s\n", s.Initfs)
	case s.Kernel != nil:
		fmt.Println("initfs  not built for this silo binary yet (built on the next VM run)")
	}
	if s.KVM == nil {
		fmt.Println("kvm     not probed yet (silo doctor probes it)")
	} else {
		fmt.Printf("kvm     usable=%v: %s\n", s.KVM.Usable, s.KVM.Reason)
	}
	if len(s.Entries) == 0 {
		return
	}
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tSIZE\tCURRENT\tENTRY")
	for _, e := range s.Entries {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", e.Kind, formatBytes(e.DiskSize), e.Current, e.Name)
	}
	tw.Flush()
}

// RuntimeGCCmd is `silo runtime gc`.
type RuntimeGCCmd struct {
	DryRun bool `help:"Say what would be removed; remove nothing."`
	JSON   bool `help:"Print JSON."`
}

// Run collects runtime entries no root keeps, after dropping the roots of
// VM snapshots no run restores any more (of an old kernel or initfs, or
// found broken). The store has one GC: any other unrooted entry goes too,
// and is listed.
func (c *RuntimeGCCmd) Run(g *Globals) error {
	st, err := g.OpenStore()
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := collect(g, st, store.GCOptions{DryRun: c.DryRun})
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(os.Stdout, rep)
	}
	verb := "removed"
	if c.DryRun {
		verb = "would remove"
	}
	for _, it := range rep.Removed {
		fmt.Printf("%s %s (%s, %s)\n", verb, it.Name, it.Kind, formatBytes(it.DiskSize))
	}
	if !g.Quiet {
		fmt.Printf("%s %d entries, %s\n", verb, len(rep.Removed), formatBytes(rep.Freed))
	}
	return nil
}
