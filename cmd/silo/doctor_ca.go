package main

import (
	"crypto/sha256"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"

	"github.com/silo-dev/silo/store"
)

// imageCABundle is where Debian-style images keep their CA bundle.
const imageCABundle = "etc/ssl/certs/ca-certificates.crt"

// caCheck compares the host's CA bundle with the bundles of the images in
// the store (their unpacked rootfs entries). Certificates the host trusts
// and an image does not are what a TLS-inspecting proxy adds: every HTTPS
// client in that image's sandbox then fails until the tool has
// network.trustHostCAs = true. ok is false only then.
func caCheck(st *store.Store, hostBundle string) (detail string, ok bool) {
	if hostBundle == "" {
		return "no host CA bundle found", true
	}
	host, err := certSet(hostBundle)
	if err != nil || len(host) == 0 {
		return "the host's CA bundle " + hostBundle + " holds no certificate", true
	}
	entries, err := st.List(store.Filter{Kind: store.KindRootfs})
	if err != nil {
		return err.Error(), true
	}
	for _, e := range entries {
		img, err := certSet(filepath.Join(e.Path, imageCABundle))
		if err != nil || len(img) == 0 {
			continue
		}
		if n := missing(host, img); n > 0 {
			return fmt.Sprintf("the host trusts %d certificate(s) that image %s does not (a TLS-inspecting proxy?): if HTTPS fails inside, set network.trustHostCAs = true for the tool", n, e.Name), false
		}
	}
	return "no image lacks a certificate the host trusts", true
}

// certSet is the set of the certificates in a PEM bundle, by hash.
func certSet(path string) (map[[32]byte]bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	set := map[[32]byte]bool{}
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			return set, nil
		}
		if blk.Type == "CERTIFICATE" {
			set[sha256.Sum256(blk.Bytes)] = true
		}
	}
}

// missing counts the certificates of host that img lacks.
func missing(host, img map[[32]byte]bool) int {
	n := 0
	for h := range host {
		if !img[h] {
			n++
		}
	}
	return n
}
