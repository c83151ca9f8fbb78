package handlers

import (
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"noxportal/app"
)

// requestBrand stores the brand a user says is missing from the brand page
// of their link and thanks them: the form's fragment for HTMX, a page with
// the way back to the brands otherwise. A name that is too short or too
// long is refused and nothing is stored.
func (h *Handler) requestBrand(c *fiber.Ctx) error {
	token := c.FormValue("token")
	sess, ok, err := h.stepSession(c, token, app.KindSupplierLink)
	if !ok {
		return err
	}
	if sess.Status.Final() {
		return h.showEndedPage(c, sess, token)
	}
	lang := sess.Language
	raw := c.FormValue("brand_name")
	name := strings.Join(strings.Fields(app.CleanText(raw, 200)), " ")
	data := fiber.Map{"Lang": lang, "Token": token, "BrandName": name, "TestMode": sess.TestMode()}
	if n := utf8.RuneCountInString(name); n < 2 || n > 80 {
		data["Error"] = h.tr.T(lang, "brand.request_err")
		data["BrandName"] = app.CleanText(raw, 80)
		if !isFragmentRequest(c) {
			c.Status(fiber.StatusUnprocessableEntity)
		}
	} else {
		if err := h.store.RecordBrandRequest(c.UserContext(), sess, name); err != nil {
			return err
		}
		data["Thanks"] = true
	}
	if sup, err := h.sessionParty(c, sess); err == nil {
		data["Supplier"] = sup.Name
	}
	return h.render(c, "pages/connect/brand_request", data, "partials/brand_request")
}
