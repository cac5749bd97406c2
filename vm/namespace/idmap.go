package namespace

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync"

	"github.com/silo-dev/silo/vm"
)

// The sandbox's ids.
//
// bwrap on its own maps the invoking user to root in the sandbox and no
// other id, so an image's files owned by anyone else (the spec's owner
// table) could only show as nobody. Where a run has such files and silo
// can map a range of ids, bwrap is started with --userns-block-fd and
// --info-fd: it makes the user namespace and waits while silo writes the
// maps, then goes on. silo can map a range
//
//   - as root: ids 0 to 65535 inside are the same ids outside, as a
//     rootful container's are;
//   - as a user with a subordinate range in /etc/subuid and /etc/subgid
//     (useradd gives every new user one) and the setuid helpers
//     newuidmap and newgidmap (Debian's uidmap package): the user is root
//     inside, and ids 1 to the range's size are the range, as under
//     rootless podman.
//
// Otherwise, and for a run without such files, bwrap maps the user alone,
// as before. Inside, the command can still act only as root (the agent's
// seccomp rule): the other ids own the image's files and nothing else,
// so nothing the command writes to the project or a cache can end up
// owned, on the host, by one of the user's subordinate ids.

// rangeSize is how many ids (0 included) a mapped range covers at most.
const rangeSize = 65536

// idMapping is how silo maps a range of ids for this user, found once.
type idMapping struct {
	root                 bool      // write the maps directly
	uid, gid             int       // the user's own ids (root inside)
	subUID, subGID       [2]uint64 // first subordinate id, count
	newuidmap, newgidmap string
	why                  string // why no range can be mapped ("" if one can)
}

var (
	mappingOnce sync.Once
	mapping     idMapping
)

// hostMapping returns this user's idMapping.
func hostMapping() idMapping {
	mappingOnce.Do(func() { mapping = findMapping() })
	return mapping
}

// findMapping looks for what maps a range: root, or a subordinate range
// and the helpers to map it.
func findMapping() idMapping {
	m := idMapping{uid: os.Getuid(), gid: os.Getgid()}
	if m.uid == 0 {
		m.root = true
		return m
	}
	name := strconv.Itoa(m.uid)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	var err error
	if m.newuidmap, err = exec.LookPath("newuidmap"); err != nil {
		m.why = "newuidmap is not installed (Debian and Ubuntu: apt-get install uidmap)"
		return m
	}
	if m.newgidmap, err = exec.LookPath("newgidmap"); err != nil {
		m.why = "newgidmap is not installed (Debian and Ubuntu: apt-get install uidmap)"
		return m
	}
	if m.subUID, err = subRange("/etc/subuid", name, m.uid); err != nil {
		m.why = err.Error()
		return m
	}
	if m.subGID, err = subRange("/etc/subgid", name, m.uid); err != nil {
		m.why = err.Error()
	}
	return m
}

// subRange returns the first subordinate range of the user (by name or
// uid) in file, capped to rangeSize-1 ids.
func subRange(file, name string, uid int) ([2]uint64, error) {
	f, err := os.Open(file)
	if err != nil {
		return [2]uint64{}, fmt.Errorf("%s has no range for %s (%v); add one: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s", file, name, errors.Unwrap(err), name)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(fl) != 3 || (fl[0] != name && fl[0] != strconv.Itoa(uid)) {
			continue
		}
		first, err1 := strconv.ParseUint(fl[1], 10, 32)
		n, err2 := strconv.ParseUint(fl[2], 10, 32)
		if err1 == nil && err2 == nil && n > 0 {
			return [2]uint64{first, min(n, rangeSize-1)}, nil
		}
	}
	return [2]uint64{}, fmt.Errorf("%s has no range for %s; add one: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s", file, name, name)
}

// ranged reports whether runs map a range of ids.
func (m idMapping) ranged() bool { return m.why == "" }

// Describe says how the sandbox maps ids here, for silo doctor: a range
// (and so the image's owners are shown), or why not and what to do.
func Describe() (ok bool, detail string) {
	m := hostMapping()
	switch {
	case m.root:
		return true, "ids 0-65535 map to the same ids (silo runs as root)"
	case m.ranged():
		return true, fmt.Sprintf("root maps to uid %d, ids 1-%d to subordinate ids %d-%d (newuidmap)", m.uid, m.subUID[1], m.subUID[0], m.subUID[0]+m.subUID[1]-1)
	}
	return false, "only root is mapped, so files the image gives to other users show as root's: " + m.why
}

// writeMaps maps ids in the user namespace of the blocked bwrap child
// pid: the range when one can be mapped, else the user alone (what bwrap
// itself would have written).
func (m idMapping) writeMaps(pid int) error {
	p := strconv.Itoa(pid)
	if m.root {
		// Root of a user namespace that maps fewer ids (silo in a rootless
		// container) cannot map the range: root alone, as bwrap would.
		for _, f := range []string{"uid_map", "gid_map"} {
			path := "/proc/" + p + "/" + f
			if os.WriteFile(path, fmt.Appendf(nil, "0 0 %d\n", rangeSize), 0) != nil {
				if err := os.WriteFile(path, []byte("0 0 1\n"), 0); err != nil {
					return fmt.Errorf("write the sandbox's %s: %w", f, err)
				}
			}
		}
		return nil
	}
	u := []string{p, "0", strconv.Itoa(m.uid), "1", "1", strconv.FormatUint(m.subUID[0], 10), strconv.FormatUint(m.subUID[1], 10)}
	g := []string{p, "0", strconv.Itoa(m.gid), "1", "1", strconv.FormatUint(m.subGID[0], 10), strconv.FormatUint(m.subGID[1], 10)}
	// A helper that refuses (not setuid, a range it does not accept)
	// leaves that map to the user alone: the run goes on as without a
	// range, and silo doctor says why.
	if exec.Command(m.newuidmap, u...).Run() != nil {
		if err := os.WriteFile("/proc/"+p+"/uid_map", fmt.Appendf(nil, "0 %d 1\n", m.uid), 0); err != nil {
			return fmt.Errorf("write the sandbox's uid map: %w", err)
		}
	}
	if exec.Command(m.newgidmap, g...).Run() != nil {
		_ = os.WriteFile("/proc/"+p+"/setgroups", []byte("deny"), 0)
		if err := os.WriteFile("/proc/"+p+"/gid_map", fmt.Appendf(nil, "0 %d 1\n", m.gid), 0); err != nil {
			return fmt.Errorf("write the sandbox's gid map: %w", err)
		}
	}
	return nil
}

// childPid reads bwrap's info (--info-fd) for the sandbox's first
// process.
func childPid(r io.Reader) (int, error) {
	var info struct {
		Pid int `json:"child-pid"`
	}
	if err := json.NewDecoder(r).Decode(&info); err != nil || info.Pid <= 0 {
		return 0, fmt.Errorf("read bwrap's child pid: %v", err)
	}
	return info.Pid, nil
}

// idPipes are the two pipes of a ranged start: bwrap blocks reading
// blockR (its --userns-block-fd) until silo has mapped the ids, and
// writes its child's pid to infoW (its --info-fd).
type idPipes struct {
	m              idMapping
	fd             int // bwrap's descriptor of blockR; infoW is fd+1
	blockR, blockW *os.File
	infoR, infoW   *os.File
}

// rangedStart returns the pipes of a start that maps a range of ids, bwrap's
// fd the first: nil for a run without owned files (which never asks how ids
// map here) or where no range can be mapped.
func rangedStart(spec *vm.Spec, fd int) (*idPipes, error) {
	if len(spec.Owners) == 0 {
		return nil, nil
	}
	if m := hostMapping(); m.ranged() {
		return newIDPipes(m, fd)
	}
	return nil, nil
}

// newIDPipes makes the pipes; bwrap gets blockR as fd and infoW as fd+1.
func newIDPipes(m idMapping, fd int) (*idPipes, error) {
	p := &idPipes{m: m, fd: fd}
	var err error
	if p.blockR, p.blockW, err = os.Pipe(); err != nil {
		return nil, fmt.Errorf("make bwrap's user namespace pipe: %w", err)
	}
	if p.infoR, p.infoW, err = os.Pipe(); err != nil {
		p.close()
		return nil, fmt.Errorf("make bwrap's info pipe: %w", err)
	}
	return p, nil
}

// args are bwrap's options for the pipes.
func (p *idPipes) args() []string {
	return []string{"--userns-block-fd", strconv.Itoa(p.fd), "--info-fd", strconv.Itoa(p.fd + 1)}
}

// mapIDs, once bwrap has started, maps the ids of its user namespace and
// lets it go on.
func (p *idPipes) mapIDs() error {
	// bwrap has its own copies: with ours closed, a bwrap that dies early
	// ends the read.
	p.blockR.Close()
	p.infoW.Close()
	pid, err := childPid(p.infoR)
	if err != nil {
		return err
	}
	if err := p.m.writeMaps(pid); err != nil {
		return fmt.Errorf("map the sandbox's ids: %w", err)
	}
	if _, err := p.blockW.Write([]byte{1}); err != nil {
		return fmt.Errorf("start the sandbox: %w", err)
	}
	return nil
}

// close closes silo's ends of the pipes.
func (p *idPipes) close() {
	for _, f := range []*os.File{p.blockR, p.blockW, p.infoR, p.infoW} {
		if f != nil {
			f.Close()
		}
	}
}
