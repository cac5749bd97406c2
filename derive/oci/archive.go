package oci

import (
	"archive/tar"
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// unpackOCIArchive extracts an oci-archive (a tar of an OCI layout) into
// the empty directory dir. Only directories and regular files are taken,
// and only at paths inside the directory.
func unpackOCIArchive(file, dir string) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("open OCI archive: %w", err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read OCI archive %s: %w", file, err)
		}
		name := filepath.Clean(strings.TrimPrefix(h.Name, "./"))
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("OCI archive %s: entry %q is outside the archive", file, h.Name)
		}
		p := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeReg:
			err = writeFile(p, tr)
		default:
			err = fmt.Errorf("OCI archive %s: entry %q is not a file or directory", file, h.Name)
		}
		if err != nil {
			return err
		}
	}
}

func writeFile(p string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// OpenLayer opens a stored layer blob as an uncompressed tar stream. The
// compression (gzip, zstd or none) is read from the blob's first bytes,
// not trusted from the media type.
func OpenLayer(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(f, 1<<20)
	magic, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("layer %s: %w", path, err)
		}
		return &layerReader{Reader: zr, close: func() { zr.Close(); f.Close() }}, nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("layer %s: %w", path, err)
		}
		return &layerReader{Reader: zr, close: func() { zr.Close(); f.Close() }}, nil
	default:
		return &layerReader{Reader: br, close: func() { f.Close() }}, nil
	}
}

// OpenLayerVerified is OpenLayer that also checks the uncompressed stream
// against diffID, the digest the image's config lists for it: reading to
// the end of a stream that does not match is an error, so a layer blob
// that decompresses to something else than the image says is never
// unpacked. The reader must be read to its end for the check to happen.
func OpenLayerVerified(path, diffID string) (io.ReadCloser, error) {
	rc, err := OpenLayer(path)
	if err != nil {
		return nil, err
	}
	vr, err := newVerifyReader(rc, diffID, -1, nil)
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("layer %s: diff ID: %w", path, err)
	}
	return &layerReader{Reader: vr, close: func() { rc.Close() }}, nil
}

type layerReader struct {
	io.Reader
	close func()
}

func (l *layerReader) Close() error { l.close(); return nil }
