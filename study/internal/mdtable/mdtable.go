// Package mdtable is the study's tables: a caption, a header row and rows
// of text, rendered as Markdown pipe tables (and by the report's HTML
// template through IsNum and IsFlag).
package mdtable

import (
	"fmt"
	"strings"
)

// Table is a table with a header row; Num marks right-aligned columns.
type Table struct {
	Caption string
	Head    []string
	Rows    [][]string
	Num     []bool
	// Flag marks rows to highlight (diverged runs), by row index.
	Flag map[int]bool
}

// IsNum reports whether column i is numeric (right-aligned).
func (t *Table) IsNum(i int) bool { return i < len(t.Num) && t.Num[i] }

// IsFlag reports whether row r is highlighted.
func (t *Table) IsFlag(r int) bool { return t.Flag[r] }

// Markdown renders t as a pipe table (with its caption above it).
func (t *Table) Markdown() string {
	var b strings.Builder
	if t.Caption != "" {
		fmt.Fprintf(&b, "*%s*\n\n", t.Caption)
	}
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	b.WriteString("|")
	for _, h := range t.Head {
		fmt.Fprintf(&b, " %s |", cell(h))
	}
	b.WriteString("\n|")
	for i := range t.Head {
		if i < len(t.Num) && t.Num[i] {
			b.WriteString(" ---: |")
		} else {
			b.WriteString(" --- |")
		}
	}
	b.WriteString("\n")
	for _, r := range t.Rows {
		b.WriteString("|")
		for _, c := range r {
			fmt.Fprintf(&b, " %s |", cell(c))
		}
		b.WriteString("\n")
	}
	return b.String()
}
