package lock

import (
	"github.com/pelletier/go-toml/v2"

	"strings"
	"testing"
)

func TestEditToolBlocks(t *testing.T) {
	data := []byte("# mine\n[tool.a]\nimage = \"x\"\nshims = [\n  \"a\",\n  \"b\",\n]\n[[tool.a.cache]]\nguest = \"/c\"\n\n[tool.\"claude-code\"]\nimage = \"y\"\n[tool.b.network]\nhostAccess = true\n")
	if b := string(ToolBlock(data, "a")); !strings.HasPrefix(b, "[tool.a]") || !strings.Contains(b, "guest = \"/c\"") || strings.Contains(b, "claude") {
		t.Errorf("ToolBlock(a) = %q", b)
	}
	if b := string(ToolBlock(data, "claude")); b != "[tool.\"claude-code\"]\nimage = \"y\"\n" {
		t.Errorf("ToolBlock(claude) = %q", b)
	}
	set := SetBlockKey(ToolBlock(data, "a"), "shims", TOMLStrings([]string{"a", "c:d"}))
	if s := string(set); !strings.Contains(s, "shims = [\"a\", \"c:d\"]\n[[tool.a.cache]]") || strings.Contains(s, "\"b\"") {
		t.Errorf("SetBlockKey = %q", s)
	}
	out := string(SetToolBlock(data, "a", set))
	if !strings.HasPrefix(out, "# mine\n[tool.a]") || !strings.Contains(out, "[tool.b.network]") || strings.Count(out, "[tool.a]") != 1 {
		t.Errorf("SetToolBlock = %q", out)
	}
	rm := string(RemoveToolBlock(data, "a"))
	if strings.Contains(rm, "tool.a") || !strings.HasPrefix(rm, "# mine\n\n[tool.\"claude-code\"]") {
		t.Errorf("RemoveToolBlock = %q", rm)
	}
	if add := string(SetToolBlock(nil, "n", []byte("[tool.n]\nimage = \"z\""))); add != "[tool.n]\nimage = \"z\"\n" {
		t.Errorf("SetToolBlock into nothing = %q", add)
	}
	if CatalogBlock("python") == nil || CatalogBlock("claude-code") == nil || CatalogBlock("nope") != nil {
		t.Error("CatalogBlock does not find the catalog's tools")
	}
}

// TestTOMLStringRoundTrip: what TOMLString writes reads back as the same
// string, for text Go's own quoting would write as invalid TOML.
func TestTOMLStringRoundTrip(t *testing.T) {
	for _, s := range []string{"", "plain", `a "quoted" \ path`, "#!/bin/sh\nset -e\n\tpip install x\n", "bell\a esc\x1b del\x7f nul\x00", "π ünïcode ✓"} {
		var v struct{ X string }
		if err := toml.Unmarshal([]byte("x = "+TOMLString(s)+"\n"), &v); err != nil || v.X != s {
			t.Errorf("TOMLString(%q) = %s reads back as %q (%v)", s, TOMLString(s), v.X, err)
		}
	}
}
