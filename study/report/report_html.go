package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
)

//go:embed report.html.tmpl
var reportTemplateText string

// reportTemplate renders a document as one self-contained HTML page: inline
// CSS, images by relative path, no external assets. The page's own script
// writes a marker (#page-check) once every image has loaded.
var reportTemplate = template.Must(template.New("report").Parse(reportTemplateText))

// html renders the document as index.html.
func (d *document) html() ([]byte, error) {
	var b bytes.Buffer
	if err := reportTemplate.Execute(&b, d); err != nil {
		return nil, fmt.Errorf("render index.html: %w", err)
	}
	return b.Bytes(), nil
}

// IsNum reports whether column i is numeric (right-aligned).

// IsFlag reports whether row r is highlighted.
