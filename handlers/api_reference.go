package handlers

import (
	"html/template"
	"regexp"
	"strings"

	"github.com/gofiber/fiber/v2"

	"noxportal/openapi"
)

// showOpenAPI serves the published API contract (openapi/openapi.yaml) as
// JSON. Tools on other origins may fetch it.
func (h *Handler) showOpenAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	c.Set(fiber.HeaderAccessControlAllowOrigin, "*")
	c.Set("Cross-Origin-Resource-Policy", "cross-origin")
	c.Type("json")
	return c.Send(openapi.JSON())
}

// showAPIReference renders the contract as the API reference page.
func (h *Handler) showAPIReference(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	lang := pageLang(c)
	return h.render(c, "pages/api_reference", fiber.Map{"Lang": lang, "Title": h.tr.T(lang, "apiref.title"),
		"Ref": openapi.Ref()})
}

var codeSpan = regexp.MustCompile("`([^`]+)`")

// prose renders the document's plain text: paragraphs at blank lines and
// `code` spans; everything else is escaped.
func prose(s string) template.HTML {
	var b strings.Builder
	for _, para := range strings.Split(strings.TrimSpace(s), "\n\n") {
		esc := template.HTMLEscapeString(strings.Join(strings.Fields(para), " "))
		b.WriteString("<p>")
		b.WriteString(codeSpan.ReplaceAllString(esc, "<code>$1</code>"))
		b.WriteString("</p>")
	}
	return template.HTML(b.String())
}
