package owners

import (
	"reflect"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	in := Table{
		{Path: ".", UID: 0, GID: 5},
		{Path: "home/node", UID: 1000, GID: 1000},
		{Path: "odd \"name\"\nwith newline", UID: 4294967294, GID: 33},
		{Path: "tab\tand space ", UID: 1, GID: 0},
	}
	got, err := Parse(in.String())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, in) {
		t.Fatalf("round trip: %#v, want %#v", got, in)
	}
	if got, err := Parse(""); err != nil || len(got) != 0 {
		t.Fatalf("empty table: %v, %v", got, err)
	}
}

func TestParseRefuses(t *testing.T) {
	for _, s := range []string{
		"1000 1000 \"/etc/passwd\"\n",
		"1000 1000 \"../x\"\n",
		"1000 1000 \"a/../../x\"\n",
		"1000 1000 \"a//b\"\n",
		"1000 1000 \"\"\n",
		"1000 1000 \"..\"\n",
		"1000 1000 unquoted\n",
		"-1 0 \"a\"\n",
		"4294967296 0 \"a\"\n",
		"1000 \"a\"\n",
		"1000 1000 \"a\\x00b\"\n",
		"\n",
	} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) took it", s)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("1000 1000 \"home/node\"\n0 42 \"etc/shadow\"\n")
	f.Fuzz(func(t *testing.T, s string) {
		tab, err := Parse(s)
		if err != nil {
			return
		}
		for _, e := range tab {
			if Check(e.Path) != nil {
				t.Fatalf("Parse took the unsafe path %q", e.Path)
			}
		}
		again, err := Parse(tab.String())
		if err != nil || !reflect.DeepEqual(again, tab) {
			t.Fatalf("String of a parsed table does not parse back: %v", err)
		}
	})
}
