// Package lsp carries the Language Server Protocol between an editor on the
// host and a language server inside a sandbox, mapping the project's paths
// on the way: the editor names files on the host
// (file:///home/u/proj/a.py, /home/u/proj), the server inside sees the
// workspace (file:///workspace/a.py, /workspace).
//
// # Framing
//
// Reader reads the base protocol: header lines ("Name: value", each ending
// in CRLF; a bare LF is accepted), an empty line, then exactly
// Content-Length bytes of body. Header names are matched without regard to
// case; a message without Content-Length, with two, with a value that is
// not a decimal byte count, larger than MaxMessage (128 MiB), or with a
// header section over 16 KiB is refused with an error wrapping ErrFraming,
// and the connection ends: after a framing error nothing later in the
// stream can be trusted. A stream that ends inside a message is
// io.ErrUnexpectedEOF. Messages may arrive split across any number of
// reads, or several in one.
//
// AppendFrame writes a message back out with its header lines as they
// arrived; only the Content-Length value changes, and only when the body's
// length changed.
//
// # Rewriting
//
// Mapper.Rewrite does not decode and re-encode the JSON body. It scans it
// for string tokens (object keys too: a WorkspaceEdit's changes map is
// keyed by URI) and replaces only the tokens that map; every other byte,
// whitespace and key order included, is copied as it is. A body that is
// not valid JSON, or a batch (an array of messages), is scanned the same
// way. A string maps when:
//
//   - it is a path under the root as a whole: the root itself, or the root
//     followed by '/' (rootPath, a setting naming a file);
//   - it is, or contains (a markdown link in a hover, a message), a file
//     URI with an empty authority whose percent-decoded path is the root
//     or lies under it. A whole-string URI must continue after the root
//     with '/', '?', '#' or nothing; one inside text may also end at
//     whitespace, a closing bracket or a quote.
//
// Only the root part of a URI is replaced; the rest keeps its spelling,
// percent-escapes and non-ASCII characters alike. Toward the guest the
// root becomes the workspace (percent-escaped with EncodePath); toward the
// host it becomes the root as the editor spelled it in the first URI it
// sent (its rootUri, usually), or EncodePath of the host root until then,
// so that the editor recognises its own files. The host root may have
// aliases (the project reached through a symlink); any of them maps to
// the workspace.
//
// Paths outside the root are left alone, and so are paths written inside
// longer text (only URIs are found inside text), relative paths, and a
// root of "/" (which would map everything). The values of the keys
// "text", "newText" and "insertText" are never rewritten: they are file
// contents and code (didOpen, didChange, edits, completions), and a
// rewritten one would leave the server's copy of a file different from
// the editor's. A string with JSON escapes is unescaped before it is
// matched; when it maps it is written back with only the escapes JSON
// requires.
//
// Rewrite also reports the exit notification (a "method" of "exit" at the
// top level of the message or of a batch's element), which ends the
// session.
//
// Mapper.Copy runs the loop: read a message, rewrite it, write it in one
// Write, until the source ends. It holds one message at a time.
//
// # Edits outside the workspace
//
// A language server may ask the editor to write files: a
// workspace/applyEdit request, or a WorkspaceEdit in an answer (rename,
// code actions). The editor runs on the host, so a hostile server inside
// the sandbox could use it to write ~/.bashrc. Toward the host, Rewrite
// reports (Info.EditOutside) a file URI under a "changes",
// "documentChanges" or "edit" key that is not under the workspace, or has
// a ".." segment (percent-escaped or not), and Copy does not pass such a
// message on: a response becomes an error response to the editor (code
// -32803, RequestFailed) with the same id, an applyEdit request is
// answered to the server with "applied": false (CopyToHost), and a
// notification or batch is dropped. URIs outside the workspace elsewhere
// (a definition in the image's standard library) pass unchanged: the
// editor only shows them.
package lsp
