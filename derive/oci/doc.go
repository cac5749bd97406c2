// Package oci pulls OCI and Docker images into the store: manifests,
// configs and layer blobs, each verified against its digest while it
// streams, each stored once and shared by every image that names it.
//
// References are registry references (resolved with
// go-containerregistry, credentials from authn.DefaultKeychain: the docker
// config and its credential helpers), or local sources:
// oci-layout:DIR[:TAG], docker-archive:FILE and oci-archive:FILE[:TAG].
// Multi-arch indexes resolve to the manifest of the requested platform
// (default linux/GOARCH, what the sandboxes run); the image entry records
// the index's digest beside the manifest's (Image.Index), for silo.lock.
// A reference by manifest digest (a locked pull) names no index.
//
// Pull fetches the layers the store does not have yet, Jobs at a time,
// retrying a download that breaks (a dropped connection, a short body) up
// to Attempts times from the start. A blob is committed to the store only
// once all of it has arrived and hashed to its digest, and its realisation
// ("oci:<digest>") is written after it, so a failed pull leaves no partial
// entry and no dangling realisation. The image entry, the resolution of
// the reference and its root are written last.
//
// A registry is held to sizes and to progress (guard.go): a manifest or
// index over MaxManifestSize (4 MiB, as containerd) and a config over
// MaxConfigSize (64 MiB) are refused with ErrTooLarge, by their declared
// size before anything is read, and cut off at the bound when the registry
// sends more than it declared. A transfer that receives less than 1 KiB in
// Options.IdleTimeout (default 30 s) is abandoned with an *IdleError naming
// the registry; a manifest, the config or a layer abandoned so is tried
// once more. The context cancels everything at once (Ctrl-C). Text that
// came from the registry or the image (error messages, platform fields) is
// escaped with internal/safetext before it is part of an error.
//
// Before the image is recorded, the headers of every layer are read
// (rootfs.CheckLayer) and each layer's uncompressed stream is checked
// against its diff ID: an image that could never be assembled safely fails
// its pull, not its first run.
//
// A local source pulled with Options.RegisterTags (what `silo image pull`
// does) is also recorded under the registry references it was saved as: a
// docker-archive's RepoTags, an OCI layout's io.containerd.image.name and
// org.opencontainers.image.ref.name when they are whole references. So
// `silo image pull docker-archive:python.tar` of an image saved as
// python:3.12-slim serves every tool whose image is python:3.12-slim,
// without a registry, as `docker load` does. A run never registers tags: a
// project naming a local image cannot redefine a registry reference.
//
// Lookup answers from the store alone; List, Remove and ReadImage manage
// pulled images; OpenLayer reads a stored layer as a tar stream whatever
// its compression (gzip, zstd, none).
package oci
