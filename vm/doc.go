// Package vm is the boundary between silo and its sandbox backends: the
// Backend interface and the Spec a backend runs, the registry that builds
// every backend with one set of Options and selects one, and the host
// session (Attach) that every backend hands its connection to the guest
// agent: the spec's transfer, stdio, the terminal, signals, the proxy's
// and the SSH agent's streams, and the exit status.
//
// A backend boots what it is given. It says what it needs (Needs: an
// unpacked rootfs directory, or an ext4 image plus a kernel and an
// initfs); the caller (package sandbox) resolves those from the store and
// fills the Spec. No backend reads the environment, opens the store or
// finds silo's home on its own: Options carry the home, the agent binary,
// the timeouts and a kernel provider for work of the backend's own (the
// KVM probe). The backends register constructors from init (vm/namespace,
// vm/qemu, vm/vz); a binary links the ones it imports.
//
// vmtest is the contract every backend keeps, as a suite each backend's
// tests run in-process.
package vm
