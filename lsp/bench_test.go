package lsp

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// benchBody is a publishDiagnostics-sized answer: 40 diagnostics, each with
// a message and a related location in another project file, the way pylsp
// writes it (slashes escaped).
func benchBody() []byte {
	var b strings.Builder
	b.WriteString(`{"jsonrpc":"2.0","method":"textDocument\/publishDiagnostics","params":{"uri":"file:\/\/\/workspace\/pkg\/app.py","diagnostics":[`)
	for i := 0; i < 40; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"source":"pyflakes","range":{"start":{"line":%d,"character":6},"end":{"line":%d,"character":22}},"message":"undefined name 'name_%d'","severity":1,"relatedInformation":[{"location":{"uri":"file:///workspace/pkg/mod_%d.py","range":{}},"message":"defined here"}]}`, i, i, i, i)
	}
	b.WriteString(`]}}`)
	return []byte(b.String())
}

// BenchmarkRewrite maps a diagnostics message toward the host beside a
// plain copy of the same bytes, measured in the same run; it reports both
// per message and their ratio.
func BenchmarkRewrite(b *testing.B) {
	m := NewMapper("/workspace", "/home/u/proj")
	body := benchBody()
	var dst []byte
	const n = 2000
	var rw, cp time.Duration
	for i := 0; i < b.N; i++ {
		t := time.Now()
		for j := 0; j < n; j++ {
			dst, _ = m.Rewrite(dst[:0], body, ToHost)
		}
		rw += time.Since(t)
		t = time.Now()
		for j := 0; j < n; j++ {
			dst = append(dst[:0], body...)
		}
		cp += time.Since(t)
	}
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N*n) }
	b.ReportMetric(float64(len(body)), "bytes/msg")
	b.ReportMetric(per(rw), "rewrite-ns/msg")
	b.ReportMetric(per(cp), "copy-ns/msg")
	b.ReportMetric(per(rw)/per(cp), "rewrite/copy")
}
