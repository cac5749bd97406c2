package kernel

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"strings"
)

// Module is one loadable kernel module.
type Module struct {
	// Name is the module's name with dashes as underscores ("crc32c_generic").
	Name string
	// Path is the .ko file the module was read from.
	Path string
	// Depends are the modules that must be loaded first.
	Depends []string
	// Alias are the names the module also answers to ("crypto-crc32c").
	Alias []string
}

// ParseModinfo reads the .modinfo section of the module image ko.
func ParseModinfo(ko []byte) (*Module, error) {
	f, err := elf.NewFile(bytes.NewReader(ko))
	if err != nil {
		return nil, fmt.Errorf("not an ELF kernel module: %w", err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("no .modinfo section: not a kernel module")
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("read .modinfo: %w", err)
	}
	m := &Module{}
	for _, kv := range bytes.Split(data, []byte{0}) {
		k, v, ok := strings.Cut(string(kv), "=")
		if !ok {
			continue
		}
		switch k {
		case "name":
			m.Name = modName(v)
		case "depends":
			for _, d := range strings.Split(v, ",") {
				if d = strings.TrimSpace(d); d != "" {
					m.Depends = append(m.Depends, modName(d))
				}
			}
		case "alias":
			m.Alias = append(m.Alias, v)
		}
	}
	if m.Name == "" {
		return nil, fmt.Errorf(".modinfo has no name= field")
	}
	return m, nil
}

// modName normalizes a module name: the kernel treats - and _ alike.
func modName(s string) string {
	return strings.ReplaceAll(strings.TrimSuffix(s, ".ko"), "-", "_")
}

// sigMagic ends a module that carries an appended signature.
const sigMagic = "~Module signature appended~\n"

// StripSignature returns ko without its appended signature, if it has one.
// Under TCG, checking signatures is a measurable part of a boot, and an
// unsigned module loads all the same on a kernel that does not enforce
// signatures (Debian's does not, unless booted with Secure Boot lockdown).
func StripSignature(ko []byte) []byte {
	if !bytes.HasSuffix(ko, []byte(sigMagic)) {
		return ko
	}
	// struct module_signature: algo, hash, id_type, signer_len, key_id_len,
	// pad[3], sig_len (big-endian u32): 12 bytes before the magic.
	end := len(ko) - len(sigMagic)
	if end < 12 {
		return ko
	}
	sigLen := int(binary.BigEndian.Uint32(ko[end-4 : end]))
	start := end - 12 - sigLen
	if sigLen < 0 || start < 0 {
		return ko
	}
	return ko[:start]
}
