package jsonc

import (
	"encoding/json"
	"strings"
	"testing"
)

const settings = `// my settings
{
    "editor.fontSize": 14, // big
    /* block */
    "lsp": {
        "pylsp": {
            "initialization_options": {"x": 1},
        },
    },
    "list": [1, 2, /* two */ 3,],
}
`

func TestSetKeepsEverythingElse(t *testing.T) {
	d, err := Parse([]byte(settings))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Set(map[string]any{"path": "silo", "arguments": []string{"lsp", "python"}}, "lsp", "pylsp", "binary"); err != nil {
		t.Fatal(err)
	}
	if err := d.Set([]string{"a"}, "lsp", "gopls", "binary", "arguments"); err != nil {
		t.Fatal(err)
	}
	if err := d.Set(2, "new"); err != nil {
		t.Fatal(err)
	}
	out := string(d.Bytes())
	for _, keep := range []string{"// my settings\n{", `"editor.fontSize": 14, // big`, "/* block */", `"initialization_options": {"x": 1},`, `"list": [1, 2, /* two */ 3,]`} {
		if !strings.Contains(out, keep) {
			t.Errorf("lost %q:\n%s", keep, out)
		}
	}
	var v map[string]any
	if err := json.Unmarshal(Standard(d.Bytes()), &v); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	lsp := v["lsp"].(map[string]any)
	if b := lsp["pylsp"].(map[string]any)["binary"].(map[string]any); b["path"] != "silo" {
		t.Errorf("pylsp binary %v", b)
	}
	if b := lsp["gopls"].(map[string]any)["binary"].(map[string]any); b["arguments"].([]any)[0] != "a" {
		t.Errorf("gopls binary %v", b)
	}
	if v["new"] != 2.0 || v["editor.fontSize"] != 14.0 {
		t.Errorf("values %v", v)
	}
	if !strings.Contains(out, "\n        \"pylsp\": {\n            \"initialization_options\"") || !strings.Contains(out, "\n            \"binary\": {\n                \"arguments\": [") {
		t.Errorf("indentation not followed:\n%s", out)
	}
	// Replacing a value keeps the rest too.
	if err := d.Set("silo2", "lsp", "pylsp", "binary", "path"); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.Get("lsp", "pylsp", "binary", "path"); string(got) != `"silo2"` {
		t.Errorf("path %s", got)
	}
}

func TestEmptyAndFresh(t *testing.T) {
	for _, src := range []string{"", "  \n", "{}", "{\n}\n", "{ // nothing yet\n}", "// only a comment"} {
		d, err := Parse([]byte(src))
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		if err := d.Set([]int{1}, "a", "b"); err != nil {
			t.Fatal(err)
		}
		var v map[string]map[string][]int
		if err := json.Unmarshal(Standard(d.Bytes()), &v); err != nil || v["a"]["b"][0] != 1 {
			t.Errorf("%q: %v %s", src, err, d.Bytes())
		}
		if strings.Contains(src, "nothing yet") && !strings.Contains(string(d.Bytes()), "// nothing yet") {
			t.Errorf("comment lost: %s", d.Bytes())
		}
	}
}

func TestParseErrors(t *testing.T) {
	for src, want := range map[string]string{
		"[1]":          "not a JSON object",
		`{"a": }`:      "not a JSON value",
		`{"a": 1} x`:   "text after",
		`{"a" 1}`:      "expected :",
		`{"a": "x`:     "does not end",
		`{a: 1}`:       "expected a key",
		`{"a": [1 2]}`: "expected , or ]",
		strings.Repeat("{\"a\":", 600) + "1" + strings.Repeat("}", 600): "nested more than",
	} {
		if _, err := Parse([]byte(src)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.30q: %v, want %q", src, err, want)
		}
	}
	d, _ := Parse([]byte(`{"lsp": 3}`))
	if err := d.Set(1, "lsp", "x"); err == nil {
		t.Error("set beneath a number")
	}
}

func TestStandard(t *testing.T) {
	in := `{"a": "// not a comment", /* c */ "b": [1,2,], // d
"c": "x,]"}`
	var v map[string]any
	if err := json.Unmarshal(Standard([]byte(in)), &v); err != nil || v["a"] != "// not a comment" || v["c"] != "x,]" {
		t.Errorf("%v %v %s", err, v, Standard([]byte(in)))
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(settings))
	f.Add([]byte(`{"a":[{"b":1,},],}`))
	f.Fuzz(func(t *testing.T, src []byte) {
		d, err := Parse(src)
		if err != nil {
			return
		}
		if err := d.Set("v", "k", "j"); err != nil {
			return
		}
		if _, err := Parse(d.Bytes()); err != nil {
			t.Fatalf("Set made an unparsable file from %q: %v\n%s", src, err, d.Bytes())
		}
		if got, ok := d.Get("k", "j"); !ok || string(got) != `"v"` {
			t.Fatalf("Get after Set: %q %v\n%s", got, ok, d.Bytes())
		}
	})
}

// TestCommentStaysWithItsMember: a member added after the last one goes
// below that member's line comment, not between them.
func TestCommentStaysWithItsMember(t *testing.T) {
	d, err := Parse([]byte("{\n\t\"a\": 1, // about a\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Set(true, "b"); err != nil {
		t.Fatal(err)
	}
	if want := "{\n\t\"a\": 1, // about a\n\t\"b\": true,\n}\n"; string(d.Bytes()) != want {
		t.Errorf("got %q, want %q", d.Bytes(), want)
	}
}
