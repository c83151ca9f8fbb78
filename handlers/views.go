package handlers

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"
)

// pageViews renders the templates of views.FS, each named by its path
// without ".html" ("pages/connect/brands"), all in one set so pages can use
// partials. A page with a layout is rendered first into a pooled buffer and
// then handed to the layout as .Embed: renders share nothing mutable, so
// any number run at once.
type pageViews struct {
	set  *template.Template
	bufs sync.Pool
}

func newPageViews(fsys fs.FS, funcs template.FuncMap) (*pageViews, error) {
	set := template.New("").Funcs(funcs)
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".html") {
			return err
		}
		b, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		_, err = set.New(strings.TrimSuffix(path, ".html")).Parse(string(b))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("views: %w", err)
	}
	return &pageViews{set: set, bufs: sync.Pool{New: func() any { return new(bytes.Buffer) }}}, nil
}

// Load satisfies fiber.Views; the templates are parsed by newPageViews.
func (v *pageViews) Load() error { return nil }

// Render writes the template name with binding, inside layout[0] when given
// (the layout shows the page with {{.Embed}}; binding must then be a map).
func (v *pageViews) Render(w io.Writer, name string, binding any, layout ...string) error {
	if len(layout) == 0 || layout[0] == "" {
		return v.set.ExecuteTemplate(w, name, binding)
	}
	if len(layout) > 1 {
		return fmt.Errorf("views: one layout at most, got %v", layout)
	}
	var data map[string]any
	switch m := binding.(type) {
	case fiber.Map:
		data = m
	case map[string]any:
		data = m
	default:
		return fmt.Errorf("views: a page with a layout needs map data, got %T", binding)
	}
	buf := v.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer v.bufs.Put(buf)
	if err := v.set.ExecuteTemplate(buf, name, binding); err != nil {
		return err
	}
	data["Embed"] = template.HTML(buf.String())
	return v.set.ExecuteTemplate(w, layout[0], data)
}
