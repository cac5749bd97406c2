package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/silo-dev/silo/vm"
	"github.com/silo-dev/silo/vm/kernel"
	"github.com/silo-dev/silo/vm/namespace"
	"github.com/silo-dev/silo/vm/qemu"
)

// DoctorCmd says which sandbox backends work here, and why.
type DoctorCmd struct {
	JSON    bool `help:"Print JSON."`
	NoProbe bool `name:"no-probe" help:"Do not boot a test VM to find out whether KVM works."`
}

// check is one line of the doctor's report.
type check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	State  string `json:"state"` // "ok", "fail", or "unknown" when the check could not decide
	Detail string `json:"detail"`
}

// undecided is a check's answer when it could not decide: the doctor
// reports it as unknown, with why, not as a failure.
type undecided struct{ why string }

func (u undecided) Error() string { return u.why }

// doctorReport is the doctor's whole answer.
type doctorReport struct {
	Checks   []check `json:"checks"`
	Selected string  `json:"selected,omitempty"`
	// Fallback: the automatic choice fell back from a VM to namespaces.
	Fallback bool   `json:"fallback,omitempty"`
	Reason   string `json:"reason"`
}

// Run checks the host and prints the report. It exits 1 when no backend
// can run here.
func (c *DoctorCmd) Run(g *Globals) error {
	reg := g.backends()
	rep := &doctorReport{}
	add := func(name string, err error, ok string) {
		var u undecided
		switch {
		case errors.As(err, &u):
			rep.Checks = append(rep.Checks, check{name, false, "unknown", err.Error()})
		case err != nil:
			rep.Checks = append(rep.Checks, check{name, false, "fail", err.Error()})
		default:
			rep.Checks = append(rep.Checks, check{name, true, "ok", ok})
		}
	}
	add("bubblewrap", checkBwrap(), "bwrap made user, pid, net, ipc and uts namespaces")
	add("namespace backend", backendAvailable(reg, "namespace"), isolation(reg, "namespace"))
	limits := namespace.Limits()
	var lerr error
	if strings.HasPrefix(limits, "none") {
		lerr = errors.New(limits)
	}
	add("process limits", lerr, limits)
	if ok, detail := namespace.Describe(); ok {
		add("image owners", nil, detail)
	} else {
		add("image owners", errors.New(detail), "")
	}
	qv, qerr := qemuVersion(reg)
	add("qemu", qerr, qv)
	kinfo, kerr := c.runtimeChecks(g, add)
	switch {
	case qerr == nil && kerr == nil:
		c.kvmCheck(reg, kinfo, add)
	case qemu.KVMDevice() != nil:
		add("kvm", fmt.Errorf("%v: VMs run under TCG emulation (slower)", qemu.KVMDevice()), "")
	case kerr != nil:
		add("kvm", undecided{"/dev/kvm opens, but whether it can run a kernel is unknown until one is imported (silo runtime import-kernel)"}, "")
	default:
		add("kvm", undecided{"/dev/kvm opens, but whether it can run a kernel is unknown without QEMU"}, "")
	}
	add("qemu backend", backendAvailable(reg, "qemu"), "runs micro-VMs (under TCG unless KVM works)")
	if st, err := g.OpenStore(); err == nil {
		detail, ok := caCheck(st, hostCABundle())
		st.Close()
		if ok {
			add("host CAs", nil, detail)
		} else {
			add("host CAs", errors.New(detail), "")
		}
	}
	b, reason, err := reg.Select(g.Backend)
	if err != nil {
		rep.Reason = err.Error()
	} else {
		rep.Selected, rep.Reason = b.Name(), reason
		rep.Fallback = reg.SharedKernelFallback(g.Backend, b)
	}
	return c.print(rep)
}

func (c *DoctorCmd) print(rep *doctorReport) error {
	if c.JSON {
		if err := printJSON(os.Stdout, rep); err != nil {
			return err
		}
	} else {
		for _, ch := range rep.Checks {
			mark := map[string]string{"ok": "ok", "fail": "FAIL", "unknown": "unknown"}[ch.State]
			fmt.Printf("%-7s  %-18s %s\n", mark, ch.Name, ch.Detail)
		}
		if rep.Selected != "" {
			fmt.Printf("\nsilo run uses: %s (%s)\n", rep.Selected, rep.Reason)
			if rep.Fallback {
				fmt.Printf("note: %s\n", fallbackText("see the checks above"))
			}
		} else {
			fmt.Printf("\nno sandbox backend can run here: %s\n", rep.Reason)
		}
	}
	if rep.Selected == "" {
		return &ExitError{Code: 1}
	}
	return nil
}

// checkBwrap makes a throwaway bwrap sandbox with every namespace silo
// uses: the real test, not a guess from sysctls.
func checkBwrap() error {
	p, err := exec.LookPath("bwrap")
	if err != nil {
		return errors.New("bwrap not found: apt-get install bubblewrap")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, p, "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
		"--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("bwrap cannot make namespaces here: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

func backendAvailable(reg *vm.Registry, name string) error {
	b, err := reg.Lookup(name)
	if err != nil {
		return err
	}
	return b.Available()
}

func isolation(reg *vm.Registry, name string) string {
	b, err := reg.Lookup(name)
	if err != nil {
		return ""
	}
	if d, ok := b.(vm.Describer); ok {
		return d.Isolation()
	}
	return "available"
}

func qemuVersion(reg *vm.Registry) (string, error) {
	b, err := qemuBackend(reg)
	if err != nil {
		return "", err
	}
	bin, err := b.Binary()
	if err != nil {
		return "", err
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", bin, err)
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return bin + ": " + first, nil
}

// runtimeChecks reports the kernel, agent and initfs, and returns the
// kernel and initfs paths when both are ready.
func (c *DoctorCmd) runtimeChecks(g *Globals, add func(string, error, string)) ([2]string, error) {
	var none [2]string
	exe := g.agent
	b, err := os.ReadFile(exe)
	if err == nil {
		err = kernel.CheckStatic(b)
	}
	add("guest agent", err, exe+" is static: it boots as the VM's init")
	if err != nil {
		return none, err
	}
	st, err := g.OpenStore()
	if err != nil {
		add("kernel", err, "")
		return none, err
	}
	defer st.Close()
	k, err := kernel.Current(st)
	if err != nil {
		add("kernel", err, "")
		return none, err
	}
	add("kernel", nil, k.Name)
	i, err := kernel.Initfs(st, k, exe)
	if err != nil {
		add("initfs", err, "")
		return none, err
	}
	add("initfs", nil, i.Name)
	rt := kernel.Runtime{Kernel: k, Initfs: i}
	return [2]string{rt.Vmlinux(), i.Path}, nil
}

// kvmCheck reports whether KVM really works, probing once if asked.
func (c *DoctorCmd) kvmCheck(reg *vm.Registry, rt [2]string, add func(string, error, string)) {
	b, err := qemuBackend(reg)
	if err != nil {
		add("kvm", err, "")
		return
	}
	var st *qemu.KVMStatus
	if c.NoProbe {
		st = b.CachedKVM()
		if st == nil {
			add("kvm", undecided{"not probed yet (run silo doctor without --no-probe)"}, "")
			return
		}
	} else {
		var err error
		if st, err = b.KVM(context.Background(), rt[0], rt[1]); err != nil {
			add("kvm", undecided{"the probe could not run: " + err.Error()}, "")
			return
		}
	}
	if !st.Usable {
		add("kvm", fmt.Errorf("%s: VMs run under TCG emulation (slower)", st.Reason), "")
		return
	}
	add("kvm", nil, st.Reason)
}

// qemuBackend is the registry's qemu backend.
func qemuBackend(reg *vm.Registry) (*qemu.Backend, error) {
	b, err := reg.Lookup("qemu")
	if err != nil {
		return nil, err
	}
	q, ok := b.(*qemu.Backend)
	if !ok {
		return nil, fmt.Errorf("the qemu backend is not QEMU's")
	}
	return q, nil
}
