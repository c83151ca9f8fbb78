package handlers

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"noxportal/app"
)

// The supplier selector of flow 2: a user who starts at a manufacturer picks
// the energy supplier, logs in on the supplier's OAuth page, and comes back
// through /connect/supplier/return to the manufacturer.

// showSupplierSelector opens a flow-2 link (binding happens at the choice
// of a supplier): unknown token → 404 page, ended → the ended page, in use
// in another browser → the page offering to continue here, otherwise the
// list of suppliers with a login page.
func (h *Handler) showSupplierSelector(c *fiber.Ctx) error {
	sess, token, found, elsewhere, err := h.openLink(c)
	if err != nil {
		return err
	} else if !found {
		return h.linkNotFound(c)
	}
	if sess.Kind != app.KindSupplierSelect {
		return c.Redirect(h.linkURL(token), fiber.StatusSeeOther)
	}
	if sess.Status.Final() {
		return h.showEndedPage(c, sess, token)
	}
	if elsewhere {
		return h.showInUsePage(c, sess, token)
	}
	return h.renderSupplierSelector(c, sess, token, c.Query("q"), "")
}

// filterSuppliers answers the supplier search: the list fragment for HTMX,
// the whole page otherwise.
func (h *Handler) filterSuppliers(c *fiber.Ctx) error {
	token := c.Query("token")
	sess, ok, err := h.stepSession(c, token, app.KindSupplierSelect)
	if !ok {
		return err
	}
	if sess.Status.Final() {
		return h.showEndedPage(c, sess, token)
	}
	return h.renderSupplierSelector(c, sess, token, c.Query("q"), "")
}

func (h *Handler) renderSupplierSelector(c *fiber.Ctx, sess app.LinkSession, token, q, errMsg string) error {
	m, err := h.sessionParty(c, sess)
	if err != nil {
		return err
	}
	suppliers, err := h.loginSuppliers(c, sess, q)
	if err != nil {
		return err
	}
	// A plain view is the same for every link of this manufacturer in this
	// language while the suppliers do not change.
	var key string
	if q == "" && errMsg == "" && !isFragmentRequest(c) {
		key = supplierShellKey(sess.Language, m.Name, suppliers)
		if h.serveShell(c, key, token) {
			return nil
		}
	}
	if errMsg != "" {
		c.Status(fiber.StatusConflict)
	}
	data := fiber.Map{
		"Lang": sess.Language, "Title": h.tr.T(sess.Language, "supplier.title"), "Pick": "supplier",
		"SearchURL": "/select-supplier/list", "Party": m.Name, "Token": token, "Query": q, "Suppliers": suppliers, "Error": errMsg,
	}
	if key != "" {
		return h.renderShell(c, key, "pages/connect/select", data)
	}
	return h.render(c, "pages/connect/select", data, "partials/supplier_tiles")
}

// supplierShellKey names the supplier selector of a manufacturer in a
// language with these suppliers: everything it shows besides the tokens.
func supplierShellKey(lang, manufacturer string, suppliers []app.LoginSupplier) string {
	parts := make([]string, 0, 3+2*len(suppliers))
	parts = append(parts, "suppliers", lang, manufacturer)
	for _, s := range suppliers {
		parts = append(parts, s.ID, s.Name)
	}
	return shellKey(parts...)
}

// loginSuppliers lists the suppliers sess may offer (offersSupplier) with a
// login page whose name matches q (case-insensitive).
func (h *Handler) loginSuppliers(c *fiber.Ctx, sess app.LinkSession, q string) ([]app.LoginSupplier, error) {
	var exclude []string
	if id := h.cfg.Sandbox.Supplier.ID; id != "" && !h.cfg.Sandbox.SupplierActive() {
		exclude = append(exclude, id)
	}
	all, err := h.store.LoginSuppliers(c.UserContext(), exclude)
	if err != nil {
		return nil, err
	}
	q = strings.ToLower(strings.TrimSpace(q))
	var out []app.LoginSupplier
	for _, s := range all {
		if !h.offersSupplier(sess, s.ID) {
			continue
		}
		if q == "" || strings.Contains(strings.ToLower(s.Name), q) || strings.Contains(s.ID, q) {
			out = append(out, s)
		}
	}
	return out, nil
}

// offersSupplier is flow 2's test-mode rule: a link started by a sandbox
// manufacturer is a test link and offers only the sandbox supplier (while
// it is switched on), never a live supplier; a real manufacturer's link
// never offers the sandbox supplier where it is off. Test twins have no
// login page (LoginSuppliers leaves them out).
func (h *Handler) offersSupplier(sess app.LinkSession, supplierID string) bool {
	if h.isHiddenSupplier(supplierID) {
		return false
	}
	if h.manufacturers.IsSandbox(sess.Brand()) {
		return supplierID == h.cfg.Sandbox.Supplier.ID
	}
	return true
}

// selectSupplier records the chosen supplier with a fresh one-time state and
// sends the browser to the supplier's login page with the state and NOX's
// return URL.
func (h *Handler) selectSupplier(c *fiber.Ctx) error {
	token := c.FormValue("token")
	sess, ok, err := h.stepSession(c, token, app.KindSupplierSelect)
	if !ok {
		return err
	}
	sup, err := h.store.LoginSupplier(c.UserContext(), c.FormValue("supplier"))
	if app.IsNotFound(err) || (err == nil && !h.offersSupplier(sess, sup.ID)) {
		return h.renderSupplierSelector(c, sess, token, "", h.tr.T(sess.Language, "supplier.unknown"))
	} else if err != nil {
		return err
	}
	return h.chooseAndSignIn(c, sess, token, app.Choice{Supplier: sup})
}

func (h *Handler) isHiddenSupplier(id string) bool {
	return id == h.cfg.Sandbox.Supplier.ID && !h.cfg.Sandbox.SupplierActive()
}

// returnFromSupplier is where the supplier's login page sends the browser
// back, with the state (and error=access_denied when the user declined). It
// claims the state once and redirects to the manufacturer with the outcome:
// connected when the supplier reported the login in time, failed otherwise.
func (h *Handler) returnFromSupplier(c *fiber.Ctx) error {
	ret, ok := app.ParseSupplierReturn(c.Query("state"), c.Query("error"))
	if !ok {
		return h.badCallback(c)
	}
	done, err := h.links.ReturnFromSupplier(c.UserContext(), ret, h.browserHash(c, false))
	return h.finishSignIn(c, done, err)
}
