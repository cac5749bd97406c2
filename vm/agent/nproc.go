//go:build linux

package agent

import (
	"debug/elf"
	"fmt"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// Linux has no way to set another process's resource limits before it
// runs, and Go's os.StartProcess none to set them between fork and exec;
// setting RLIMIT_NPROC on the agent would bind the agent too (its hard
// limit cannot be raised again without CAP_SYS_RESOURCE in the host's
// namespace). So the command is started through the agent's own binary,
// re-executed as a stub that lowers its limit and then executes the
// command in its place: the command and all it starts inherit the limit,
// and no process of the sandbox runs unlimited but the agent.
//
// On the host's kernel the stub starts the command even without a limit
// (0): the agent's child holds copies of the agent's descriptors until
// its exec completes, /dev/fuse among them, and a child executing a
// workspace file through the agent's own FUSE filter when the agent dies
// would wait for an answer that never comes, holding the connection
// open, unkillable, on the host. The stub executes from the agent's
// binary, outside the filter, and holds no descriptor of the agent's
// when it executes the command.

// A dynamically linked agent (a build without CGO_ENABLED=0) cannot be
// executed again once the sandbox's root replaced the host's: its ELF
// interpreter is gone. It starts the command directly, and so without
// the limit; make build's agents are static.

// selfStatic reports whether the agent's own binary needs no ELF
// interpreter, and so can run as the stub.
var selfStatic = sync.OnceValue(func() bool {
	f, err := elf.Open("/proc/self/exe")
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
})

// nprocStub is the stub's first argument: /proc/self/exe nprocStub N
// PATH ARGV…
const nprocStub = "__silo-nproc"

func init() {
	if len(os.Args) >= 5 && os.Args[1] == nprocStub {
		runNprocStub(os.Args[2], os.Args[3], os.Args[4:])
	}
}

// nprocArgv wraps argv0 and argv in the stub that runs them under an
// RLIMIT_NPROC of n (0: unchanged).
func nprocArgv(n int, argv0 string, argv []string) (string, []string) {
	return "/proc/self/exe", append([]string{"silo-nproc", nprocStub, strconv.Itoa(n), argv0}, argv...)
}

// runNprocStub sets RLIMIT_NPROC to n, unless 0, and executes path with
// argv in its place; it never returns.
func runNprocStub(n, path string, argv []string) {
	v, err := strconv.ParseUint(n, 10, 64)
	if err == nil && v > 0 {
		err = unix.Setrlimit(unix.RLIMIT_NPROC, &unix.Rlimit{Cur: v, Max: v})
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "silo: limit the sandbox's processes to %s: %v\n", n, err)
		os.Exit(126)
	}
	err = unix.Exec(path, argv, os.Environ())
	fmt.Fprintf(os.Stderr, "silo: %s: %v\n", argv[0], err)
	os.Exit(126)
}
