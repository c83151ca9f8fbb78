package handlers

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"noxportal/app"
	"noxportal/db"
)

// dashboardSessionRequest is the optional body of
// POST /users/{supplier_user_id}/dashboard-sessions.
type dashboardSessionRequest struct {
	Language *string `json:"language"`
}

// dashboardSessionResponse is a created dashboard session.
type dashboardSessionResponse struct {
	URL            string `json:"url"`
	ExpiresAt      int64  `json:"expires_at"`
	SupplierID     string `json:"supplier_id"`
	SupplierUserID string `json:"supplier_user_id"`
}

// createDashboardSession returns a one-time URL, valid for
// portal.dashboard_link_ttl (5 minutes), that signs the supplier's user in
// to the dashboard, scoped to that user.
func (h *Handler) createDashboardSession(c *fiber.Ctx) error {
	supplierID, supplierUserID, err := supplierUserOfPath(c)
	if err != nil {
		return err
	}
	var req dashboardSessionRequest
	if len(strings.TrimSpace(string(c.Body()))) > 0 {
		if err := decodeStrict(c.Body(), &req); err != nil {
			return err
		}
	}
	lang := "en"
	if req.Language != nil {
		lang = *req.Language
	}
	if !app.ValidLanguage(lang) {
		return app.ReasonErrorf(app.EINVALID, "unsupported_language",
			"language %q is not supported; use one of: %s.", lang, strings.Join(app.Languages, ", "))
	}
	token, exp, err := h.store.CreateDashboardLink(c.UserContext(), supplierID, supplierUserID, lang, h.cfg.Portal.DashboardLinkTTL.D())
	if err != nil {
		return err
	}
	return sendData(c, dashboardSessionResponse{
		URL:            strings.TrimRight(h.cfg.Server.PublicURL, "/") + "/account/enter?token=" + token,
		ExpiresAt:      exp.Unix(),
		SupplierID:     supplierID,
		SupplierUserID: supplierUserID,
	})
}

// enterDashboard uses a dashboard URL once: it signs the supplier's user in
// (a fresh session, scoped to that user) and opens the dashboard. Unknown,
// used or expired URLs get a page that says so.
func (h *Handler) enterDashboard(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	token := c.Query("token")
	if token == "" || len(token) > 128 {
		return h.renderPortalMessage(c, fiber.StatusNotFound, "portal.enter.not_found")
	}
	l, err := h.store.ClaimDashboardLink(c.UserContext(), token)
	if l.Language != "" {
		c.Locals("lang", l.Language)
	}
	switch {
	case app.IsNotFound(err):
		return h.renderPortalMessage(c, fiber.StatusNotFound, "portal.enter.not_found")
	case app.ErrorReason(err) == db.DashboardLinkUsed:
		return h.renderPortalMessage(c, fiber.StatusGone, "portal.enter.used")
	case app.ErrorReason(err) == db.DashboardLinkExpired:
		// The link's own lifetime, which is what the page names.
		return h.renderPortalMessage(c, fiber.StatusGone, "portal.enter.expired", l.Minutes)
	case err != nil:
		return err
	}
	u, err := h.store.SupplierPortalUser(c.UserContext(), l.SupplierID, l.SupplierUserID)
	if err != nil {
		return err
	}
	if err := h.signIn(c, u); err != nil {
		return err
	}
	h.setCookie(c, langCookie, l.Language, langCookieAge)
	if err := h.store.WriteAudit(c.UserContext(), app.AuditEntry{ActorID: app.Actor(u.ID), Action: "portal.dashboard_link_used",
		ObjectType: "portal_user", ObjectID: itoa64(u.ID), IP: c.IP()}); err != nil {
		return err
	}
	return c.Redirect("/account", fiber.StatusSeeOther)
}

// renderPortalMessage renders the message page in the portal layout with
// the translations of key+".title" and key+".body" (formatted with args;
// a counted body takes its form from the first number).
func (h *Handler) renderPortalMessage(c *fiber.Ctx, status int, key string, args ...any) error {
	lang := pageLang(c)
	c.Status(status)
	return h.renderPortal(c, "pages/error", fiber.Map{"Lang": lang, "Title": h.tr.T(lang, key+".title"),
		"Message": h.tr.T(lang, key+".body", args...), "Status": status})
}
