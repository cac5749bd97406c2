// Package store holds silo's immutable, blake3-addressed entries: image
// layers, root filesystems, setup results, kernels and initfs images.
//
// The store knows nothing of OCI, virtual machines or TOML. It keeps bytes
// and trees, their metadata, the roots that keep them alive, and it
// collects what no root reaches.
package store
