package derive

import (
	"testing"
)

func TestDerivationHash(t *testing.T) {
	base := Derivation{Version: 1, Type: "rootfs", Platform: "linux/amd64", Layers: []string{"sha256:aa", "sha256:bb"}, Format: "ext4"}
	if got, want := string(base.Canonical()), `{"version":1,"type":"rootfs","platform":"linux/amd64","layers":["sha256:aa","sha256:bb"],"format":"ext4","sizeMB":0}`; got != want {
		t.Fatalf("canonical form changed (every derivation hash would change):\n got %s\nwant %s", got, want)
	}
	same := base
	same.Layers = append([]string(nil), base.Layers...)
	if base.Hash() != same.Hash() {
		t.Fatal("equal derivations hash differently")
	}
	for name, mut := range map[string]func(d *Derivation){
		"layer order": func(d *Derivation) { d.Layers = []string{"sha256:bb", "sha256:aa"} },
		"platform":    func(d *Derivation) { d.Platform = "linux/arm64" },
		"format":      func(d *Derivation) { d.Format = "dir" },
		"size":        func(d *Derivation) { d.SizeMB = 512 },
		"version":     func(d *Derivation) { d.Version = 2 },
		"parents":     func(d *Derivation) { d.Parents = []string{"x"} },
	} {
		d := base
		d.Layers = append([]string(nil), base.Layers...)
		mut(&d)
		if d.Hash() == base.Hash() {
			t.Errorf("changing the %s does not change the hash", name)
		}
	}
}
