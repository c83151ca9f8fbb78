package handlers

import (
	"github.com/gofiber/fiber/v2"

	"noxportal/app"
)

// switchLinkLanguage applies the language the user chose on a hosted page
// (?lang= on the link's own URL, partials/flow_bar): the session keeps it
// for every later page, so the switch keeps the session and its step. A
// browser the link is not bound to only sees this page in it.
func (h *Handler) switchLinkLanguage(c *fiber.Ctx, sess *app.LinkSession, elsewhere bool) error {
	l := c.Query("lang")
	if l == "" || l == sess.Language || !app.ValidLanguage(l) {
		return nil
	}
	if !elsewhere && !sess.Status.Final() {
		if err := h.store.SetLinkSessionLanguage(c.UserContext(), sess.ID, l); err != nil {
			return err
		}
	}
	sess.Language = l
	return nil
}
