package lock

import (
	"strings"
	"testing"
)

// TestIndexPositions checks the key positions the provenance rests on,
// through tables, array tables, dotted keys, inline tables and arrays.
func TestIndexPositions(t *testing.T) {
	doc := `tools = ["a", "b"]
[overrides.x]
env = { A = "1", "B.C" = "2" }
network.proxy.allow = [
  "a.com",
  "b.com",
]
[[overrides.x.ports]]
host = 1
[[overrides.x.ports]]
  guest = 2
[overrides.x.network]
hostAccess = true
[[overrides.x.ports.sub]]
k = 1
`
	ix, err := indexPositions([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]pos{
		"tools":                             {1, 1},
		"tools.1":                           {1, 15},
		"overrides.x":                       {2, 2},
		"overrides.x.env.A":                 {3, 9},
		"overrides.x.env.B.C":               {3, 18},
		"overrides.x.network.proxy.allow":   {4, 1},
		"overrides.x.network.proxy.allow.1": {6, 3},
		"overrides.x.ports":                 {8, 3},
		"overrides.x.ports.0.host":          {9, 1},
		"overrides.x.ports.1":               {10, 3},
		"overrides.x.ports.1.guest":         {11, 3},
		"overrides.x.network.hostAccess":    {13, 1},
		"overrides.x.ports.1.sub.0.k":       {15, 1},
		"overrides.x.network.proxy.allow.0": {5, 3},
		"overrides.x.ports.0":               {8, 3},
		"overrides.x.ports.1.sub.0":         {14, 3},
		"overrides.x.ports.1.sub":           {14, 3},
		"overrides.x.network":               {12, 2},
		"overrides.x.env":                   {3, 1},
		"tools.0":                           {1, 10},
	}
	for k, p := range want {
		path := strings.Split(k, ".")
		if k == "overrides.x.env.B.C" {
			path = []string{"overrides", "x", "env", "B.C"}
		}
		got, ok := ix.at(path...)
		if !ok || got != p {
			t.Errorf("position of %s = %v (%v), want %v", k, got, ok, p)
		}
	}
}
