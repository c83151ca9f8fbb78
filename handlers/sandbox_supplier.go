package handlers

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"noxportal/app"
	"noxportal/db"
)

// The sandbox supplier ("Sandbox Energy") is an energy supplier's OAuth
// login page served by this binary when sandbox.enabled is set and
// sandbox.supplier is configured. It integrates the way a real supplier
// does: it accepts only NOX's client id and return URL, has the user sign in
// and accept its terms, reports the login with POST /post-login-redirect
// over HTTP with its own API key, then sends the browser back to NOX.

func (h *Handler) sandboxSupplierRoutes(f *fiber.App) {
	sb := f.Group("/sandbox-supplier")
	sb.Get("/authorize", h.limitPages, h.showSandboxSupplierLogin)
	sb.Post("/login", h.limitPages, h.requireCSRF, h.submitSandboxSupplierLogin)
	sb.Post("/terms", h.limitPages, h.requireCSRF, h.submitSandboxSupplierTerms)
}

// sandboxSupplierKey keys the supplier's logins in sandbox_authorizations.
func (h *Handler) sandboxSupplierKey() string { return "supplier:" + h.cfg.Sandbox.Supplier.ID }

// showSandboxSupplierLogin checks the request (NOX's client id, NOX's
// return URL, a state) and shows the login page. A wrong client or return
// URL is an error page, never a redirect.
func (h *Handler) showSandboxSupplierLogin(c *fiber.Ctx) error {
	lang := c.Query("ui_locales")
	if !app.ValidLanguage(lang) {
		lang = pageLang(c)
	}
	c.Locals("lang", lang)
	if c.Query("client_id") != h.cfg.Sandbox.Supplier.ClientID || c.Query("redirect_uri") != h.supplierReturnURL() {
		return h.renderMessage(c, fiber.StatusBadRequest, "sandbox.bad_client")
	}
	state := c.Query("state")
	if state == "" || len(state) > 128 {
		return h.renderMessage(c, fiber.StatusBadRequest, "sbxsupplier.bad_request")
	}
	a := db.SandboxAuthorization{ID: app.RandomToken(32), Brand: h.sandboxSupplierKey(), ClientID: c.Query("client_id"),
		RedirectURI: h.supplierReturnURL(), State: state, Language: lang}
	if err := h.store.CreateSandboxAuthorization(c.UserContext(), a, sandboxLoginTTL); err != nil {
		return err
	}
	return h.renderSandboxSupplier(c, "pages/sandbox/login", a, "", "")
}

func (h *Handler) renderSandboxSupplier(c *fiber.Ctx, page string, a db.SandboxAuthorization, username, errKey string) error {
	name := h.cfg.Sandbox.Supplier.Name
	data := fiber.Map{"Lang": a.Language, "Supplier": name, "Auth": a.ID, "Username": username, "Title": name,
		"LoginClass": "sandbox-supplier", "Texts": "sbxsupplier", "LoginName": name, "Intro": true, "Action": "/sandbox-supplier/login",
		// Site: the page is the supplier's, so the layout shows its name, not NOX Energy's.
		"Site": name}
	if errKey != "" {
		data["Error"] = h.tr.T(a.Language, errKey)
	}
	return h.render(c, page, data)
}

// submitSandboxSupplierLogin checks the customer's password; a wrong one
// stays on the login page with an error, a right one shows the terms.
func (h *Handler) submitSandboxSupplierLogin(c *fiber.Ctx) error {
	a, err := h.store.SandboxAuthorization(c.UserContext(), h.sandboxSupplierKey(), c.FormValue("auth"))
	if app.IsNotFound(err) {
		return h.renderMessage(c, fiber.StatusBadRequest, "sandbox.login_expired")
	} else if err != nil {
		return err
	}
	c.Locals("lang", a.Language)
	username := c.FormValue("username")
	if _, ok := app.CheckSandboxSupplierLogin(username, c.FormValue("password")); !ok {
		c.Status(fiber.StatusUnauthorized)
		return h.renderSandboxSupplier(c, "pages/sandbox/login", a, username, "sbxsupplier.wrong_password")
	}
	if err := h.store.SetSandboxUser(c.UserContext(), a.ID, username); err != nil {
		return err
	}
	return h.renderSandboxSupplier(c, "pages/sandbox_supplier/terms", a, username, "")
}

// submitSandboxSupplierTerms finishes the login once: accepted terms are
// reported to NOX with POST /post-login-redirect, then the browser goes back
// to NOX's return URL with the state (and error=access_denied when
// declined). NOX decides the outcome; the sandbox reports what it did.
func (h *Handler) submitSandboxSupplierTerms(c *fiber.Ctx) error {
	accept := c.FormValue("decision") == "accept"
	if accept && c.FormValue("accept_terms") != "yes" {
		a, err := h.store.SandboxAuthorization(c.UserContext(), h.sandboxSupplierKey(), c.FormValue("auth"))
		if app.IsNotFound(err) {
			return h.renderMessage(c, fiber.StatusBadRequest, "sandbox.login_expired")
		} else if err != nil {
			return err
		}
		c.Locals("lang", a.Language)
		c.Status(fiber.StatusBadRequest)
		return h.renderSandboxSupplier(c, "pages/sandbox_supplier/terms", a, deref(a.Username), "sbxsupplier.terms_required")
	}
	a, err := h.store.FinishSandboxAuthorization(c.UserContext(), h.sandboxSupplierKey(), c.FormValue("auth"), app.RandomToken(16), false, 0)
	if app.IsNotFound(err) {
		return h.renderMessage(c, fiber.StatusBadRequest, "sandbox.login_expired")
	} else if err != nil {
		return err
	}
	if !accept {
		return c.Redirect(app.AppendQuery(a.RedirectURI, [][2]string{{"state", a.State}, {"error", "access_denied"}}), fiber.StatusSeeOther)
	}
	supplierUserID := app.SandboxSupplierUsers[deref(a.Username)]
	if err := h.reportSandboxLogin(c, a.State, supplierUserID); err != nil {
		h.log.WarnContext(c.UserContext(), "sandbox supplier: post-login-redirect", "err", err)
	}
	return c.Redirect(app.AppendQuery(a.RedirectURI, [][2]string{{"state", a.State}}), fiber.StatusSeeOther)
}

// reportSandboxLogin calls NOX's POST /post-login-redirect over HTTP with
// the sandbox supplier's API key, as a real supplier's server would.
func (h *Handler) reportSandboxLogin(c *fiber.Ctx, state, supplierUserID string) error {
	body, _ := json.Marshal(postLoginRequest{State: state, SupplierUserID: supplierUserID})
	req, err := http.NewRequestWithContext(c.UserContext(), http.MethodPost,
		strings.TrimRight(h.cfg.Server.PublicURL, "/")+"/post-login-redirect", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", h.cfg.Sandbox.Supplier.APIKey)
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return &app.Error{Code: app.ECONFLICT, Reason: "post_login_refused", Message: "NOX answered " + resp.Status + ": " + string(raw)}
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
