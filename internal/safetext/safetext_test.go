package safetext

import "testing"

func TestEscape(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"python:3.12-slim", "python:3.12-slim"},
		{"héllo wörld 日本", "héllo wörld 日本"},
		{"\x1b]0;pwned\x07", `\x1b]0;pwned\x07`},
		{"a\nsilo: forged", `a\nsilo: forged`},
		{"x\r\ty\x7f", `x\r\ty\x7f`},
		{"csi\u009b2J", `csi\u009b2J`},
		{"rtl\u202eexe.txt", `rtl\u202eexe.txt`},
		{"bad\xffutf8", `bad\xffutf8`},
	} {
		if got := Escape(c.in); got != c.want {
			t.Errorf("Escape(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := Lines("one\x1b[2J\ntwo"); got != "one\\x1b[2J\ntwo" {
		t.Errorf("Lines = %q", got)
	}
}

func TestJSON(t *testing.T) {
	in := []byte("{\"a\": \"x\u009b2J\u202ey\x7f\", \"b\": \"日本\"}")
	want := `{"a": "x\u009b2J\u202ey\u007f", "b": "日本"}`
	if got := string(JSON(in)); got != want {
		t.Errorf("JSON = %s, want %s", got, want)
	}
}
