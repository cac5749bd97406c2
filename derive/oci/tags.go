package oci

import (
	"fmt"
	"io"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/silo-dev/silo/store"
)

// layoutTags are the whole registry references an OCI layout's descriptor
// names its image by: containerd's io.containerd.image.name, and
// org.opencontainers.image.ref.name when it is a reference ("python:3.12",
// "ghcr.io/o/r:1") rather than a bare tag ("latest").
func layoutTags(d *v1.Descriptor) []string {
	var out []string
	for _, k := range []string{"io.containerd.image.name", "org.opencontainers.image.ref.name"} {
		if v := d.Annotations[k]; strings.ContainsAny(v, ":/") {
			out = append(out, v)
		}
	}
	return out
}

// archiveTags are the RepoTags of the image a docker-archive holds: the
// one tag asked for, or all tags of its only image.
func archiveTags(path, tag string) []string {
	if tag != "" {
		return []string{tag}
	}
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(path) })
	if err != nil || len(m) != 1 {
		return nil
	}
	return m[0].RepoTags
}

// registerTags records the image entry (digest dgst, for p) under each of
// tags that is a registry reference, as a pull of that reference would,
// and returns the canonical references it recorded.
func registerTags(st *store.Store, tags []string, p v1.Platform, dgst, entry string) ([]string, error) {
	var out []string
	for _, t := range tags {
		r, err := ParseReference(t)
		if err != nil || r.Transport != Registry {
			continue // not a reference: nothing a tool could name
		}
		if err := record(st, r, p, dgst, entry); err != nil {
			return out, fmt.Errorf("register the image as %s: %w", r, err)
		}
		out = append(out, r.String())
	}
	return out, nil
}
