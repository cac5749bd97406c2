package sandbox

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/silo-dev/silo/derive"
	"github.com/silo-dev/silo/derive/oci"
	"github.com/silo-dev/silo/lock"
	"github.com/silo-dev/silo/store"
	"github.com/silo-dev/silo/vm"
	"github.com/silo-dev/silo/vm/kernel"
	"github.com/silo-dev/silo/vm/netproxy"
)

// Options are the host side of preparing and running a sandbox.
type Options struct {
	// Home is silo's home directory (the trust records of workspaces).
	Home string
	// Agent is the guest agent binary a VM's initfs holds.
	Agent string
	// Rootfs are the options of the pull and assembly a first run needs
	// (progress, transport); Format and MaxMB are the run's own.
	Rootfs derive.RootfsOptions
	// Events, when set, is told every decision of the network proxy
	// (netproxy.WithEvents): the command line prints and logs refusals.
	Events func(netproxy.Event)
}

// Sandbox is a prepared run: its spec complete, the store entries it boots
// held by the store handle's temporary root, its proxy listening. Run it
// once, then Close it.
type Sandbox struct {
	// Spec is the complete spec the backend runs.
	Spec *vm.Spec
	// Image is the image the rootfs was made from; Rootfs the rootfs
	// entry the backend boots.
	Image   *oci.Image
	Rootfs  *store.Entry
	backend vm.Backend
	home    string
	proxy   io.Closer
}

// Prepare resolves everything the backend boots from the one store st: the
// rootfs in the backend's form (pulled and assembled on first use), and
// the kernel and initfs for a backend that boots one, and for a backend
// that restores VMs (vm.Snapshotter) the memory snapshot of the spec's
// shape (made on first use). The entries stay
// held by st's temporary root until st is closed, so that a GC cannot take
// them during the run. It also makes the tool's cache directories and
// starts the network proxy.
func (p *Plan) Prepare(ctx context.Context, st *store.Store, b vm.Backend, o Options) (*Sandbox, error) {
	spec := p.Spec
	spec.Stdin, spec.Stdout, spec.Stderr = orEmpty(spec.Stdin), orDiscard(spec.Stdout), orDiscard(spec.Stderr)
	need := b.Needs()
	res, err := p.rootfs(ctx, st, need, o, &spec)
	if err != nil {
		return nil, err
	}
	c := res.Config()
	cfg := &imageConfig{Env: c.Env, Entrypoint: c.Entrypoint, Cmd: c.Cmd}
	var rt *kernel.Runtime
	if need.Kernel {
		if rt, err = kernel.Ensure(st, o.Agent); err != nil {
			return nil, err
		}
		spec.Kernel, spec.Initfs = rt.Vmlinux(), rt.Initfs.Path
	}
	env := p.env
	env.Image = cfg.Env
	spec.Env = ComposeEnv(env)
	if len(spec.Argv) == 0 {
		cmd := cfg.Cmd
		if len(p.ImageArgs) > 0 {
			cmd = p.ImageArgs
		}
		spec.Argv = append(append([]string(nil), cfg.Entrypoint...), cmd...)
	}
	if len(spec.Argv) == 0 {
		return nil, fmt.Errorf("no command to run, and image %s has none: give one after the image", p.Image)
	}
	if err := p.openCaches(&spec); err != nil {
		return nil, err
	}
	if rt != nil {
		useSnapshot(ctx, st, rt, b, &spec)
	}
	s := &Sandbox{Spec: &spec, backend: b, home: o.Home, Image: res.Image, Rootfs: res.Dir}
	if res.Dir == nil {
		s.Rootfs = res.Ext4
	}
	if p.Network.Enabled(p.Install) {
		name := "image"
		if p.Tool != nil {
			name = p.Tool.Name
		}
		opts := []netproxy.Option{netproxy.WithTool(name), netproxy.WithInstall(p.Install)}
		if o.Events != nil {
			opts = append(opts, netproxy.WithEvents(o.Events))
		}
		px := netproxy.New(p.Network, opts...)
		spec.Proxy, s.proxy = px, px
	}
	return s, nil
}

// rootfs finds (or pulls and builds) the rootfs of the plan's image in the
// form the backend boots, fills it into spec and returns the image's
// config.
func (p *Plan) rootfs(ctx context.Context, st *store.Store, need vm.Needs, o Options, spec *vm.Spec) (*derive.RootfsResult, error) {
	ro := o.Rootfs
	ro.Digest, ro.Steps = p.Digest, p.Steps
	ro.Format, ro.MaxMB, ro.MaxFiles = derive.FormatExt4, lock.DefaultRootfsSizeMB, p.maxFiles
	if p.warn != nil {
		ro.Notes = p.warn
	}
	if need.RootfsDir {
		ro.Format = derive.FormatDir
	}
	if spec.RootfsSizeMB > 0 {
		ro.MaxMB = int64(spec.RootfsSizeMB)
	}
	res, err := derive.Rootfs(ctx, st, p.Image, ro)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", p.Image, err)
	}
	if need.RootfsDir {
		spec.RootfsDir = res.Dir.Path
		if spec.Owners, err = derive.Owners(res.Dir); err != nil {
			return nil, err
		}
	} else {
		spec.RootfsImage = res.Ext4.Path
	}
	return res, nil
}

// imageConfig is what a run takes from the image's config.
type imageConfig struct {
	Env, Entrypoint, Cmd []string
}

// openCaches opens (making them) the tool's cache directories beneath
// $SILO_HOME/cache, following no symlink, for the backend to bind the
// directories opened rather than their paths (vm.OpenCacheDir): a link a
// sandbox left where a cache directory would be fails the run.
func (p *Plan) openCaches(spec *vm.Spec) error {
	spec.Mounts = slices.Clone(spec.Mounts) // the plan's own stay without descriptors
	for i, m := range spec.Mounts {
		var c *lock.Cache
		if p.Tool != nil {
			if j := slices.IndexFunc(p.Tool.Caches, func(c lock.Cache) bool { return c.Host == m.Host }); j >= 0 {
				c = &p.Tool.Caches[j]
			}
		}
		if c == nil {
			spec.CloseMounts()
			return fmt.Errorf("mount %s: %s is not a cache of the tool, and silo binds only those", m.Guest, m.Host)
		}
		dir, err := vm.OpenCacheDir(c.Root, c.Beneath())
		if err != nil {
			spec.CloseMounts()
			return fmt.Errorf("cache %s of tool %s: %w", c.Guest, p.Tool.Name, err)
		}
		spec.Mounts[i].Dir = dir
	}
	return nil
}

// Close stops the sandbox's proxy and closes its cache directories. The
// store entries stay held until the caller closes the store.
func (s *Sandbox) Close() error {
	s.Spec.CloseMounts()
	if s.proxy != nil {
		return s.proxy.Close()
	}
	return nil
}

func orEmpty(r io.Reader) io.Reader {
	if r == nil {
		return eof{}
	}
	return r
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// eof is a reader with nothing in it.
type eof struct{}

func (eof) Read([]byte) (int, error) { return 0, io.EOF }

// KernelRuntime returns the kernel and initfs VMs boot, from the store at
// home with the agent binary agent: what a backend's own work before a
// run (the KVM probe) boots. A run's kernel and initfs come from Prepare.
func KernelRuntime(home, agent string) vm.RuntimeFunc {
	return func(context.Context) (string, string, error) {
		st, err := store.Open(home)
		if err != nil {
			return "", "", err
		}
		defer st.Close()
		rt, err := kernel.Ensure(st, agent)
		if err != nil {
			return "", "", err
		}
		return rt.Vmlinux(), rt.Initfs.Path, nil
	}
}
