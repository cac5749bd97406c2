// Package vm is the boundary between silo and its sandbox backends: the
// Backend interface and the Spec a backend runs, the guest layout every
// backend gives (DefaultWorkdir, GuestHome, DefaultPath), and the registry
// that builds every backend with one set of Options and selects one. The
// host session that every backend hands its connection to the guest agent
// is package vm/session; the policy that fills a Spec (protected names,
// the environment) is package sandbox's.
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
