package handlers

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"noxportal/app"
)

// deviceOption is a device on the choice page.
type deviceOption struct {
	ID, Name, Model string
	Checked         bool
}

// deviceChoice loads what waits for the choice of the request's token and
// sets the page language. ok is false when the response is decided: an
// unknown token or an ended session (the choice is gone), or another
// browser than the one that signed in.
func (h *Handler) deviceChoice(c *fiber.Ctx, choice string) (sess app.LinkSession, conn app.Connection, ok bool, err error) {
	if choice == "" || len(choice) > 128 {
		return sess, conn, false, h.renderMessage(c, fiber.StatusNotFound, "devices.gone")
	}
	sess, browser, conn, err := h.store.DeviceChoice(c.UserContext(), choice, h.browserHash(c, false))
	if app.IsNotFound(err) {
		return sess, conn, false, h.renderMessage(c, fiber.StatusNotFound, "devices.gone")
	} else if err != nil {
		return sess, conn, false, err
	}
	c.Locals("lang", sess.Language)
	if browser != app.BrowserSame {
		return sess, conn, false, h.renderMessage(c, fiber.StatusForbidden, "link.wrong_browser")
	}
	if sess.Status.Final() || sess.Expired(time.Now()) {
		// Past the deadline: end it now (the sweeper would) and go back
		// with the outcome.
		if !sess.Status.Final() {
			if sess, err = h.store.FailLinkSession(c.UserContext(), sess.ID, app.ReasonExpired, "devices chosen after deadline"); err != nil {
				return sess, conn, false, err
			}
		}
		return sess, conn, false, c.Redirect(sess.SupplierRedirect(), fiber.StatusSeeOther)
	}
	return sess, conn, true, nil
}

// showDeviceChoice lists the devices of the manufacturer account, all
// selected, for the user to choose which to link.
func (h *Handler) showDeviceChoice(c *fiber.Ctx) error {
	choice := c.Query("choice")
	sess, conn, ok, err := h.deviceChoice(c, choice)
	if !ok {
		return err
	}
	if err := h.switchLinkLanguage(c, &sess, false); err != nil {
		return err
	}
	c.Locals("lang", sess.Language)
	return h.renderDeviceChoice(c, sess, conn, choice, nil, "")
}

// chooseDevices links the chosen devices (at least one, all of the
// account's) or, with action=cancel, ends the session as cancelled; both
// return to the supplier.
func (h *Handler) chooseDevices(c *fiber.Ctx) error {
	choice := c.FormValue("choice")
	sess, conn, ok, err := h.deviceChoice(c, choice)
	if !ok {
		return err
	}
	if c.FormValue("action") == "cancel" {
		ended, err := h.store.FailLinkSession(c.UserContext(), sess.ID, app.ReasonCancelled, "cancelled at the device choice")
		if err != nil {
			return err
		}
		return c.Redirect(ended.SupplierRedirect(), fiber.StatusSeeOther)
	}
	ids := []string{} // not nil: the page shows this choice again, not all
	for _, v := range c.Request().PostArgs().PeekMulti("device") {
		ids = append(ids, string(v))
	}
	done, err := h.links.ChooseDevices(c.UserContext(), sess, conn, ids)
	if app.ErrorCode(err) == app.EINVALID {
		c.Status(fiber.StatusUnprocessableEntity)
		return h.renderDeviceChoice(c, sess, conn, choice, ids, h.tr.T(sess.Language, "devices.none_chosen"))
	} else if err != nil {
		return err
	}
	return c.Redirect(done.Redirect, fiber.StatusSeeOther)
}

// renderDeviceChoice renders the choice page; checked are the devices to
// show selected (nil: all).
func (h *Handler) renderDeviceChoice(c *fiber.Ctx, sess app.LinkSession, conn app.Connection, choice string, checked []string, errMsg string) error {
	sup, cb, err := h.sessionLook(c, sess)
	if err != nil {
		return err
	}
	m, err := h.store.GetManufacturer(c.UserContext(), conn.ManufacturerID)
	if err != nil {
		return err
	}
	on := map[string]bool{}
	for _, id := range checked {
		on[id] = true
	}
	opts := make([]deviceOption, len(conn.Devices))
	for i, d := range conn.Devices {
		opts[i] = deviceOption{ID: d.ID, Name: d.Name, Model: d.Model, Checked: checked == nil || on[d.ID]}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.render(c, "pages/connect/devices", fiber.Map{"Lang": sess.Language, "Choice": choice, "CoBrand": cb, "TestMode": sess.TestMode(),
		"Supplier": sup.Name, "BrandName": m.Name, "Devices": opts, "Count": len(opts), "Error": errMsg})
}
