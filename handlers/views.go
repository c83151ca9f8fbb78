package handlers

import (
	"fmt"
	"html/template"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/gofiber/template/html/v2"

	"noxportal/views"
)

// pageEngine is the server's fiber.Views: gofiber/template/html/v2 over
// views/, every template named by its path without ".html"
// ("pages/connect/select", "partials/head"), all parsed into one set.
//
// It refuses layouts. In v2.1.3 a render with a layout holds the engine's
// exclusive mutex for the whole render, so every page would be served one at
// a time; a render without one only takes a read lock for the lookup. Pages
// therefore open and close themselves with partials/head and partials/foot
// (see views/embed.go), and no caller can mix the two kinds of render.
type pageEngine struct {
	*html.Engine
}

// newPageEngine parses the embedded templates with funcs. With reload the
// templates are read from the views/ folder of the working directory again
// on every render (development only).
func newPageEngine(reload bool, funcs template.FuncMap) (*pageEngine, error) {
	var e *html.Engine
	if reload {
		dir, err := filepath.Abs("views")
		if err != nil {
			return nil, fmt.Errorf("views: %w", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "pages")); err != nil {
			return nil, fmt.Errorf("views: views.reload reads templates from %s: %w", dir, err)
		}
		e = html.New(dir, ".html")
		e.Reload(true)
	} else {
		e = html.NewFileSystem(http.FS(views.FS), ".html")
	}
	e.AddFuncMap(funcs)
	v := &pageEngine{Engine: e}
	if err := v.Load(); err != nil {
		return nil, err
	}
	return v, nil
}

// Load parses the templates (once; fiber calls it again at start-up) and
// escapes each of them. html/template escapes a template on its first
// execution and then marks it in the shared set, while the engine copies
// the looked-up template outside any lock: escaping everything here, before
// the first request, leaves renders only reading shared state.
func (v *pageEngine) Load() error {
	if err := v.Engine.Load(); err != nil {
		return fmt.Errorf("views: %w", err)
	}
	v.Mutex.RLock()
	defer v.Mutex.RUnlock()
	for _, t := range v.Templates.Templates() {
		// Executing with no data stops at the first field; the escaping,
		// which happens before, is what is wanted here.
		_ = t.Execute(io.Discard, nil)
	}
	return nil
}

// Render writes the template name with binding. A layout is an error: see
// pageEngine.
func (v *pageEngine) Render(w io.Writer, name string, binding any, layout ...string) error {
	for _, l := range layout {
		if l != "" {
			return fmt.Errorf("views: %s rendered with layout %q: pages include partials/head and partials/foot instead", name, l)
		}
	}
	return v.Engine.Render(w, name, binding)
}
