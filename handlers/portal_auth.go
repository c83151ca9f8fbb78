package handlers

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"noxportal/app"
	"noxportal/handlers/htmx"
)

// Portal sign-in: a short-lived HS256 JWT in a cookie names a server-side
// portal_sessions row; the row is checked on every request, so logout and
// "log out everywhere" take effect at once.

type portalUserKey struct{}
type portalSessionKey struct{}

// sessionRefresh is how often an active session's last_seen_at is written
// and its cookie re-issued.
const sessionRefresh = time.Minute

// sessionCookieName is __Host-nox_session over https; browsers refuse the
// __Host- prefix without Secure, so plain http uses nox_session.
func (h *Handler) sessionCookieName() string {
	if h.secureCookies {
		return "__Host-nox_session"
	}
	return "nox_session"
}

// portalUser returns the signed-in user loaded by requirePortalUser (the
// zero user, ID 0, when there is none).
func portalUser(c *fiber.Ctx) app.PortalUser {
	u, _ := c.Locals(portalUserKey{}).(app.PortalUser)
	return u
}

// portalSessionID returns the signed-in session id, or "".
func portalSessionID(c *fiber.Ctx) string {
	sid, _ := c.Locals(portalSessionKey{}).(string)
	return sid
}

// loadPortalUser verifies the session cookie and, when it names a live
// session, puts the user and session id in the context. A cookie that does
// not verify is cleared. ok is false when nobody is signed in.
func (h *Handler) loadPortalUser(c *fiber.Ctx) (bool, error) {
	if portalSessionID(c) != "" {
		return true, nil
	}
	raw := c.Cookies(h.sessionCookieName())
	if raw == "" {
		return false, nil
	}
	sid, uid, err := h.tokens.Parse(raw, time.Now())
	if err != nil {
		h.clearSessionCookie(c)
		return false, nil
	}
	ps, u, err := h.store.ActivePortalSession(c.UserContext(), sid, uid, h.cfg.Portal.SessionIdle.D())
	if app.ErrorCode(err) == app.EUNAUTHORIZED {
		h.clearSessionCookie(c)
		return false, nil
	} else if err != nil {
		return false, err
	}
	if time.Since(ps.LastSeenAt) > sessionRefresh {
		if ps.LastSeenAt, err = h.store.TouchPortalSession(c.UserContext(), ps.ID); err != nil {
			return false, err
		}
		h.setSessionCookie(c, ps)
	}
	c.Locals(portalUserKey{}, u)
	c.Locals(portalSessionKey{}, ps.ID)
	return true, nil
}

// requirePortalUser lets the request through when a portal user with one of
// roles (any role when none are given) is signed in; the user is then
// available as portalUser(c). Nobody signed in: a GET redirects to
// /login?next=..., a form post to the sign-in page with a notice, HTMX
// requests get 401 with HX-Redirect, the API 401. Another role: 403.
func (h *Handler) requirePortalUser(roles ...string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ok, err := h.loadPortalUser(c)
		if err != nil {
			return err
		}
		if !ok {
			if isAPIRequest(c) {
				return app.ReasonErrorf(app.EUNAUTHORIZED, "signed_out", "Please sign in again.")
			}
			login := "/login?notice=session_ended"
			if c.Method() == fiber.MethodGet {
				login = "/login?next=" + url.QueryEscape(string(c.Request().URI().RequestURI()))
			}
			if c.Get(htmx.HeaderRequest) == "true" {
				c.Set(htmx.HeaderRedirect, login)
				return c.SendStatus(fiber.StatusUnauthorized)
			}
			return c.Redirect(login, fiber.StatusSeeOther)
		}
		if len(roles) > 0 && !portalUser(c).HasRole(roles...) {
			if isAPIRequest(c) || c.Get(htmx.HeaderRequest) == "true" {
				return app.ReasonErrorf(app.EFORBIDDEN, "wrong_role", "Your account cannot open this page.")
			}
			return h.renderPortalMessage(c, fiber.StatusForbidden, "portal.forbidden")
		}
		return c.Next()
	}
}

// setSessionCookie writes the JWT of ps; the token lives until the idle
// timeout or the absolute expiry, whichever comes first.
func (h *Handler) setSessionCookie(c *fiber.Ctx, ps app.PortalSession) {
	now := time.Now()
	exp := ps.LastSeenAt.Add(h.cfg.Portal.SessionIdle.D())
	if ps.ExpiresAt.Before(exp) {
		exp = ps.ExpiresAt
	}
	h.setCookie(c, h.sessionCookieName(), h.tokens.Issue(ps.ID, ps.UserID, now, exp), 0)
}

func (h *Handler) clearSessionCookie(c *fiber.Ctx) {
	c.Cookie(&fiber.Cookie{Name: h.sessionCookieName(), Value: "", Path: "/", HTTPOnly: true,
		Secure: h.secureCookies, SameSite: fiber.CookieSameSiteLaxMode, MaxAge: -1,
		Expires: time.Unix(0, 0)})
}

// signIn starts a fresh session for u (ending the browser's previous one,
// so a planted session cannot be carried over) and sets its cookie.
func (h *Handler) signIn(c *fiber.Ctx, u app.PortalUser) error {
	if raw := c.Cookies(h.sessionCookieName()); raw != "" {
		if sid, _, err := h.tokens.Parse(raw, time.Now()); err == nil {
			if err := h.store.RevokePortalSession(c.UserContext(), sid); err != nil {
				return err
			}
		}
	}
	ps, err := h.store.CreatePortalSession(c.UserContext(), u.ID, h.cfg.Portal.SessionAbsolute.D(), c.IP(), c.Get(fiber.HeaderUserAgent))
	if err != nil {
		return err
	}
	h.setSessionCookie(c, ps)
	c.Locals(portalUserKey{}, u)
	c.Locals(portalSessionKey{}, ps.ID)
	c.Locals("csrf", nil)
	return nil
}

// homeFor is where a role lands after sign-in.
func homeFor(role string) string {
	switch role {
	case app.RoleAgent, app.RoleAdmin:
		return "/console"
	case app.RoleManager:
		return "/reports"
	case app.RoleSupplierAdmin, app.RoleSupplierViewer:
		return "/developers"
	}
	return "/account"
}

// safeNext returns next when it is a path on this site, else "".
// "//host", "/\host", schemes and control characters are refused.
func safeNext(next string) string {
	if next == "" || len(next) > 1024 || next[0] != '/' || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return ""
	}
	for _, r := range next {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return ""
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return ""
	}
	return next
}

// showLogin shows the sign-in form; a signed-in user goes on to next or home.
func (h *Handler) showLogin(c *fiber.Ctx) error {
	ok, err := h.loadPortalUser(c)
	if err != nil {
		return err
	}
	if ok {
		return c.Redirect(h.afterLogin(c.Query("next"), portalUser(c)), fiber.StatusSeeOther)
	}
	return h.renderLogin(c, "", c.Query("next"), "")
}

func (h *Handler) afterLogin(next string, u app.PortalUser) string {
	if n := safeNext(next); n != "" {
		return n
	}
	return homeFor(u.Role)
}

func (h *Handler) renderLogin(c *fiber.Ctx, email, next, errMsg string) error {
	lang := pageLang(c)
	data := fiber.Map{"Lang": lang, "Title": h.tr.T(lang, "portal.login.title"), "Email": email,
		"Next": safeNext(next), "Error": errMsg}
	switch c.Query("notice") {
	case "signed_out", "signed_out_everywhere", "session_ended":
		data["Notice"] = h.tr.T(lang, "portal.login.notice."+c.Query("notice"))
	}
	return h.renderPortal(c, "pages/portal/login", data)
}

// submitLogin checks email and password. Unknown accounts and wrong
// passwords get the same answer after the same bcrypt work; failures are
// counted per account and per IP in Postgres and lock sign-in for a while.
func (h *Handler) submitLogin(c *fiber.Ctx) error {
	email, password, next := strings.TrimSpace(c.FormValue("email")), c.FormValue("password"), c.FormValue("next")
	lang := pageLang(c)
	key := app.LoginAccountKey(email)
	ctx := c.UserContext()
	pc := h.cfg.Portal
	locked, retry, err := h.store.LoginThrottled(ctx, key, c.IP(), pc.LoginWindow.D(), pc.LoginMaxPerAccount, pc.LoginMaxPerIP)
	if err != nil {
		return err
	}
	if locked {
		app.CheckPassword(nil, password)
		minutes := int(retry.Minutes()) + 1
		c.Set(fiber.HeaderRetryAfter, itoa(int(retry.Seconds())+1))
		c.Status(fiber.StatusTooManyRequests)
		return h.renderLogin(c, email, next, h.tr.T(lang, "portal.login.throttled", minutes))
	}
	u, err := h.store.PortalUserByEmail(ctx, email)
	if err != nil && !app.IsNotFound(err) {
		return err
	}
	var hash *string
	if err == nil {
		hash = u.PasswordHash
	}
	if !app.CheckPassword(hash, password) {
		if err := h.store.RecordLoginFailure(ctx, key, c.IP()); err != nil {
			return err
		}
		c.Status(fiber.StatusUnauthorized)
		return h.renderLogin(c, email, next, h.tr.T(lang, "portal.login.wrong"))
	}
	if err := h.store.ClearLoginFailures(ctx, key); err != nil {
		return err
	}
	if err := h.signIn(c, u); err != nil {
		return err
	}
	if err := h.store.WriteAudit(ctx, app.AuditEntry{ActorID: app.Actor(u.ID), Action: "portal.login",
		ObjectType: "portal_user", ObjectID: itoa64(u.ID), IP: c.IP()}); err != nil {
		return err
	}
	return c.Redirect(h.afterLogin(next, u), fiber.StatusSeeOther)
}

// logout ends this browser's session.
func (h *Handler) logout(c *fiber.Ctx) error {
	if err := h.store.RevokePortalSession(c.UserContext(), portalSessionID(c)); err != nil {
		return err
	}
	h.clearSessionCookie(c)
	return c.Redirect("/login?notice=signed_out", fiber.StatusSeeOther)
}

// logoutEverywhere ends every session of the signed-in user.
func (h *Handler) logoutEverywhere(c *fiber.Ctx) error {
	u := portalUser(c)
	n, err := h.store.RevokePortalSessions(c.UserContext(), u.ID)
	if err != nil {
		return err
	}
	if err := h.store.WriteAudit(c.UserContext(), app.AuditEntry{ActorID: app.Actor(u.ID), Action: "portal.logout_everywhere",
		ObjectType: "portal_user", ObjectID: itoa64(u.ID), After: map[string]int{"sessions_ended": n}, IP: c.IP()}); err != nil {
		return err
	}
	h.clearSessionCookie(c)
	return c.Redirect("/login?notice=signed_out_everywhere", fiber.StatusSeeOther)
}

const (
	langCookie    = "nox_lang"
	langCookieAge = 365 * 24 * time.Hour
)

// switchLanguage remembers the chosen language for a year and goes back to
// next (a local path) or home.
func (h *Handler) switchLanguage(c *fiber.Ctx) error {
	lang := c.Params("lang")
	if !app.ValidLanguage(lang) {
		return fiber.ErrNotFound
	}
	h.setCookie(c, langCookie, lang, langCookieAge)
	next := safeNext(c.Query("next"))
	if next == "" {
		next = "/"
	}
	return c.Redirect(next, fiber.StatusSeeOther)
}

// renderPortal is render in the portal frame (partials/head with .Portal:
// navigation with the signed-in user, role links and the language
// switcher).
func (h *Handler) renderPortal(c *fiber.Ctx, page string, data fiber.Map, fragment ...string) error {
	u := portalUser(c)
	if u.ID != 0 {
		data["User"] = u
		data["Nav"] = navFor(u.Role, c.Path())
	}
	data["Here"] = string(c.Request().URI().RequestURI())
	data["Portal"] = true
	data["TZ"] = h.customerZone(c)
	return h.render(c, page, data, fragment...)
}

// navLink is one link of the portal navigation.
type navLink struct {
	Href    string
	Key     string
	Current bool
}

// navFor lists the navigation links a role may use.
func navFor(role, path string) []navLink {
	var links []navLink
	add := func(href, key string) {
		links = append(links, navLink{Href: href, Key: key, Current: path == href || strings.HasPrefix(path, href+"/")})
	}
	switch role {
	case app.RoleCustomer:
		links = append(links, navLink{Href: "/account", Key: "portal.nav.devices",
			Current: path == "/account" || strings.HasPrefix(path, "/account/devices")})
		add("/account/settings", "portal.nav.settings")
		add("/account/help", "portal.nav.help")
	case app.RoleAgent:
		add("/console", "portal.nav.console")
	case app.RoleManager:
		add("/reports", "portal.nav.reports")
		add("/console", "portal.nav.console")
	case app.RoleAdmin:
		add("/console", "portal.nav.console")
		add("/reports", "portal.nav.reports")
		add("/admin", "portal.nav.admin")
	case app.RoleSupplierAdmin, app.RoleSupplierViewer:
		add("/developers", "portal.nav.developers")
		add("/reports", "portal.nav.funnel")
	}
	return links
}

func itoa(n int) string { return strconv.Itoa(n) }

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
