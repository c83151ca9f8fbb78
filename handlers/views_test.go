package handlers

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gofiber/fiber/v2"

	"noxportal/app"
	"noxportal/views"
)

// mustPageEngine builds the page engine the server uses, with its functions.
func mustPageEngine(tb testing.TB, reload bool) *pageEngine {
	tb.Helper()
	tr, err := app.NewTranslator(views.Locales())
	if err != nil {
		tb.Fatal(err)
	}
	h := &Handler{tr: tr}
	e, err := newPageEngine(reload, h.templateFuncs())
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// pageData is what render and renderPortal hand every page.
func pageData(lang string, portal bool) fiber.Map {
	return fiber.Map{"Lang": lang, "CSRF": "csrf-token", "Languages": languagesFor(lang), "Portal": portal,
		"Title": "Title", "Here": "/here", "Message": "message", "Status": 404}
}

func TestPagesRenderInParallelWithTheSameBytes(t *testing.T) {
	e := mustPageEngine(t, false)
	// A second engine whose first renders all happen at once, as on a
	// server that just started.
	fresh := mustPageEngine(t, false)
	type page struct {
		name string
		data fiber.Map
	}
	var pages []page
	for _, lang := range app.Languages {
		pages = append(pages,
			page{"pages/home", pageData(lang, false)},
			page{"pages/error", pageData(lang, false)},
			page{"pages/error", pageData(lang, true)},
			page{"pages/portal/login", pageData(lang, true)},
		)
	}
	want := make([]string, len(pages))
	for i, p := range pages {
		var b bytes.Buffer
		if err := e.Render(&b, p.name, p.data); err != nil {
			t.Fatalf("render %s: %v", p.name, err)
		}
		want[i] = b.String()
		if !strings.HasPrefix(want[i], "<!doctype html>") || !strings.HasSuffix(want[i], "</html>\n") {
			t.Fatalf("%s is not a whole page:\n%s", p.name, want[i])
		}
	}
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < 50; r++ {
				i := (g + r) % len(pages)
				var b bytes.Buffer
				if err := fresh.Render(&b, pages[i].name, pages[i].data); err != nil {
					t.Errorf("render %s: %v", pages[i].name, err)
					return
				}
				if b.String() != want[i] {
					t.Errorf("%s rendered in parallel differs from the sequential render", pages[i].name)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestPortalAndSiteFramesDiffer(t *testing.T) {
	e := mustPageEngine(t, false)
	var site, portal bytes.Buffer
	if err := e.Render(&site, "pages/error", pageData("en", false)); err != nil {
		t.Fatal(err)
	}
	if err := e.Render(&portal, "pages/error", pageData("en", true)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(site.String(), `class="portal"`) || !strings.Contains(portal.String(), `<body class="portal">`) {
		t.Errorf("got site frame %q…, portal frame %q…; want the portal body only with .Portal",
			site.String()[:300], portal.String()[:300])
	}
}

func TestRenderWithLayoutIsRefused(t *testing.T) {
	e := mustPageEngine(t, false)
	var b bytes.Buffer
	err := e.Render(&b, "pages/home", pageData("en", false), "layouts/base")
	if err == nil || !strings.Contains(err.Error(), "partials/head") {
		t.Errorf("render with a layout: got error %v, want a refusal naming partials/head", err)
	}
	if b.Len() != 0 {
		t.Errorf("render with a layout wrote %d bytes, want none", b.Len())
	}
}

func TestViewsReloadShowsEditedTemplate(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "views"), views.FS); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	e := mustPageEngine(t, true)
	render := func() string {
		var b bytes.Buffer
		if err := e.Render(&b, "pages/home", pageData("en", false)); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	if strings.Contains(render(), "edited-marker") {
		t.Fatal("home page has the marker before the edit")
	}
	home := filepath.Join(dir, "views", "pages", "home.html")
	b, err := os.ReadFile(home)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(b), "</section>", "<p>edited-marker</p></section>", 1)
	if err := os.WriteFile(home, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(render(), "edited-marker") {
		t.Error("with views.reload the edited home page is not shown without a restart")
	}
}
