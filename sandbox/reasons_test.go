package sandbox

import (
	"slices"
	"testing"

	"github.com/silo-dev/silo/lock"
)

// TestFromDiff: each configuration change a step's derivation sees is
// named by its key, with where it is set now; a host moved between allow
// and installAllow is no change.
func TestFromDiff(t *testing.T) {
	tool := func(mut func(t *lock.Tool)) *lock.Tool {
		t := &lock.Tool{Name: "node", Env: map[string]string{"A": "1", "B": "2"},
			Network: lock.Network{Allow: []string{"registry.npmjs.org"}, InstallAllow: []string{"github.com"}},
			Origins: map[string]lock.Source{"env.A": {File: "silo.toml", Line: 3, Column: 1}, "network.installAllow.1": {File: "silo.toml", Line: 7, Column: 2}}}
		if mut != nil {
			mut(t)
		}
		return t
	}
	was := derivedFrom(tool(nil))
	for name, tc := range map[string]struct {
		mut  func(t *lock.Tool)
		want []string
	}{
		"same":       {nil, nil},
		"env value":  {func(t *lock.Tool) { t.Env["A"] = "9" }, []string{"tool.node.env.A changed (silo.toml:3:1)"}},
		"env gone":   {func(t *lock.Tool) { delete(t.Env, "B") }, []string{"tool.node.env.B removed"}},
		"env new":    {func(t *lock.Tool) { t.Env["C"] = "" }, []string{"tool.node.env.C changed"}},
		"install":    {func(t *lock.Tool) { t.Network.InstallAllow = append(t.Network.InstallAllow, "x.org") }, []string{"tool.node.network.installAllow changed (silo.toml:7:2)"}},
		"allow gone": {func(t *lock.Tool) { t.Network.Allow = nil }, []string{"tool.node.network.allow changed"}},
		"moved":      {func(t *lock.Tool) { t.Network.Allow, t.Network.InstallAllow = t.Network.InstallAllow, t.Network.Allow }, nil},
		"deny":       {func(t *lock.Tool) { t.Network.Deny = []string{"evil.org"} }, []string{"tool.node.network.deny changed"}},
		"host":       {func(t *lock.Tool) { t.Network.HostAccess = true }, []string{"tool.node.network.hostAccess changed"}},
	} {
		t.Run(name, func(t *testing.T) {
			now := tool(tc.mut)
			if got := fromDiff(now, was, derivedFrom(now)); !slices.Equal(got, tc.want) {
				t.Errorf("fromDiff = %q, want %q", got, tc.want)
			}
		})
	}
}
