package handlers

import (
	"html/template"
	"strings"

	"github.com/gofiber/fiber/v2"

	"noxportal/handlers/htmx"
)

// isFragmentRequest reports whether an HTMX request wants a fragment: it is
// an HTMX request that is neither boosted nor a history restore.
func isFragmentRequest(c *fiber.Ctx) bool {
	return c.Get(htmx.HeaderRequest) == "true" && c.Get(htmx.HeaderBoosted) != "true" &&
		c.Get(htmx.HeaderHistoryRestore) != "true"
}

// render renders page in the hosted-flow frame, or only its fragment template
// (when given) for an HTMX fragment request. It always sends Vary: HX-Request
// so caches keep the two apart.
func (h *Handler) render(c *fiber.Ctx, page string, data fiber.Map, fragment ...string) error {
	c.Vary(htmx.HeaderRequest)
	h.fillPageData(c, data)
	if len(fragment) > 0 && isFragmentRequest(c) {
		return c.Render(fragment[0], data)
	}
	return c.Render(page, data)
}

// fillPageData adds what every page shows to data: the page language, the
// CSRF token and the language options.
func (h *Handler) fillPageData(c *fiber.Ctx, data fiber.Map) {
	if _, ok := data["Lang"]; !ok {
		data["Lang"] = pageLang(c)
	}
	if _, ok := data["CSRF"]; !ok {
		data["CSRF"] = h.csrfToken(c)
	}
	data["Languages"] = languagesFor(data["Lang"].(string))
}

type langOption struct {
	Code     string
	Selected bool
}

func languagesFor(current string) []langOption {
	out := make([]langOption, 0, 5)
	for _, l := range []string{"en", "nl", "de", "fr", "es"} {
		out = append(out, langOption{Code: l, Selected: l == current})
	}
	return out
}

// idBreaks is an identifier (a device id, a key) with line-break
// opportunities (<wbr>) after its separators only, so a narrow screen wraps
// it between its parts and never inside one (CSS: .id-breaks).
func idBreaks(id string) template.HTML {
	var b strings.Builder
	start := 0
	for i := 0; i < len(id); i++ {
		switch id[i] {
		case '-', '_', '.', ':', '/':
			b.WriteString(template.HTMLEscapeString(id[start : i+1]))
			if i+1 < len(id) {
				b.WriteString("<wbr>")
			}
			start = i + 1
		}
	}
	b.WriteString(template.HTMLEscapeString(id[start:]))
	return template.HTML(b.String())
}
