//go:build linux

package guestinit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// openPort opens the virtio-serial port the host named name.
func openPort(name string) (*os.File, error) {
	deadline := time.Now().Add(deviceWait)
	for {
		dev, err := findPort(name)
		if err == nil && dev != "" {
			if _, serr := os.Stat(dev); serr == nil {
				f, err := os.OpenFile(dev, os.O_RDWR, 0)
				if err != nil {
					return nil, fmt.Errorf("open virtio-serial port %s (%s): %w", name, dev, err)
				}
				return f, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("virtio-serial port %q did not appear within %v", name, deviceWait)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// findPort returns /dev/vportNpM for the port named name, or "".
func findPort(name string) (string, error) {
	ports, err := filepath.Glob("/sys/class/virtio-ports/vport*")
	if err != nil {
		return "", err
	}
	for _, p := range ports {
		b, err := os.ReadFile(filepath.Join(p, "name"))
		if err == nil && strings.TrimSpace(string(b)) == name {
			return "/dev/" + filepath.Base(p), nil
		}
	}
	return "", nil
}

// beater writes the heartbeat protocol on the BeatPort.
type beater struct {
	mu   sync.Mutex
	f    *os.File
	stop chan struct{}
	done chan struct{}
}

func newBeater(f *os.File) *beater {
	b := &beater{f: f, stop: make(chan struct{}), done: make(chan struct{})}
	go b.loop()
	return b
}

func (b *beater) loop() {
	defer close(b.done)
	t := time.NewTicker(BeatInterval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.send(BeatAlive)
		}
	}
}

func (b *beater) send(c byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, _ = b.f.Write([]byte{c})
}

// fail reports err to the host.
func (b *beater) fail(err error) {
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	b.mu.Lock()
	defer b.mu.Unlock()
	_, _ = b.f.Write([]byte(string(BeatError) + msg + "\n"))
}

func (b *beater) close() {
	close(b.stop)
	<-b.done
	_ = b.f.Sync()
}
