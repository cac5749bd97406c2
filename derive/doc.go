// Package derive describes how store entries are made and makes them.
//
// A derivation is a small, canonically serialized description of an
// entry's inputs (image digest and platform, setup steps, parents); its
// blake3 hash addresses the output before the output exists. Realising a
// derivation builds the output into the store, or finds it already there.
//
// # Derivations
//
// Derivation is a struct of strings and integers serialized as JSON in
// field order (no maps, so no undefined order; no host paths), prefixed
// with "silo-derivation\x00" and hashed with blake3. Version is bumped
// whenever outputs would be built differently. A rootfs derivation holds
// the ordered layer digests, the platform, the format ("ext4" or "dir")
// and the size policy; Parents is for setup steps that stack on it.
//
// # The API the runtime calls
//
//	res, err := derive.Rootfs(ctx, st, ref, derive.RootfsOptions{
//		Format:   derive.FormatExt4, // or FormatDir, or both
//		Platform: nil,               // default linux/GOARCH
//		SizeMB:   0,                 // 0: compact ext4 (read-only lower layer)
//		Pull:     false,             // true: ask the registry again
//		OCI:      oci.Options{Progress: p},
//		Progress: sp,                // store.Progress: each assembly, its bytes written
//	})
//	res.Ext4.Path   // ext4 image entry (VM backends), kind rootfs
//	res.Dir.Path    // unpacked directory entry (namespace backend)
//	res.Config()    // v1.Config: Env, Entrypoint, Cmd, WorkingDir, User
//	res.Image       // *oci.Image: digest, platform, layers
//
// Only the forms asked for are built. A warm call touches no registry: the
// reference's last resolution is a store realisation
// ("ref:<canonical ref>@<platform>", and "image:<digest>@<platform>" for
// digest references), written by every pull; the rootfs is found by its
// derivation hash (Store.ByDeriver). A reference never pulled is pulled
// on first use. An oci-layout:DIR reference is the exception that costs a
// file read: its index.json is read on every call (oci.Rebuilt), and a
// layout rebuilt in place since its last pull is pulled again. Every entry returned is held by the store handle's
// temporary root until the handle is closed.
//
// # Store entries
//
//   - layer: each layer blob exactly as the registry served it (verified
//     against its OCI digest while it streamed), realisation
//     "oci:<digest>"; shared by every image that names it.
//   - manifest, config: the raw blobs, realisation "oci:<digest>".
//   - image: a small JSON document (oci.Image) referencing the manifest,
//     config and layer entries; rooted by a direct root "image-<ref>-<hash>"
//     so GC keeps pulled images; `silo image rm` removes that root.
//   - rootfs: the ext4 image or directory, derivation-addressed,
//     rebuildable, referencing its layers.
//   - layer (a build step's): the normalized, uncompressed OCI layer tar
//     the agent captured, derivation-addressed by the step's derivation,
//     annotated with its sha256 diff ID ("oci.diffID").
//
// # Build steps
//
// A step derivation (StepDerivation, Type "step", Format "layer") holds
// the platform, its parent in Parents ("image:<manifest digest>" for the
// first step, else the derivation hash of the step below), Argv, Env (the
// tool's variables and SOURCE_DATE_EPOCH, sorted), Network (the policy it
// ran with, as text) and Inputs ("path=hash", sorted). RealiseStep finds
// its layer or has the caller's run write it (WriteLayer hashes it on the
// way) and adds it through Realise; a failed run adds nothing.
// RebuildStep runs a step again whatever the store holds (silo rebuild)
// and makes what it wrote the derivation's output: the same bytes keep
// the stored entry; other bytes are a new entry under the same
// derivation (named by its diff ID), which Store.ByDeriver returns from
// then on, beside the earlier ones, which stay while a root holds them.
// LookupStep finds a step's output by the diff ID a lock pins.
// StepRootfs assembles the rootfs of an image with steps' layers on top
// (StepRootfsDerivation: the image's layer digests followed by the steps'
// diff IDs), and RootfsOptions.Steps does the same for Rootfs.
// RootfsOptions.Digest pins the image to a manifest digest (silo.lock):
// looked up by digest, pulled by digest, never by a moved tag. An image
// whose reference named an index carries the index's digest (Image.Index),
// which the lock keeps beside the manifest digest; a pinned pull asks for
// the manifest, not the index.
// SourceDateEpoch is every step's SOURCE_DATE_EPOCH (1980-01-01).
//
// A directory rootfs entry carries its owner table (internal/owners) in
// the annotation OwnersAnnotation; Owners reads it (empty for an entry
// assembled before the table existed).
//
// Assembly itself (whiteouts, hardlinks, ownership without host root,
// reproducible ext4 bytes) lives in derive/rootfs; pulling in derive/oci.
package derive
