package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/silo-dev/silo/internal/safetext"
)

// formatBytes formats a size for people in binary units: "3.0 MiB".
func formatBytes(n int64) string { return scaleBytes(n, 1024, "KMGTPE", "iB") }

// formatSIBytes formats a transfer in decimal units, as registries and
// download tools do: "12.3 MB".
func formatSIBytes(n int64) string { return scaleBytes(n, 1000, "kMGTPE", "B") }

// scaleBytes writes n in the largest unit (a power of base) it reaches.
func scaleBytes(n, base int64, prefixes, suffix string) string {
	if n < base {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := base, 0
	for m := n / base; m >= base; m /= base {
		div *= base
		exp++
	}
	return fmt.Sprintf("%.1f %c%s", float64(n)/float64(div), prefixes[exp], suffix)
}

// printJSON writes v to w as indented JSON, for --json.
func printJSON(w io.Writer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	// encoding/json escapes C0 controls but not DEL, C1 or bidi marks,
	// which image labels and registry text may hold.
	_, err := w.Write(safetext.JSON(b.Bytes()))
	return err
}
