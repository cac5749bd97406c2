package oci

import (
	_ "crypto/sha256" // registers sha256 for go-digest
	_ "crypto/sha512" // registers sha384/sha512 for go-digest
	"errors"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
)

// ErrDigestMismatch is returned when a blob's bytes do not hash to the
// digest that names it.
var ErrDigestMismatch = errors.New("blob does not match its digest")

// verifyReader passes a blob through while hashing it, and turns the end
// of the stream into an error unless the size and the digest match. A store
// reading from it therefore never commits a bad blob.
type verifyReader struct {
	r      io.Reader
	dgst   digest.Digest
	v      digest.Verifier
	size   int64 // expected size, -1 if unknown
	n      int64
	onRead func(n int64) // total so far, for progress
}

func newVerifyReader(r io.Reader, d string, size int64, onRead func(int64)) (*verifyReader, error) {
	dg, err := digest.Parse(d)
	if err != nil {
		return nil, fmt.Errorf("digest %q: %w", d, err)
	}
	if !dg.Algorithm().Available() {
		return nil, fmt.Errorf("digest %s: unsupported algorithm", d)
	}
	return &verifyReader{r: r, dgst: dg, v: dg.Verifier(), size: size, onRead: onRead}, nil
}

func (vr *verifyReader) Read(p []byte) (int, error) {
	n, err := vr.r.Read(p)
	if n > 0 {
		vr.v.Write(p[:n])
		vr.n += int64(n)
		if vr.size >= 0 && vr.n > vr.size {
			return n, fmt.Errorf("blob %s: more than the %d bytes the manifest declares: %w", vr.dgst, vr.size, ErrDigestMismatch)
		}
		if vr.onRead != nil {
			vr.onRead(vr.n)
		}
	}
	if err != nil && err != io.EOF {
		// Wrapped so that no reader mistakes a transport's
		// io.ErrUnexpectedEOF for a clean end of the blob.
		return n, fmt.Errorf("blob %s: %w", vr.dgst, err)
	}
	if err == io.EOF {
		if vr.size >= 0 && vr.n != vr.size {
			return n, fmt.Errorf("blob %s: got %d bytes, the manifest declares %d: %w", vr.dgst, vr.n, vr.size, io.ErrUnexpectedEOF)
		}
		if !vr.v.Verified() {
			return n, fmt.Errorf("blob %s: %w (the source is corrupt or was tampered with)", vr.dgst, ErrDigestMismatch)
		}
	}
	return n, err
}

// verifyBytes checks a small blob held in memory.
func verifyBytes(b []byte, d string) error {
	dg, err := digest.Parse(d)
	if err != nil {
		return fmt.Errorf("digest %q: %w", d, err)
	}
	if dg.Algorithm().FromBytes(b) != dg {
		return fmt.Errorf("blob %s: %w", d, ErrDigestMismatch)
	}
	return nil
}
