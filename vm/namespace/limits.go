package namespace

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/silo-dev/silo/vm"
)

// A namespace sandbox shares the host's kernel, and with it the host
// user's process allowance, memory and CPUs, so the backend bounds it.
// Where a cgroup v2 tree is delegated to the user (the cgroup silo runs
// in, or its parent, enables pids for its children and the user may
// create children there: a systemd user manager's slice, a scope or
// service with Delegate=yes, or root), each sandbox gets a child cgroup
// of its own, and bwrap starts inside it
// (clone3's CLONE_INTO_CGROUP, so nothing runs outside even for a moment):
// pids.max from maxProcesses, memory.max from memoryMB and cpu.max from
// cpus, for each controller that is enabled. On a host whose pids
// controller sits in a cgroup v1 hierarchy that the user may divide
// (root, on a hybrid host), pids.max goes into a child cgroup there,
// which bwrap joins before it starts (a shell writes itself into it and
// executes bwrap); memory and CPUs are bounded through cgroup v2 only.
// The cgroups are emptied and removed after the run, and those a killed
// silo left behind are removed by the next run. Elsewhere only the process count is bounded: the command runs
// under an RLIMIT_NPROC of maxProcesses (the agent's max-procs flag; see
// agent.Layout.MaxProcs), and CPUs and memory are not. The kernel exempts
// the host's root from RLIMIT_NPROC, so root gets no process bound
// without a cgroup; doctor says so.

// limits is how this host bounds a sandbox, found once.
type limits struct {
	cgroup string   // the delegated cgroup v2 directory to make children in; "" none
	ctrl   []string // the controllers enabled for its children
	v1     string   // else: the cgroup v1 pids directory to make children in
	why    string   // why there is no cgroup
}

var hostLimits = sync.OnceValue(findLimits)

// Limits says how this host bounds a namespace sandbox's processes,
// memory and CPUs: for silo doctor.
func Limits() string {
	l := hostLimits()
	switch {
	case l.cgroup != "":
		return fmt.Sprintf("cgroup v2 %s: %s per sandbox", l.cgroup, l.describe())
	case l.v1 != "":
		return fmt.Sprintf("cgroup v1 %s: maxProcesses per sandbox; cpus and memoryMB are not enforced: %s", l.v1, l.why)
	case os.Geteuid() == 0:
		return "none: root is exempt from RLIMIT_NPROC, and " + l.why
	}
	return "RLIMIT_NPROC per sandbox (maxProcesses); cpus and memoryMB are not enforced: " + l.why
}

// describe lists the limits the cgroup applies.
func (l limits) describe() string {
	var d []string
	for _, c := range [][2]string{{"pids", "maxProcesses"}, {"memory", "memoryMB"}, {"cpu", "cpus"}} {
		if slices.Contains(l.ctrl, c[0]) {
			d = append(d, c[1])
		}
	}
	return strings.Join(d, ", ")
}

// findLimits looks for a delegated cgroup v2 directory to make sandbox
// cgroups in: the process's own cgroup, where it may enable pids for its
// children (the root, or a cgroup without processes), or else its parent
// (a systemd user manager's app.slice, which the user owns, above the
// scope a terminal runs in), with pids enabled for its children and
// writable. Else the cgroup v1 pids hierarchy, else none.
func findLimits() limits {
	mnt, own, err := ownCgroup()
	if err != nil {
		return limits{v1: v1Pids(), why: err.Error()}
	}
	dirs := []string{own}
	if own != mnt {
		dirs = append(dirs, filepath.Dir(own))
	}
	for i, dir := range dirs {
		ctrl, cerr := subtreeControllers(dir)
		if cerr == nil && unix.Access(dir, unix.W_OK) != nil {
			cerr = fmt.Errorf("cgroup %s is not yours to divide (start silo in a delegated scope: systemd-run --user --scope -p Delegate=yes …)", dir)
		}
		if cerr == nil {
			return limits{cgroup: dir, ctrl: ctrl}
		}
		if i == 0 {
			err = cerr
		}
	}
	return limits{v1: v1Pids(), why: err.Error()}
}

// v1Pids finds this process's cgroup v1 directory of the pids
// controller, if it may divide it.
func v1Pids() string {
	mounts := map[string]string{} // controller -> mount point
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, super := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(super) < 3 || super[0] != "cgroup" || fields[3] != "/" {
			continue
		}
		for _, o := range strings.Split(super[2], ",") {
			mounts[o] = fields[4]
		}
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil || mounts["pids"] == "" {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && slices.Contains(strings.Split(parts[1], ","), "pids") {
			d := filepath.Join(mounts["pids"], parts[2])
			if unix.Access(d, unix.W_OK) == nil {
				return d
			}
		}
	}
	return ""
}

// ownCgroup is where the cgroup v2 hierarchy is mounted and the
// directory of this process's cgroup in it.
func ownCgroup() (mnt, dir string, err error) {
	mnt, err = cgroup2Mount()
	if err != nil {
		return "", "", err
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", "", fmt.Errorf("read /proc/self/cgroup: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rel, ok := strings.CutPrefix(line, "0::"); ok {
			return mnt, filepath.Join(mnt, rel), nil
		}
	}
	return "", "", errors.New("this process is in no cgroup v2")
}

// cgroup2Mount finds where the cgroup v2 hierarchy is mounted.
func cgroup2Mount() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("read /proc/self/mountinfo: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL…] - FSTYPE SOURCE SUPER
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields := strings.Fields(pre)
		if ok && len(fields) >= 5 && strings.HasPrefix(post, "cgroup2 ") {
			return fields[4], nil
		}
	}
	return "", errors.New("no cgroup v2 hierarchy is mounted")
}

// subtreeControllers returns the controllers enabled for dir's children,
// enabling pids, memory and cpu first where they are available and this
// process may (a cgroup with no process of its own, or the root). It
// fails unless pids is among them.
func subtreeControllers(dir string) ([]string, error) {
	avail, _ := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	for _, c := range []string{"pids", "memory", "cpu"} {
		if slices.Contains(strings.Fields(string(avail)), c) {
			_ = os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+"+c), 0)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, "cgroup.subtree_control"), err)
	}
	ctrl := strings.Fields(string(b))
	if !slices.Contains(ctrl, "pids") {
		return nil, fmt.Errorf("cgroup %s does not delegate the pids controller to its children (controllers available: %q)", dir, strings.TrimSpace(string(avail)))
	}
	return ctrl, nil
}

// sandboxCgroup is one sandbox's cgroup: its directory, in cgroup v2 or
// in the v1 pids hierarchy.
type sandboxCgroup struct {
	dirs []string
	fd   *os.File // v2: the directory, for CLONE_INTO_CGROUP
}

// newCgroup makes a sandbox's cgroup with spec's limits.
func (l limits) newCgroup(spec *vm.Spec) (*sandboxCgroup, error) {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := "silo-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(rnd[:])
	cg := &sandboxCgroup{}
	// controller -> parent directory, and the files and values to set.
	type limit struct{ ctrl, file, value string }
	lims := []limit{{"pids", "pids.max", strconv.Itoa(maxProcs(spec))}}
	if l.cgroup != "" {
		if spec.MemoryMB > 0 {
			lims = append(lims, limit{"memory", "memory.max", strconv.Itoa(spec.MemoryMB << 20)})
		}
		if spec.CPUs > 0 {
			lims = append(lims, limit{"cpu", "cpu.max", strconv.Itoa(spec.CPUs*100000) + " 100000"})
		}
	}
	parent := l.cgroup
	if parent == "" {
		parent = l.v1
	}
	sweepCgroups(parent)
	dir := filepath.Join(parent, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("make the sandbox's cgroup: %w", err)
	}
	cg.dirs = []string{dir}
	for _, lim := range lims {
		if l.cgroup != "" && !slices.Contains(l.ctrl, lim.ctrl) {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, lim.file), []byte(lim.value), 0); err != nil {
			cg.remove()
			return nil, fmt.Errorf("set the sandbox's %s to %s: %w", lim.file, lim.value, err)
		}
	}
	if l.cgroup != "" {
		fd, err := os.Open(cg.dirs[0])
		if err != nil {
			cg.remove()
			return nil, fmt.Errorf("open the sandbox's cgroup: %w", err)
		}
		cg.fd = fd
	}
	return cg, nil
}

// command returns the command that starts bwrap (bw, args) in the
// cgroup: bwrap itself, put there by clone3 (v2), or a shell that joins
// the v1 cgroup and executes bwrap.
func (cg *sandboxCgroup) command(bw string, args []string) *exec.Cmd {
	if cg.fd != nil {
		cmd := exec.Command(bw, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cg.fd.Fd())}
		return cmd
	}
	sh := []string{"-c", `while [ "$1" != -- ]; do echo 0 > "$1" || exit 125; shift; done; shift; exec "$@"`, "silo-cgroup"}
	for _, d := range cg.dirs {
		sh = append(sh, filepath.Join(d, "cgroup.procs"))
	}
	cmd := exec.Command("/bin/sh", append(append(sh, "--", bw), args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	return cmd
}

// remove kills what is left in the cgroup and removes it.
func (cg *sandboxCgroup) remove() {
	if cg.fd != nil {
		cg.fd.Close()
	}
	for _, d := range cg.dirs {
		if os.WriteFile(filepath.Join(d, "cgroup.kill"), []byte("1"), 0) != nil {
			killAll(d)
		}
		// The killed processes are still being reaped: retry, soon at first
		// (a run's end waits for this), then every 20 ms, for about 2 s.
		wait := 250 * time.Microsecond
		for i := 0; i < 110; i++ {
			if err := unix.Rmdir(d); err == nil || errors.Is(err, unix.ENOENT) {
				break
			}
			time.Sleep(wait)
			wait = min(2*wait, 20*time.Millisecond)
			killAll(d)
		}
	}
}

// killAll kills the processes a cgroup v1 directory lists (never this
// one: silo does not join it).
func killAll(dir string) {
	b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
}

// maxProcs is the sandbox's bound on processes.
func maxProcs(spec *vm.Spec) int {
	if spec.MaxProcesses > 0 {
		return spec.MaxProcesses
	}
	return DefaultMaxProcesses
}

// DefaultMaxProcesses bounds a sandbox whose spec sets no MaxProcesses.
const DefaultMaxProcesses = 2048

// sweepCgroups removes the sandbox cgroups in parent that a silo process
// which died (killed before its cleanup) left behind.
func sweepCgroups(parent string) {
	dirs, _ := filepath.Glob(filepath.Join(parent, "silo-*-*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.Split(filepath.Base(d), "-")[1])
		if err != nil || pid == os.Getpid() || !errors.Is(unix.Kill(pid, 0), unix.ESRCH) {
			continue
		}
		(&sandboxCgroup{dirs: []string{d}}).remove()
	}
}
