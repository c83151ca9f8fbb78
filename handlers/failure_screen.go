package handlers

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"noxportal/app"
)

// heldFailure loads the session held on the failure screen of the
// request's state and sets the page language. ok is false when the
// response is decided: an unknown state, another browser than the one that
// signed in, a session that ended (back to the supplier with its outcome)
// or one that moved on (a retry).
func (h *Handler) heldFailure(c *fiber.Ctx, state string) (sess app.LinkSession, ok bool, err error) {
	if state == "" || len(state) > 128 {
		return sess, false, h.renderMessage(c, fiber.StatusNotFound, "failure.gone")
	}
	sess, browser, err := h.store.HeldSession(c.UserContext(), state, h.browserHash(c, false))
	if app.IsNotFound(err) {
		return sess, false, h.renderMessage(c, fiber.StatusNotFound, "failure.gone")
	} else if err != nil {
		return sess, false, err
	}
	c.Locals("lang", sess.Language)
	switch {
	case browser != app.BrowserSame:
		return sess, false, h.renderMessage(c, fiber.StatusForbidden, "link.wrong_browser")
	case sess.Status.Final():
		return sess, false, c.Redirect(sess.SupplierRedirect(), fiber.StatusSeeOther)
	case !sess.Held():
		return sess, false, h.renderMessage(c, fiber.StatusNotFound, "failure.gone")
	case sess.Expired(time.Now()):
		// The link's time is up: nothing can be fixed now; end it with the
		// held failure (the lease sweeper would) and go back.
		return sess, false, h.leaveFailure(c, sess, state)
	}
	return sess, true, nil
}

// showFailure shows a failed sign-in the user can fix: try again (or sign
// in with another account), choose another brand, or return to the
// supplier with the failure.
func (h *Handler) showFailure(c *fiber.Ctx) error {
	state := c.Query("state")
	sess, ok, err := h.heldFailure(c, state)
	if !ok {
		return err
	}
	if err := h.switchLinkLanguage(c, &sess, false); err != nil {
		return err
	}
	c.Locals("lang", sess.Language)
	return h.renderFailure(c, sess, state, "")
}

// answerFailure carries out the user's choice on the failure screen:
// action=retry signs in again at brand (default: the same brand),
// action=return ends the session and returns to the supplier with exactly
// the redirect it gets without the screen.
func (h *Handler) answerFailure(c *fiber.Ctx) error {
	state := c.FormValue("state")
	sess, ok, err := h.heldFailure(c, state)
	if !ok {
		return err
	}
	switch c.FormValue("action") {
	case "return":
		return h.leaveFailure(c, sess, state)
	case "retry":
	default:
		c.Status(fiber.StatusUnprocessableEntity)
		return h.renderFailure(c, sess, state, h.tr.T(sess.Language, "failure.unknown_action"))
	}
	brand := c.FormValue("brand")
	if brand == "" {
		brand = sess.Brand()
	}
	if !h.manufacturers.Offers(sess.SupplierID, brand) {
		c.Status(fiber.StatusUnprocessableEntity)
		return h.renderFailure(c, sess, state, h.tr.T(sess.Language, "brand.unknown"))
	}
	m, err := h.store.GetManufacturer(c.UserContext(), brand)
	if err != nil {
		return err
	}
	if !m.Selectable() {
		c.Status(fiber.StatusConflict)
		return h.renderFailure(c, sess, state, h.tr.T(sess.Language, "brand.unavailable", m.Name))
	}
	u, updated, err := h.links.Retry(c.UserContext(), state, brand, sess.Language, h.browserHash(c, false))
	if err != nil {
		return h.failureRefused(c, updated.OrElse(sess), err)
	}
	return c.Redirect(u, fiber.StatusSeeOther)
}

// failureRefused answers a step of the failure screen that the state
// machine refused: an ended session goes back to the supplier with its
// outcome, one that moved on says the screen is gone, another browser is
// told so.
func (h *Handler) failureRefused(c *fiber.Ctx, sess app.LinkSession, err error) error {
	switch app.ErrorCode(err) {
	case app.ECONFLICT:
		if sess.Status.Final() {
			return c.Redirect(sess.SupplierRedirect(), fiber.StatusSeeOther)
		}
		return h.renderMessage(c, fiber.StatusNotFound, "failure.gone")
	case app.EFORBIDDEN:
		return h.renderMessage(c, fiber.StatusForbidden, "link.wrong_browser")
	}
	return err
}

// leaveFailure ends the held session with its failure and returns to the
// supplier with it.
func (h *Handler) leaveFailure(c *fiber.Ctx, sess app.LinkSession, state string) error {
	ended, err := h.store.LeaveFailure(c.UserContext(), state, h.browserHash(c, false))
	if err != nil {
		return h.failureRefused(c, ended.OrElse(sess), err)
	}
	return c.Redirect(ended.SupplierRedirect(), fiber.StatusSeeOther)
}

// renderFailure renders the failure screen of a held session.
func (h *Handler) renderFailure(c *fiber.Ctx, sess app.LinkSession, state, errMsg string) error {
	sup, cb, err := h.sessionLook(c, sess)
	if err != nil {
		return err
	}
	m, err := h.store.GetManufacturer(c.UserContext(), sess.Brand())
	if err != nil {
		return err
	}
	ms, err := h.store.ListManufacturers(c.UserContext(), h.manufacturers.OfferedIDs(sess.SupplierID))
	if err != nil {
		return err
	}
	var others []brandTile
	for _, t := range brandTiles(ms, "") {
		if t.ID != m.ID {
			others = append(others, t)
		}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.render(c, "pages/connect/failure", fiber.Map{"Lang": sess.Language, "FailureState": state, "CoBrand": cb,
		"TestMode": sess.TestMode(), "Supplier": sup.Name, "Brand": m.ID, "BrandName": m.Name, "Reason": sess.HeldFailure(),
		"Brands": others, "Error": errMsg})
}
