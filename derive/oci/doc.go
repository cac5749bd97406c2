// Package oci pulls OCI and Docker images into the store: manifests,
// configs and layer blobs, each verified against its digest while it
// streams, each stored once and shared by every image that names it.
package oci
