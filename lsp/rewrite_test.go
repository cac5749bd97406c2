package lsp

import (
	"bytes"
	"strings"
	"testing"
)

const host = "/home/u/proj"

func TestRewrite(t *testing.T) {
	cases := []struct {
		name    string
		d       Direction
		in, out string
	}{
		{"initialize", ToGuest,
			`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":42,"rootPath":"/home/u/proj","rootUri":"file:///home/u/proj","workspaceFolders":[{"uri":"file:///home/u/proj","name":"proj"}]}}`,
			`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":42,"rootPath":"/workspace","rootUri":"file:///workspace","workspaceFolders":[{"uri":"file:///workspace","name":"proj"}]}}`},
		{"diagnostics", ToHost,
			`{"jsonrpc":"2.0","method":"textDocument/publishDiagnostics","params":{"uri":"file:///workspace/pkg/a.py","diagnostics":[{"message":"undefined name 'x'","range":{"start":{"line":0,"character":0}}}]}}`,
			`{"jsonrpc":"2.0","method":"textDocument/publishDiagnostics","params":{"uri":"file:///home/u/proj/pkg/a.py","diagnostics":[{"message":"undefined name 'x'","range":{"start":{"line":0,"character":0}}}]}}`},
		{"definition response", ToHost,
			"{\"jsonrpc\": \"2.0\",\n \"id\": 7, \"result\": [ {\"uri\" : \"file:///workspace/b.py\", \"range\":{}} ]}",
			"{\"jsonrpc\": \"2.0\",\n \"id\": 7, \"result\": [ {\"uri\" : \"file:///home/u/proj/b.py\", \"range\":{}} ]}"},
		{"outside the project", ToGuest,
			`{"a":"/home/u/project2/a.py","b":"file:///home/u/project2/a.py","c":"file:///etc/passwd","d":"/home/u","e":"/home/u/proj2","f":"home/u/proj/a"}`,
			`{"a":"/home/u/project2/a.py","b":"file:///home/u/project2/a.py","c":"file:///etc/passwd","d":"/home/u","e":"/home/u/proj2","f":"home/u/proj/a"}`},
		{"guest paths outside the workspace", ToHost,
			`{"uri":"file:///usr/lib/python3/dist-packages/x.py","p":"/workspaces/a","q":"/workspace2"}`,
			`{"uri":"file:///usr/lib/python3/dist-packages/x.py","p":"/workspaces/a","q":"/workspace2"}`},
		{"document text is never rewritten", ToGuest,
			`{"method":"textDocument/didOpen","params":{"textDocument":{"uri":"file:///home/u/proj/a.py","languageId":"python","version":1,"text":"/home/u/proj/a.py"}}}`,
			`{"method":"textDocument/didOpen","params":{"textDocument":{"uri":"file:///workspace/a.py","languageId":"python","version":1,"text":"/home/u/proj/a.py"}}}`},
		{"edit text is never rewritten", ToHost,
			`{"changes":{"file:///workspace/a.py":[{"newText":"file:///workspace/a.py","range":{}}]},"insertText":"/workspace"}`,
			`{"changes":{"file:///home/u/proj/a.py":[{"newText":"file:///workspace/a.py","range":{}}]},"insertText":"/workspace"}`},
		{"query and fragment", ToHost,
			`["file:///workspace?x=1","file:///workspace#L3","file:///workspace/a.py#L3"]`,
			`["file:///home/u/proj?x=1","file:///home/u/proj#L3","file:///home/u/proj/a.py#L3"]`},
		{"escaped string", ToGuest,
			`{"uri":"file:\/\/\/home\/u\/proj\/a.py","x":"a\"b\\c"}`,
			`{"uri":"file:///workspace/a.py","x":"a\"b\\c"}`},
		{"markdown link in hover", ToHost,
			`{"contents":{"kind":"markdown","value":"see [b](file:///workspace/b.py#L2) and <file:///workspace> and file:///workspacefoo"}}`,
			`{"contents":{"kind":"markdown","value":"see [b](file:///home/u/proj/b.py#L2) and <file:///home/u/proj> and file:///workspacefoo"}}`},
		{"batch", ToGuest,
			`[{"id":1,"method":"a","params":{"uri":"file:///home/u/proj/x"}},{"id":2,"method":"b","params":{"path":"/home/u/proj/y"}}]`,
			`[{"id":1,"method":"a","params":{"uri":"file:///workspace/x"}},{"id":2,"method":"b","params":{"path":"/workspace/y"}}]`},
		{"not json", ToGuest, `"/home/u/proj/a" garbage {"x": "file:///home/u/proj`, `"/workspace/a" garbage {"x": "file:///home/u/proj`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := NewMapper("/workspace", host)
			got, _ := m.Rewrite(nil, []byte(c.in), c.d)
			if string(got) != c.out {
				t.Errorf("got  %s\nwant %s", got, c.out)
			}
		})
	}
}

// TestRewriteEscapes: percent-escapes and non-ASCII names, both ways, and
// answers spell the root as the editor did.
func TestRewriteEscapes(t *testing.T) {
	root := "/home/u/my proj/é"
	m := NewMapper("/workspace", root)
	in := `{"rootUri":"file:///home/u/my%20proj/%c3%a9","a":"file:///home/u/my%20proj/%C3%A9/d%C3%A9j%C3%A0.py","b":"file:///home/u/my proj/é/x.py","c":"/home/u/my proj/é/ü.py"}`
	want := `{"rootUri":"file:///workspace","a":"file:///workspace/d%C3%A9j%C3%A0.py","b":"file:///workspace/x.py","c":"/workspace/ü.py"}`
	got, info := m.Rewrite(nil, []byte(in), ToGuest)
	if string(got) != want || info.Rewritten != 4 {
		t.Fatalf("to guest: got %s (%d rewritten)\nwant %s", got, info.Rewritten, want)
	}
	back, _ := m.Rewrite(nil, []byte(`{"uri":"file:///workspace/d%C3%A9j%C3%A0.py","p":"/workspace/ü.py"}`), ToHost)
	if w := `{"uri":"file:///home/u/my%20proj/%c3%a9/d%C3%A9j%C3%A0.py","p":"/home/u/my proj/é/ü.py"}`; string(back) != w {
		t.Errorf("to host: got %s\nwant %s", back, w)
	}
	fresh := NewMapper("/workspace", root)
	back, _ = fresh.Rewrite(nil, []byte(`"file:///workspace/a"`), ToHost)
	if w := `"file:///home/u/my%20proj/%C3%A9/a"`; string(back) != w {
		t.Errorf("before the editor spoke: got %s, want %s", back, w)
	}
}

// TestRewriteAlias: the project reached through a symlink is the same
// project; answers use the name the editor used.
func TestRewriteAlias(t *testing.T) {
	m := NewMapper("/workspace", "/real/proj", "/home/u/proj")
	got, _ := m.Rewrite(nil, []byte(`{"rootUri":"file:///home/u/proj","x":"file:///real/proj/a"}`), ToGuest)
	if w := `{"rootUri":"file:///workspace","x":"file:///workspace/a"}`; string(got) != w {
		t.Fatalf("got %s, want %s", got, w)
	}
	back, _ := m.Rewrite(nil, []byte(`"file:///workspace/a"`), ToHost)
	if w := `"file:///home/u/proj/a"`; string(back) != w {
		t.Errorf("got %s, want %s", back, w)
	}
}

func TestRewriteExit(t *testing.T) {
	m := NewMapper("/workspace", host)
	for in, want := range map[string]bool{
		`{"jsonrpc":"2.0","method":"exit"}`:                                true,
		`[{"jsonrpc":"2.0","id":3,"method":"shutdown"},{"method":"exit"}]`: true,
		`{"jsonrpc":"2.0","method":"shutdown","id":1}`:                     false,
		`{"method":"x","params":{"a":{"method":"exit"}}}`:                  false,
		`{"method":"x","params":"exit"}`:                                   false,
	} {
		if _, info := m.Rewrite(nil, []byte(in), ToGuest); info.Exit != want {
			t.Errorf("%s: exit = %v, want %v", in, info.Exit, want)
		}
	}
}

// TestRewriteRootIsSlash: a root of / would map everything; it maps
// nothing.
func TestRewriteRootIsSlash(t *testing.T) {
	m := NewMapper("/workspace", "/")
	in := `{"uri":"file:///etc/passwd","p":"/etc"}`
	if got, _ := m.Rewrite(nil, []byte(in), ToGuest); string(got) != in {
		t.Errorf("got %s", got)
	}
}

func TestEncodePath(t *testing.T) {
	if got, want := EncodePath("/a b/é/x_y-z.~%"), "/a%20b/%C3%A9/x_y-z.~%25"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if !strings.HasPrefix(EncodePath("/x:y"), "/x%3Ay") {
		t.Errorf("colon not escaped: %s", EncodePath("/x:y"))
	}
}

// TestEditOutside: a hostile server's workspace edit naming a file outside
// the workspace (by a guest path beyond it, a host path, or "..") never
// reaches the editor; an edit inside it does, mapped.
func TestEditOutside(t *testing.T) {
	apply := func(id, uri string) string {
		return `{"jsonrpc":"2.0","id":` + id + `,"method":"workspace/applyEdit","params":{"edit":{"changes":{"` + uri + `":[{"range":{},"newText":"x"}]}}}}`
	}
	rename := func(uri string) string {
		return `{"jsonrpc":"2.0","id":"r1","result":{"documentChanges":[{"kind":"create","uri":"` + uri + `"}]}}`
	}
	for _, c := range []struct {
		in      string
		outside bool
	}{
		{apply("5", "file:///workspace/a.py"), false},
		{apply("5", "file:///home/u/.bashrc"), true},
		{apply("5", "file:///workspace/../home/u/.bashrc"), true},
		{apply("5", "file:///workspace/%2E%2E/x"), true},
		{apply("5", `file:\/\/\/etc\/profile`), true},
		{rename("file:///workspace/b.py"), false},
		{rename("file:///root/.profile"), true},
		{`{"jsonrpc":"2.0","id":2,"result":[{"uri":"file:///usr/lib/python3/os.py"}]}`, false}, // a definition outside is only read
	} {
		m := NewMapper("/workspace", host)
		server := bytes.Buffer{}
		var editor bytes.Buffer
		if err := m.CopyToHost(&editor, &server, strings.NewReader(frame(c.in)), nil); err != nil {
			t.Fatal(err)
		}
		passed := strings.Contains(editor.String(), `"uri"`) || strings.Contains(editor.String(), `"changes"`)
		if passed == c.outside {
			t.Errorf("%s: passed to the editor: %v\n%s", c.in, passed, editor.String())
		}
		if !c.outside {
			continue
		}
		if strings.Contains(c.in, "applyEdit") {
			if want := `"id":5,"result":{"applied":false`; !strings.Contains(server.String(), want) || editor.Len() != 0 {
				t.Errorf("%s: server got %q, editor %q", c.in, server.String(), editor.String())
			}
		} else if want := `{"jsonrpc":"2.0","id":"r1","error":{"code":-32803`; !strings.Contains(editor.String(), want) {
			t.Errorf("%s: editor got %q", c.in, editor.String())
		}
	}
}
