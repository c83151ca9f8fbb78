package handlers

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"noxportal/app"
)

// brandTile is a manufacturer as shown on the brand page.
// Its fields are flat: templates find a promoted field of an embedded
// struct by a slow search on every use.
type brandTile struct {
	ID, Name, Kind, Status, StatusMessage string
	Selectable                            bool
}

// showBrandPage opens a link: unknown token → 404 page, ended → a page that
// says what happened with a way back to the supplier, in use in another
// browser → a page offering to continue here instead, preselected brand →
// a "Continue to <brand>" page, otherwise the brand page. It changes
// nothing a user's browser depends on: binding and authorization start at
// the user's first POST.
func (h *Handler) showBrandPage(c *fiber.Ctx) error {
	sess, token, found, elsewhere, err := h.openLink(c)
	if err != nil {
		return err
	} else if !found {
		return h.linkNotFound(c)
	}
	if sess.Kind == app.KindSupplierSelect {
		return c.Redirect(h.supplierSelectorURL(token), fiber.StatusSeeOther)
	}
	if sess.Status.Final() {
		return h.showEndedPage(c, sess, token)
	}
	if elsewhere {
		return h.showInUsePage(c, sess, token)
	}
	if sess.Preselected && h.manufacturers.Offers(sess.SupplierID, sess.Brand()) {
		m, err := h.store.GetManufacturer(c.UserContext(), sess.Brand())
		if err != nil {
			return err
		}
		if m.Selectable() {
			return h.showContinuePage(c, sess, token, m)
		}
	}
	return h.renderBrandPage(c, sess, token, c.Query("q"), "")
}

// openLink opens the link of the request's token and sets the page
// language; found is false when the token is unknown, elsewhere is true
// when the session is bound to another browser.
func (h *Handler) openLink(c *fiber.Ctx) (sess app.LinkSession, token string, found, elsewhere bool, err error) {
	token = c.Query("token")
	if token == "" || len(token) > 128 {
		return sess, token, false, false, nil
	}
	sess, elsewhere, err = h.store.OpenLinkSession(c.UserContext(), token, h.browserHash(c, true))
	if app.IsNotFound(err) {
		return sess, token, false, false, nil
	} else if err != nil {
		return sess, token, false, false, err
	}
	if err := h.switchLinkLanguage(c, &sess, elsewhere); err != nil {
		return sess, token, false, false, err
	}
	c.Locals("lang", sess.Language)
	return sess, token, true, elsewhere, nil
}

// showInUsePage tells a browser that the link is in use in another one and
// offers to continue here instead.
func (h *Handler) showInUsePage(c *fiber.Ctx, sess app.LinkSession, token string) error {
	_, cb, err := h.sessionLook(c, sess)
	if err != nil {
		return err
	}
	c.Status(fiber.StatusConflict)
	return h.render(c, "pages/connect/in_use", fiber.Map{"Lang": sess.Language, "Token": token, "CoBrand": cb, "TestMode": sess.TestMode()})
}

// showContinuePage asks the user of a link with a preselected brand to
// continue to that brand's login (a POST, so a fetch of the link alone
// starts nothing).
func (h *Handler) showContinuePage(c *fiber.Ctx, sess app.LinkSession, token string, m app.Manufacturer) error {
	sup, cb, err := h.sessionLook(c, sess)
	if err != nil {
		return err
	}
	return h.render(c, "pages/connect/continue", fiber.Map{"Lang": sess.Language, "Token": token, "CoBrand": cb, "TestMode": sess.TestMode(),
		"Supplier": sup.Name, "Brand": m.ID, "BrandName": m.Name})
}

// takeOverLink moves the link to this browser at the user's request and
// shows it here.
func (h *Handler) takeOverLink(c *fiber.Ctx) error {
	token := c.FormValue("token")
	sess, ok, err := h.stepSession(c, token, "")
	if !ok {
		return err
	}
	updated, err := h.store.TakeOverLink(c.UserContext(), token, h.browserHash(c, true))
	switch app.ErrorCode(err) {
	case "":
	case app.ECONFLICT:
		return h.showEndedPage(c, updated.OrElse(sess), token)
	default:
		return err
	}
	if sess.Kind == app.KindSupplierSelect {
		return c.Redirect(h.supplierSelectorURL(token), fiber.StatusSeeOther)
	}
	return c.Redirect(h.linkURL(token), fiber.StatusSeeOther)
}

func (h *Handler) linkNotFound(c *fiber.Ctx) error {
	return h.renderMessage(c, fiber.StatusNotFound, "link.not_found")
}

// renderMessage renders the message page with the translations of
// key+".title" and key+".body" in the page language.
func (h *Handler) renderMessage(c *fiber.Ctx, status int, key string) error {
	lang := pageLang(c)
	c.Status(status)
	return h.render(c, "pages/error", fiber.Map{"Lang": lang, "Title": h.tr.T(lang, key+".title"),
		"Message": h.tr.T(lang, key+".body"), "Status": status})
}

// currentSession returns the session of a link token as it stands now: an
// unfinished session past its deadline is expired first, so no step is
// offered after the deadline even before the sweeper has run.
func (h *Handler) currentSession(c *fiber.Ctx, token string) (app.LinkSession, error) {
	sess, err := h.store.LinkSessionByToken(c.UserContext(), token)
	if err != nil || sess.Status.Final() || !sess.Expired(time.Now()) {
		return sess, err
	}
	return h.store.FailLinkSession(c.UserContext(), sess.ID, app.ReasonExpired, "used after deadline")
}

// stepSession loads the session of token for a step of the hosted flow and
// sets the page language. An unknown token, or a session of another kind
// than kind (when set), answers the not-found page; ok is false when the
// response is decided (err is then what the handler returns).
func (h *Handler) stepSession(c *fiber.Ctx, token string, kind app.SessionKind) (sess app.LinkSession, ok bool, err error) {
	sess, err = h.currentSession(c, token)
	if app.IsNotFound(err) || (err == nil && kind != "" && sess.Kind != kind) {
		return sess, false, h.linkNotFound(c)
	} else if err != nil {
		return sess, false, err
	}
	c.Locals("lang", sess.Language)
	return sess, true, nil
}

// wholeMinutes is a link lifetime as pages name it: rounded to minutes, at
// least one.
func wholeMinutes(d time.Duration) int { return max(1, int(d.Round(time.Minute).Minutes())) }

// showEndedPage explains an ended session and offers the way back.
func (h *Handler) showEndedPage(c *fiber.Ctx, sess app.LinkSession, token string) error {
	sup, err := h.sessionParty(c, sess)
	if err != nil {
		return err
	}
	key := "link.used"
	switch {
	case sess.Status == app.StatusExpired:
		key = "link.expired"
		c.Status(fiber.StatusGone)
	case sess.Status == app.StatusFailed && sess.Reason() == app.ReasonManufacturerError:
		key = "link.failed"
	}
	connected := sess.Status == app.StatusConnected
	// The link's own lifetime (supplier links 15 minutes, dashboard links
	// their own), in whole minutes.
	minutes := wholeMinutes(sess.ExpiresAt.Sub(sess.CreatedAt))
	cb, err := h.coBrandFor(c, sess, sup.Name)
	if err != nil {
		return err
	}
	shell := shellKey("ended", sess.Language, key, strconv.FormatBool(connected), strconv.Itoa(minutes), sup.Name, coBrandKey(cb),
		strconv.FormatBool(sess.TestMode()))
	if h.serveShell(c, shell, token) {
		return nil
	}
	return h.renderShell(c, shell, "pages/connect/ended", fiber.Map{
		"Lang": sess.Language, "Key": key, "Supplier": sup.Name, "Token": token,
		"Connected": connected, "Minutes": minutes, "CoBrand": cb, "TestMode": sess.TestMode(),
	})
}

// sessionLook is what a hosted page of sess shows of its party: the party
// (sessionParty) and the supplier's co-branding (coBrandFor).
func (h *Handler) sessionLook(c *fiber.Ctx, sess app.LinkSession) (app.Supplier, *coBrand, error) {
	sup, err := h.sessionParty(c, sess)
	if err != nil {
		return sup, nil, err
	}
	cb, err := h.coBrandFor(c, sess, sup.Name)
	return sup, cb, err
}

// sessionParty is who the user returns to at the end of a session: the
// supplier, the manufacturer in flow 2, or NOX Energy itself for a session
// started from the customer's own dashboard.
func (h *Handler) sessionParty(c *fiber.Ctx, sess app.LinkSession) (app.Supplier, error) {
	// The names come from the catalogue cache the brand page reads
	// (db/catalog_cache.go), not from a query per view.
	switch {
	case sess.Kind == app.KindSupplierSelect && sess.Brand() != "":
		name, err := h.store.ManufacturerName(c.UserContext(), sess.Brand())
		return app.Supplier{Name: name}, err
	case sess.Initiator == app.InitiatorCustomer:
		return app.Supplier{Name: "NOX Energy"}, nil
	}
	name, err := h.store.SupplierName(c.UserContext(), sess.SupplierID)
	return app.Supplier{ID: sess.SupplierID, Name: name}, err
}

func (h *Handler) renderBrandPage(c *fiber.Ctx, sess app.LinkSession, token, q, errMsg string) error {
	var supplier string
	var ms []app.Manufacturer
	var err error
	if sess.SupplierID != "" && sess.Initiator != app.InitiatorCustomer {
		// The supplier's own link: supplier name and brands in one query.
		supplier, ms, err = h.store.BrandPage(c.UserContext(), sess.SupplierID, h.manufacturers.OfferedIDs(sess.SupplierID))
	} else {
		var party app.Supplier
		if party, err = h.sessionParty(c, sess); err == nil {
			supplier = party.Name
			ms, err = h.store.ListManufacturers(c.UserContext(), h.manufacturers.OfferedIDs(sess.SupplierID))
		}
	}
	if err != nil {
		return err
	}
	cb, err := h.coBrandFor(c, sess, supplier)
	if err != nil {
		return err
	}
	// The page of a plain view is the same for every link of this supplier
	// in this language while the brands and co-branding do not change.
	var key string
	if q == "" && errMsg == "" && !isFragmentRequest(c) {
		key = brandShellKey(sess.Language, supplier, ms) + "\x00" + coBrandKey(cb) + "\x00" + strconv.FormatBool(sess.TestMode())
		if h.serveShell(c, key, token) {
			return nil
		}
	}
	tiles := brandTiles(ms, q)
	if errMsg != "" {
		c.Status(fiber.StatusConflict)
	}
	data := fiber.Map{
		"Lang": sess.Language, "Pick": "brand", "SearchURL": "/connect/brands", "Party": supplier, "Token": token, "Query": q,
		"Brands": tiles, "Error": errMsg, "CoBrand": cb, "TestMode": sess.TestMode(),
	}
	if key != "" {
		return h.renderShell(c, key, "pages/connect/select", data)
	}
	return h.render(c, "pages/connect/select", data, "partials/brand_tiles")
}

// brandShellKey names the brand page of a supplier in a language with
// these brands: everything the page shows besides the two tokens.
func brandShellKey(lang, supplier string, ms []app.Manufacturer) string {
	parts := make([]string, 0, 3+6*len(ms))
	parts = append(parts, "brands", lang, supplier)
	for _, m := range ms {
		parts = append(parts, strconv.FormatBool(m.Enabled), m.ID, m.Name, m.Kind, m.Status, m.StatusMessage)
	}
	return shellKey(parts...)
}

// brandTiles lists the enabled brands of ms whose name matches q (case-insensitive).
func brandTiles(ms []app.Manufacturer, q string) []brandTile {
	q = strings.ToLower(strings.TrimSpace(q))
	var out []brandTile
	for _, m := range ms {
		if !m.Enabled {
			continue
		}
		if q != "" && !strings.Contains(strings.ToLower(m.Name), q) && !strings.Contains(m.ID, q) {
			continue
		}
		out = append(out, brandTile{ID: m.ID, Name: m.Name, Kind: m.Kind, Status: m.Status,
			StatusMessage: m.StatusMessage, Selectable: m.Selectable()})
	}
	return out
}

// filterBrands answers the brand search: the tiles fragment for HTMX, the
// whole page otherwise.
func (h *Handler) filterBrands(c *fiber.Ctx) error {
	token := c.Query("token")
	sess, ok, err := h.stepSession(c, token, "")
	if !ok {
		return err
	}
	if sess.Status.Final() {
		return h.showEndedPage(c, sess, token)
	}
	return h.renderBrandPage(c, sess, token, c.Query("q"), "")
}

// selectBrand starts the OAuth login at the chosen brand.
func (h *Handler) selectBrand(c *fiber.Ctx) error {
	token := c.FormValue("token")
	sess, ok, err := h.stepSession(c, token, "")
	if !ok {
		return err
	}
	brand := c.FormValue("brand")
	if !h.manufacturers.Offers(sess.SupplierID, brand) {
		return h.renderBrandPage(c, sess, token, "", h.tr.T(sess.Language, "brand.unknown"))
	}
	m, err := h.store.GetManufacturer(c.UserContext(), brand)
	if err != nil {
		return err
	}
	if !m.Selectable() {
		return h.renderBrandPage(c, sess, token, "", h.tr.T(sess.Language, "brand.unavailable", m.Name))
	}
	return h.chooseAndSignIn(c, sess, token, app.Choice{Brand: brand})
}

// chooseAndSignIn records the user's choice (a brand, or a supplier in flow
// 2) and sends the browser to its login page; a session that ended shows
// the ended page, one in use in another browser the in-use page.
func (h *Handler) chooseAndSignIn(c *fiber.Ctx, sess app.LinkSession, token string, choice app.Choice) error {
	u, updated, err := h.links.Choose(c.UserContext(), sess, choice, h.browserHash(c, true))
	switch app.ErrorCode(err) {
	case "":
		return c.Redirect(u, fiber.StatusSeeOther)
	case app.ECONFLICT:
		return h.showEndedPage(c, updated.OrElse(sess), token)
	case app.EFORBIDDEN:
		return h.showInUsePage(c, sess, token)
	}
	return err
}

// cancelLink ends the session at the user's request and returns to the
// supplier; a link held by another browser shows the in-use page instead.
func (h *Handler) cancelLink(c *fiber.Ctx) error {
	token := c.FormValue("token")
	sess, err := h.currentSession(c, token)
	if app.IsNotFound(err) {
		return h.linkNotFound(c)
	} else if err != nil {
		return err
	}
	if !sess.Status.Final() {
		updated, err := h.store.CancelLink(c.UserContext(), sess.ID, h.browserHash(c, true))
		if app.ErrorCode(err) == app.EFORBIDDEN {
			c.Locals("lang", sess.Language)
			return h.showInUsePage(c, sess, token)
		} else if err != nil {
			return err
		}
		sess = updated
	}
	return c.Redirect(sess.SupplierRedirect(), fiber.StatusSeeOther)
}

// returnToSupplier sends the user of an ended session back to the supplier
// with the outcome; an unfinished session goes back to its brand page.
func (h *Handler) returnToSupplier(c *fiber.Ctx) error {
	token := c.Query("token")
	sess, err := h.currentSession(c, token)
	if app.IsNotFound(err) {
		return h.linkNotFound(c)
	} else if err != nil {
		return err
	}
	if !sess.Status.Final() {
		return c.Redirect(h.linkURL(token), fiber.StatusSeeOther)
	}
	return c.Redirect(sess.SupplierRedirect(), fiber.StatusSeeOther)
}

// handleOAuthCallback finishes the manufacturer login (app.LinkFlow.FinishCallback)
// and sends the user back to the supplier with the outcome.
func (h *Handler) handleOAuthCallback(c *fiber.Ctx) error {
	brand := c.Params("brand")
	cb, ok := app.ParseOAuthCallback(c.Query("state"), c.Query("code"), c.Query("error"), c.Query("error_description"))
	if !ok || !h.manufacturers.Served(brand) {
		return h.badCallback(c)
	}
	done, err := h.links.FinishCallback(c.UserContext(), brand, cb, h.browserHash(c, false))
	return h.finishSignIn(c, done, err)
}

// finishSignIn answers the end of a sign-in at a manufacturer or supplier:
// the redirect back with the outcome, or the page of a refusal.
func (h *Handler) finishSignIn(c *fiber.Ctx, done app.Finished, err error) error {
	switch app.ErrorCode(err) {
	case "":
		return c.Redirect(done.Redirect, fiber.StatusSeeOther)
	case app.ENOTFOUND:
		return h.badCallback(c)
	case app.EFORBIDDEN:
		c.Locals("lang", done.Session.Language)
		if app.ErrorReason(err) == app.ErrTakenOver.Reason {
			return h.renderMessage(c, fiber.StatusForbidden, "link.taken_over")
		}
		return h.renderMessage(c, fiber.StatusForbidden, "link.wrong_browser")
	}
	return err
}

func (h *Handler) badCallback(c *fiber.Ctx) error {
	return h.renderMessage(c, fiber.StatusBadRequest, "callback.invalid")
}

func (h *Handler) showHome(c *fiber.Ctx) error {
	return h.render(c, "pages/home", fiber.Map{})
}
