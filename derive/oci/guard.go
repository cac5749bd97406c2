package oci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/silo-dev/silo/internal/safetext"
)

// Bounds on what a registry may make silo read into memory. Real images are
// far below them: containerd refuses manifests over 4 MiB, and image
// configs are kilobytes.
const (
	MaxManifestSize = 4 << 20  // a manifest or an index
	MaxConfigSize   = 64 << 20 // an image config
)

// DefaultIdleTimeout is how long a registry transfer may make no progress
// before it is abandoned (Options.IdleTimeout).
const DefaultIdleTimeout = 30 * time.Second

// minProgress is what a transfer must receive within each idle period to
// count as progressing: a registry that trickles a byte now and then is
// as stuck as one that sends nothing.
const minProgress = 1 << 10

// ErrTooLarge is returned for a manifest, index or config larger than
// MaxManifestSize or MaxConfigSize, declared or sent.
var ErrTooLarge = errors.New("larger than any real image's")

// IdleError is a registry transfer abandoned for want of progress.
type IdleError struct {
	Registry string        // host[:port]
	Path     string        // the URL path being fetched
	Idle     time.Duration // the idle timeout
}

func (e *IdleError) Error() string {
	return fmt.Sprintf("registry %s sent less than %d bytes in %s while serving %s: the registry or the network is stuck (try again later, or load the image from a file with `silo image pull docker-archive:FILE`)",
		safetext.Escape(e.Registry), minProgress, e.Idle, safetext.Escape(e.Path))
}

// guard is the HTTP transport under every registry request: it abandons
// transfers that make no progress, and reads manifests (bounded, and
// retried once when idle) before go-containerregistry sees them.
type guard struct {
	base http.RoundTripper
	idle time.Duration
}

func newGuard(base http.RoundTripper, idle time.Duration) *guard {
	if base == nil {
		base = remote.DefaultTransport
	}
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	return &guard{base: base, idle: idle}
}

// RoundTrip sends req; a manifest's body comes back read and bounded.
func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || !strings.Contains(req.URL.Path, "/manifests/") {
		return g.send(req)
	}
	resp, err := g.manifest(req)
	var idle *IdleError
	if errors.As(err, &idle) && req.Context().Err() == nil {
		resp, err = g.manifest(req) // once more, then give up
	}
	return resp, err
}

// manifest fetches a manifest whole, refusing one over MaxManifestSize by
// its Content-Length before reading, or as soon as it passes the bound.
func (g *guard) manifest(req *http.Request) (*http.Response, error) {
	resp, err := g.send(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	defer resp.Body.Close()
	what := "the manifest " + safetext.Escape(req.URL.Host+req.URL.Path)
	if resp.ContentLength > MaxManifestSize {
		return nil, fmt.Errorf("%s is %d bytes, %w (at most %d MiB): refusing it", what, resp.ContentLength, ErrTooLarge, MaxManifestSize>>20)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxManifestSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxManifestSize {
		return nil, fmt.Errorf("%s is more than %d MiB, %w: refusing it", what, MaxManifestSize>>20, ErrTooLarge)
	}
	resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	return resp, nil
}

// send does one request, abandoning it when it makes no progress for the
// idle period: neither the response headers nor minProgress bytes of the
// body arrive.
func (g *guard) send(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	idleErr := &IdleError{Registry: req.URL.Host, Path: req.URL.Path, Idle: g.idle}
	timer := time.AfterFunc(g.idle, func() { cancel(idleErr) })
	resp, err := g.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		timer.Stop()
		if context.Cause(ctx) == idleErr {
			err = idleErr
		}
		cancel(nil)
		return nil, err
	}
	timer.Reset(g.idle)
	resp.Body = &idleBody{rc: resp.Body, ctx: ctx, cancel: cancel, timer: timer, idle: g.idle, cause: idleErr}
	return resp, nil
}

// idleBody is a response body whose reads restart the idle timer each time
// minProgress more bytes have arrived.
type idleBody struct {
	rc     io.ReadCloser
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	idle   time.Duration
	cause  error
	got    int // bytes since the timer was last restarted
	once   sync.Once
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if b.got += n; b.got >= minProgress {
		b.got = 0
		b.timer.Reset(b.idle)
	}
	if err != nil && err != io.EOF && context.Cause(b.ctx) == b.cause {
		err = b.cause
	}
	return n, err
}

func (b *idleBody) Close() error {
	err := b.rc.Close()
	b.once.Do(func() { b.timer.Stop(); b.cancel(nil) })
	return err
}
