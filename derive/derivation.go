package derive

import (
	"encoding/json"
	"fmt"

	"github.com/silo-dev/silo/store"
)

// Version is the format version of every derivation silo writes. Bump it
// when the way outputs are built changes, so old outputs are not reused.
const Version = 4

// Derivation is the canonical description of how a store entry is made.
// Its Hash addresses the output before the output exists. It holds no
// maps (JSON field order is the struct's, fixed) and no host paths, so the
// same inputs hash the same on every host.
type Derivation struct {
	Version  int    `json:"version"`
	Type     string `json:"type"`     // "rootfs", "initfs", "step"
	Platform string `json:"platform"` // "linux/amd64"
	// Layers are the OCI digests of the layer blobs, bottom first.
	Layers []string `json:"layers"`
	// Format is the output's form: "ext4" or "dir".
	Format string `json:"format"`
	// SizeMB is the size policy: 0 for a compact image sized to its
	// content, else the most megabytes the image may take.
	SizeMB int64 `json:"sizeMB"`
	// Parents are the hashes of the derivations this one builds on (setup
	// steps stack on a base rootfs); empty for an image's rootfs.
	Parents []string `json:"parents,omitempty"`
	// Inputs are the content hashes of the other entries and files the
	// output is made from, in a fixed order the type defines (an initfs:
	// the kernel entry, then the agent binary).
	Inputs []string `json:"inputs,omitempty"`
	// Argv, Env and Network are a build step's command, the environment
	// it ran with and its network policy (canonical text); empty for
	// other types.
	Argv    []string `json:"argv,omitempty"`
	Env     []string `json:"env,omitempty"`
	Network string   `json:"network,omitempty"`
}

// Canonical is the byte string Hash hashes.
func (d *Derivation) Canonical() []byte {
	b, err := json.Marshal(d)
	if err != nil { // a struct of strings and ints always marshals
		panic(fmt.Sprintf("marshal derivation: %v", err))
	}
	return b
}

// Hash is the blake3 of "silo-derivation\x00" and the canonical bytes.
func (d *Derivation) Hash() store.Hash {
	return store.HashBytes(append([]byte("silo-derivation\x00"), d.Canonical()...))
}
