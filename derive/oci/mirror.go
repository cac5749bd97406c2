package oci

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
)

// mirrored is ref as fetched through mirror: a Docker Hub reference moves
// to the mirror's repository of the same name; any other is unchanged,
// as is every reference when mirror is "".
func mirrored(ref name.Reference, mirror string) (name.Reference, error) {
	if mirror == "" || ref.Context().RegistryStr() != name.DefaultRegistry {
		return ref, nil
	}
	sep := ":"
	if _, ok := ref.(name.Digest); ok {
		sep = "@"
	}
	m, err := name.ParseReference(mirror + "/" + ref.Context().RepositoryStr() + sep + ref.Identifier())
	if err != nil {
		return nil, fmt.Errorf("registry mirror %q: %w (SILO_REGISTRY_MIRROR is host[:port])", mirror, err)
	}
	return m, nil
}
