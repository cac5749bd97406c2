package lock

import (
	"strconv"
	"strings"
)

// languageServer applies lsp and lspInstall: a whole new command replaces
// the one before (an argv is not a list to merge).
func (b *builder) languageServer(t *Tool, l *layer, p []string, argv []string, install *string) {
	if argv != nil {
		if len(argv) == 0 {
			b.fail(l, at(p, "lsp"), "lsp is empty: give the language server's command, such as lsp = [\"pylsp\"]")
		}
		for i, a := range argv {
			if a == "" || strings.ContainsRune(a, 0) || (i == 0 && strings.TrimSpace(a) != a) {
				b.fail(l, at(p, "lsp", idx(i)), "lsp: %q is not a command word", a)
			}
		}
		t.LSP, t.Origins["lsp"] = append([]string(nil), argv...), l.src(at(p, "lsp")...)
	}
	if install != nil {
		t.LSPInstall, t.Origins["lspInstall"] = *install, l.src(at(p, "lspInstall")...)
	}
}

// argvWords shows a command line on one line, quoting words with spaces.
func argvWords(argv []string) string {
	if len(argv) == 0 {
		return "(none)"
	}
	w := make([]string, len(argv))
	for i, a := range argv {
		w[i] = a
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\") {
			w[i] = strconv.Quote(a)
		}
	}
	return strings.Join(w, " ")
}
