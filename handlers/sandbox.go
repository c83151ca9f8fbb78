package handlers

import (
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"noxportal/app"
	"noxportal/db"
)

// The sandbox manufacturers are real OAuth 2.0 authorization servers served
// by this binary when sandbox.enabled is set. Their clients are the
// sandbox brands of config.yaml, with exactly one registered redirect URI
// each: {public_url}/oauth/callback/{brand}.

const (
	sandboxLoginTTL = 10 * time.Minute
	sandboxCodeTTL  = 60 * time.Second
	sandboxTokenTTL = time.Hour
)

func (h *Handler) sandboxRoutes(f *fiber.App) {
	sb := f.Group("/sandbox/:brand", h.requireSandboxBrand)
	sb.Get("/authorize", h.limitPages, h.showSandboxLogin)
	sb.Post("/login", h.limitPages, h.requireCSRF, h.submitSandboxLogin)
	sb.Post("/consent", h.limitPages, h.requireCSRF, h.submitSandboxConsent)
	sb.Post("/token", h.issueSandboxToken)
	sb.Get("/devices", h.listSandboxDevices)
}

type sandboxBrandKey struct{}

func (h *Handler) requireSandboxBrand(c *fiber.Ctx) error {
	for _, m := range h.cfg.Manufacturers {
		if m.Sandbox && m.ID == c.Params("brand") {
			c.Locals(sandboxBrandKey{}, m)
			return c.Next()
		}
	}
	return fiber.ErrNotFound
}

func sandboxBrand(c *fiber.Ctx) app.ManufacturerConfig {
	return c.Locals(sandboxBrandKey{}).(app.ManufacturerConfig)
}

func (h *Handler) sandboxRedirectURI(brand string) string {
	return strings.TrimRight(h.cfg.Server.PublicURL, "/") + "/oauth/callback/" + brand
}

// showSandboxLogin validates an authorization request and shows the login.
// A bad client or redirect_uri is shown as an error page, never redirected to.
func (h *Handler) showSandboxLogin(c *fiber.Ctx) error {
	m := sandboxBrand(c)
	lang := c.Query("ui_locales")
	if !app.ValidLanguage(lang) {
		lang = pageLang(c)
	}
	c.Locals("lang", lang)
	redirectURI := c.Query("redirect_uri")
	if c.Query("client_id") != m.ClientID || redirectURI != h.sandboxRedirectURI(m.ID) {
		return h.renderMessage(c, fiber.StatusBadRequest, "sandbox.bad_client")
	}
	state := c.Query("state")
	fail := func(desc string) error {
		return c.Redirect(app.AppendQuery(redirectURI, [][2]string{
			{"error", "invalid_request"}, {"error_description", desc}, {"state", state}}), fiber.StatusSeeOther)
	}
	switch {
	case c.Query("response_type") != "code":
		return fail("response_type must be code")
	case c.Query("code_challenge_method") != "S256" || len(c.Query("code_challenge")) != 43:
		return fail("PKCE with code_challenge_method=S256 is required")
	case state == "":
		return fail("state is required")
	}
	a := db.SandboxAuthorization{
		ID: app.RandomToken(32), Brand: m.ID, ClientID: m.ClientID, RedirectURI: redirectURI,
		State: state, CodeChallenge: c.Query("code_challenge"), Scope: c.Query("scope"), Language: lang,
	}
	if err := h.store.CreateSandboxAuthorization(c.UserContext(), a, sandboxLoginTTL); err != nil {
		return err
	}
	return h.renderSandbox(c, "pages/sandbox/login", a, m, "", "")
}

func (h *Handler) renderSandbox(c *fiber.Ctx, page string, a db.SandboxAuthorization, m app.ManufacturerConfig, username, errKey string) error {
	// Site: the page is the manufacturer's, so the layout shows its name and not NOX Energy's.
	data := fiber.Map{"Lang": a.Language, "Brand": m.Name, "BrandID": m.ID, "Auth": a.ID, "Username": username, "Site": m.Name,
		"LoginClass": "sandbox", "Texts": "sandbox", "LoginName": m.Name, "Action": "/sandbox/" + m.ID + "/login"}
	if errKey != "" {
		data["Error"] = h.tr.T(a.Language, errKey)
	}
	return h.render(c, page, data)
}

// submitSandboxLogin checks the test user's password; a wrong one stays on
// the login page with an error.
func (h *Handler) submitSandboxLogin(c *fiber.Ctx) error {
	m := sandboxBrand(c)
	a, err := h.store.SandboxAuthorization(c.UserContext(), m.ID, c.FormValue("auth"))
	if app.IsNotFound(err) {
		return h.renderMessage(c, fiber.StatusBadRequest, "sandbox.login_expired")
	} else if err != nil {
		return err
	}
	c.Locals("lang", a.Language)
	username := c.FormValue("username")
	u, ok := app.CheckSandboxLogin(username, c.FormValue("password"))
	if !ok {
		c.Status(fiber.StatusUnauthorized)
		return h.renderSandbox(c, "pages/sandbox/login", a, m, username, "sandbox.wrong_password")
	}
	if err := h.store.SetSandboxUser(c.UserContext(), a.ID, u.Username); err != nil {
		return err
	}
	return h.renderSandbox(c, "pages/sandbox/consent", a, m, u.Username, "")
}

// submitSandboxConsent answers Allow with a one-time code and Deny with
// access_denied, both sent to the registered redirect_uri with the state;
// a second submit (a double click) gets the same answer.
func (h *Handler) submitSandboxConsent(c *fiber.Ctx) error {
	m := sandboxBrand(c)
	redirect, lang, err := h.store.AnswerSandboxConsent(c.UserContext(), m.ID, c.FormValue("auth"), c.FormValue("decision") == "allow", sandboxCodeTTL)
	if app.IsNotFound(err) {
		return h.renderMessage(c, fiber.StatusBadRequest, "sandbox.login_expired")
	} else if err != nil {
		return err
	}
	c.Locals("lang", lang)
	return c.Redirect(redirect, fiber.StatusSeeOther)
}

func oauthError(c *fiber.Ctx, status int, code, desc string) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(status).JSON(fiber.Map{"error": code, "error_description": desc})
}

// issueSandboxToken is the token endpoint: authorization_code (with PKCE
// S256, exact redirect_uri, single-use 60-second codes) and refresh_token.
func (h *Handler) issueSandboxToken(c *fiber.Ctx) error {
	m := sandboxBrand(c)
	id, secret, ok := basicAuth(c)
	if !ok {
		id, secret = c.FormValue("client_id"), c.FormValue("client_secret")
	}
	if subtle.ConstantTimeCompare([]byte(id), []byte(m.ClientID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(m.ClientSecret)) != 1 {
		return oauthError(c, fiber.StatusUnauthorized, "invalid_client", "unknown client or wrong secret")
	}
	var username, scope string
	switch c.FormValue("grant_type") {
	case "authorization_code":
		code, err := h.store.RedeemSandboxCode(c.UserContext(), m.ID, c.FormValue("code"))
		if app.IsNotFound(err) {
			return oauthError(c, fiber.StatusBadRequest, "invalid_grant", "the code is invalid, expired or already used")
		} else if err != nil {
			return err
		}
		if code.RedirectURI != c.FormValue("redirect_uri") || code.ClientID != id {
			return oauthError(c, fiber.StatusBadRequest, "invalid_grant", "redirect_uri does not match the authorization request")
		}
		if app.S256Challenge(c.FormValue("code_verifier")) != code.CodeChallenge {
			return oauthError(c, fiber.StatusBadRequest, "invalid_grant", "PKCE verification failed")
		}
		username, scope = code.Username, code.Scope
	case "refresh_token":
		u, err := h.store.SandboxTokenUser(c.UserContext(), m.ID, "refresh", c.FormValue("refresh_token"))
		if app.IsNotFound(err) {
			return oauthError(c, fiber.StatusBadRequest, "invalid_grant", "the refresh token is invalid")
		} else if err != nil {
			return err
		}
		username = u
	default:
		return oauthError(c, fiber.StatusBadRequest, "unsupported_grant_type", "use authorization_code or refresh_token")
	}
	if app.SandboxUsers[username].TokenError {
		return oauthError(c, fiber.StatusInternalServerError, "server_error", "sandbox: token endpoint failure for user_token_error")
	}
	access, refresh := "sbx_at_"+app.RandomToken(40), "sbx_rt_"+app.RandomToken(40)
	if err := h.store.IssueSandboxToken(c.UserContext(), m.ID, username, "access", access, sandboxTokenTTL); err != nil {
		return err
	}
	if err := h.store.IssueSandboxToken(c.UserContext(), m.ID, username, "refresh", refresh, 90*24*time.Hour); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"access_token": access, "token_type": "Bearer", "expires_in": int(sandboxTokenTTL.Seconds()),
		"refresh_token": refresh, "scope": scope})
}

// listSandboxDevices returns the devices of the token's user.
func (h *Handler) listSandboxDevices(c *fiber.Ctx) error {
	m := sandboxBrand(c)
	tok, found := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	if !found {
		return oauthError(c, fiber.StatusUnauthorized, "invalid_token", "a bearer token is required")
	}
	username, err := h.store.SandboxTokenUser(c.UserContext(), m.ID, "access", tok)
	if app.IsNotFound(err) {
		return oauthError(c, fiber.StatusUnauthorized, "invalid_token", "the access token is invalid or expired")
	} else if err != nil {
		return err
	}
	devices := app.SandboxDevices(m.ID, app.SandboxUsers[username], m.Kind)
	if devices == nil {
		devices = []app.DeviceInfo{}
	}
	return c.JSON(fiber.Map{"devices": devices})
}

func basicAuth(c *fiber.Ctx) (string, string, bool) {
	raw, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Basic ")
	if !ok {
		return "", "", false
	}
	dec, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return "", "", false
	}
	id, secret, ok := strings.Cut(string(dec), ":")
	if !ok {
		return "", "", false
	}
	// RFC 6749 §2.3.1: client id and secret are form-encoded before Basic.
	id, err1 := url.QueryUnescape(id)
	secret, err2 := url.QueryUnescape(secret)
	return id, secret, err1 == nil && err2 == nil
}
