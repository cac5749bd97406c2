package kernel

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"strings"
)

// markerPath is the initfs file that marks a silo initfs and lists its
// modules in load order. It must match guestinit.Marker.
const markerPath = "/silo-initfs"

// InitfsModule is one module file to put into an initfs.
type InitfsModule struct {
	Name string // module name, e.g. "virtio_blk"
	Data []byte // the .ko image
}

// WriteInitfs writes a newc cpio initramfs to w: agent as /init,
// /dev/console, the modules under /modules in the order given, and the
// marker file listing them.
func WriteInitfs(w io.Writer, agent []byte, mods []InitfsModule) error {
	if err := CheckStatic(agent); err != nil {
		return err
	}
	c := NewCpioWriter(w)
	for _, d := range []string{"dev", "proc", "sys", "modules", "silo", "tmp"} {
		if err := c.Dir(d, 0o755); err != nil {
			return err
		}
	}
	if err := c.CharDev("dev/console", 0o600, 5, 1); err != nil {
		return err
	}
	var list strings.Builder
	for i, m := range mods {
		p := fmt.Sprintf("/modules/%02d-%s.ko", i, m.Name)
		if err := c.File(p, 0o644, m.Data); err != nil {
			return err
		}
		list.WriteString(p + "\n")
	}
	if err := c.File(markerPath, 0o644, []byte(list.String())); err != nil {
		return err
	}
	if err := c.File("init", 0o755, agent); err != nil {
		return err
	}
	return c.Close()
}

// CheckStatic refuses an agent binary that needs a dynamic loader: the
// initfs carries no libraries, and the agent must also run inside any
// rootfs. A silo built with CGO_ENABLED=0 is static.
func CheckStatic(agent []byte) error {
	f, err := elf.NewFile(bytes.NewReader(agent))
	if err != nil {
		return fmt.Errorf("the guest agent is not a Linux ELF executable: %w", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("the guest agent (this silo binary) is dynamically linked; rebuild it statically: CGO_ENABLED=0 go build ./cmd/silo (or make build)")
		}
	}
	return nil
}
