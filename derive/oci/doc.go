// Package oci pulls OCI and Docker images into the store: manifests,
// configs and layer blobs, each verified against its digest while it
// streams, each stored once and shared by every image that names it.
//
// References are registry references (resolved with
// go-containerregistry, credentials from authn.DefaultKeychain: the docker
// config and its credential helpers), or local sources:
// oci-layout:DIR[:TAG], docker-archive:FILE and oci-archive:FILE[:TAG].
// Multi-arch indexes resolve to the manifest of the requested platform
// (default linux/GOARCH, what the sandboxes run).
//
// Pull fetches the layers the store does not have yet, Jobs at a time,
// retrying a download that breaks (a dropped connection, a short body) up
// to Attempts times from the start. A blob is committed to the store only
// once all of it has arrived and hashed to its digest, and its realisation
// ("oci:<digest>") is written after it, so a failed pull leaves no partial
// entry and no dangling realisation. The image entry, the resolution of
// the reference and its root are written last.
//
// Lookup answers from the store alone; List, Remove and ReadImage manage
// pulled images; OpenLayer reads a stored layer as a tar stream whatever
// its compression (gzip, zstd, none).
package oci
