package report

import (
	"fmt"
	"mnistgpu/study/internal/mdtable"
	"strings"
)

// document is the report's content, rendered twice: to index.html and to
// README.md, so both always say the same.
type document struct {
	Title    string
	Subtitle string
	Header   []headerItem
	Sections []*section
	figures  int // figures numbered so far
}

// headerItem is one line of the report's header.
type headerItem struct {
	Key, Value string
	// Code shows Value as a command; Pre as a preformatted block.
	Code, Pre bool
}

// section is a numbered section (Level 1) or subsection (Level 2).
type section struct {
	ID, Number, Title string
	Level             int
	Blocks            []block
	Subs              []*section
}

// block is one element of a section; exactly one field is set.
type block struct {
	Text    string
	Warn    string
	List    []string
	Table   *table
	Figures []figure
}

// table is a pipe table of the report (see mdtable.Table).
type table = mdtable.Table

// figure is an image by its path relative to the report folder.
type figure struct {
	Src, Caption string
	N            int
}

func (d *document) section(num, title string) *section {
	s := &section{ID: "s" + strings.ReplaceAll(num, ".", "-"), Number: num, Title: title, Level: 1}
	d.Sections = append(d.Sections, s)
	return s
}

func (s *section) sub(num, title string) *section {
	c := &section{ID: "s" + strings.ReplaceAll(num, ".", "-"), Number: num, Title: title, Level: s.Level + 1}
	s.Subs = append(s.Subs, c)
	return c
}

func (s *section) text(format string, a ...any) {
	s.Blocks = append(s.Blocks, block{Text: fmt.Sprintf(format, a...)})
}

func (s *section) warn(format string, a ...any) {
	s.Blocks = append(s.Blocks, block{Warn: fmt.Sprintf(format, a...)})
}

func (s *section) list(items []string) {
	if len(items) > 0 {
		s.Blocks = append(s.Blocks, block{List: items})
	}
}

func (s *section) table(t *table) { s.Blocks = append(s.Blocks, block{Table: t}) }

// addFigures adds a row of figures, numbering them in document order.
func (d *document) addFigures(s *section, figs ...figure) {
	var row []figure
	for _, f := range figs {
		if f.Src == "" {
			continue
		}
		d.figures++
		f.N = d.figures
		row = append(row, f)
	}
	if len(row) > 0 {
		s.Blocks = append(s.Blocks, block{Figures: row})
	}
}

// markdown renders the document as GitHub-flavoured Markdown.
func (d *document) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", d.Title)
	if d.Subtitle != "" {
		fmt.Fprintf(&b, "%s\n\n", d.Subtitle)
	}
	for _, h := range d.Header {
		switch {
		case h.Pre:
			fmt.Fprintf(&b, "**%s:**\n\n```\n%s\n```\n\n", h.Key, strings.TrimRight(h.Value, "\n"))
		case h.Code:
			fmt.Fprintf(&b, "- **%s:** `%s`\n", h.Key, h.Value)
		default:
			fmt.Fprintf(&b, "- **%s:** %s\n", h.Key, h.Value)
		}
	}
	b.WriteString("\n## Contents\n\n")
	for _, s := range d.Sections {
		fmt.Fprintf(&b, "- %s %s\n", s.Number, s.Title)
	}
	b.WriteString("\n")
	var walk func(s *section)
	walk = func(s *section) {
		fmt.Fprintf(&b, "%s %s %s\n\n", strings.Repeat("#", s.Level+1), s.Number, s.Title)
		for _, bl := range s.Blocks {
			b.WriteString(bl.markdown())
		}
		for _, c := range s.Subs {
			walk(c)
		}
	}
	for _, s := range d.Sections {
		walk(s)
	}
	return b.String()
}

func (bl block) markdown() string {
	var b strings.Builder
	switch {
	case bl.Text != "":
		fmt.Fprintf(&b, "%s\n\n", bl.Text)
	case bl.Warn != "":
		fmt.Fprintf(&b, "> **Warning:** %s\n\n", bl.Warn)
	case bl.List != nil:
		for _, it := range bl.List {
			fmt.Fprintf(&b, "- %s\n", it)
		}
		b.WriteString("\n")
	case bl.Table != nil:
		b.WriteString(bl.Table.Markdown())
		b.WriteString("\n")
	case bl.Figures != nil:
		for _, f := range bl.Figures {
			fmt.Fprintf(&b, "![Figure %d](%s)\n\n*Figure %d: %s*\n\n", f.N, f.Src, f.N, f.Caption)
		}
	}
	return b.String()
}
