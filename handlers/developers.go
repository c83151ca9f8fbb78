package handlers

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"noxportal/app"
)

// The supplier developer dashboard (/developers): a supplier's own team
// (roles supplier_admin and supplier_viewer) manages its API keys, redirect
// URIs, webhook endpoint and team. Every handler works on the signed-in
// member's own supplier (portalUser(c).TeamSupplierID) and never takes a
// supplier from the request, so no URL or form can reach another supplier.

// teamSupplier is the supplier the signed-in team member works for.
func teamSupplier(c *fiber.Ctx) string { return portalUser(c).TeamSupplierID }

// devModeCookie holds the developer dashboard's view: "test" shows and
// changes the team's test mode (its supplier's test twin), anything else
// the live supplier.
const devModeCookie = "nox_dev_mode"

// testView reports whether the dashboard shows test mode.
func testView(c *fiber.Ctx) bool { return c.Cookies(devModeCookie) == "test" }

// devSupplier is the supplier the developer pages show and change: the
// team's supplier, or its test twin in test mode. The twin is derived from
// the signed-in member's own supplier, never from the request.
func devSupplier(c *fiber.Ctx) string {
	if testView(c) {
		return app.TestTwinID(teamSupplier(c))
	}
	return teamSupplier(c)
}

// developerTabs are the pages the mode switch may return to.
var developerTabs = map[string]bool{"/developers/keys": true, "/developers/redirect-uris": true,
	"/developers/webhooks": true, "/developers/requests": true}

// switchDeveloperMode switches the dashboard between live and test mode.
// The first switch to test mode by an admin makes the test twin (audited);
// a viewer can only look at a test mode an admin has turned on.
func (h *Handler) switchDeveloperMode(c *fiber.Ctx) error {
	back := c.FormValue("back")
	if !developerTabs[back] {
		back = "/developers/keys"
	}
	cookie := &fiber.Cookie{Name: devModeCookie, Path: "/", HTTPOnly: true, Secure: h.secureCookies,
		SameSite: fiber.CookieSameSiteLaxMode}
	switch c.FormValue("mode") {
	case "test":
		live := teamSupplier(c)
		if portalUser(c).HasRole(app.RoleSupplierAdmin) {
			if _, err := h.store.EnsureTestTwin(c.UserContext(), live, h.audit(c)); err != nil {
				return err
			}
		} else if _, err := h.store.GetSupplierSettings(c.UserContext(), app.TestTwinID(live)); app.IsNotFound(err) {
			return app.Errorf(app.EFORBIDDEN, "Test mode is not turned on yet: an admin of your team turns it on.")
		} else if err != nil {
			return err
		}
		cookie.Value = "test"
	case "live":
		cookie.MaxAge, cookie.Expires = -1, time.Unix(0, 0)
	default:
		return app.Errorf(app.EINVALID, "Choose live or test mode.")
	}
	c.Cookie(cookie)
	return c.Redirect(back, fiber.StatusSeeOther)
}

// developerPage is the data every developer page starts from.
func (h *Handler) developerPage(c *fiber.Ctx, tab string) (fiber.Map, error) {
	lang := pageLang(c)
	c.Set(fiber.HeaderCacheControl, "no-store")
	sup, err := h.store.GetSupplierSettings(c.UserContext(), devSupplier(c))
	if err != nil {
		return nil, err
	}
	return fiber.Map{"Lang": lang, "Title": h.tr.T(lang, "developers.title"), "Tab": tab, "S": sup, "TestMode": testView(c),
		"CanEdit": portalUser(c).HasRole(app.RoleSupplierAdmin), "Now": time.Now(),
		"Notice": noticeKey(c.Query("done"))}, nil
}

// developerNotices are the "done" words a redirect after a change may carry.
var developerNotices = map[string]bool{"revoked": true, "uri_added": true, "uri_removed": true, "webhook_removed": true,
	"test_sent": true, "resent": true, "invited": true, "saved": true}

func noticeKey(done string) string {
	if developerNotices[done] {
		return "developers.done." + done
	}
	return ""
}

// showDeveloperKeys lists the supplier's API keys.
// A key created or rotated is shown once, on the page the action redirects to.
func (h *Handler) showDeveloperKeys(c *fiber.Ctx) error {
	data, err := h.developerPage(c, "keys")
	if err != nil {
		return err
	}
	if data["Keys"], err = h.store.SupplierAPIKeys(c.UserContext(), devSupplier(c)); err != nil {
		return err
	}
	if err := h.takeShownOnce(c, data, "NewKey", ""); err != nil {
		return err
	}
	return h.renderPortal(c, "pages/developers/keys", data)
}

// keyName reads the optional key name of a form (at most 100 bytes).
func keyName(c *fiber.Ctx) string {
	name := strings.TrimSpace(c.FormValue("name"))
	if len(name) > 100 {
		name = name[:100]
	}
	return name
}

// createDeveloperKey issues a key for the supplier and shows it once.
func (h *Handler) createDeveloperKey(c *fiber.Ctx) error {
	_, key, err := h.store.IssueAPIKey(c.UserContext(), devSupplier(c), keyName(c), h.audit(c))
	if err != nil {
		return err
	}
	return h.redirectShowingOnce(c, shownAPIKey, key, "/developers/keys", "key", "#keys")
}

// revokeDeveloperKey revokes one of the supplier's keys at once; another
// supplier's key is not found.
func (h *Handler) revokeDeveloperKey(c *fiber.Ctx) error {
	id, err := keyID(c)
	if err != nil {
		return err
	}
	if err := h.store.RevokeSupplierKey(c.UserContext(), devSupplier(c), id, h.audit(c)); err != nil {
		return err
	}
	return c.Redirect("/developers/keys?done=revoked", fiber.StatusSeeOther)
}

// rotateDeveloperKey replaces one of the supplier's keys; the old one keeps
// working for the chosen overlap. The new key is shown once.
func (h *Handler) rotateDeveloperKey(c *fiber.Ctx) error {
	id, err := keyID(c)
	if err != nil {
		return err
	}
	overlap, ok := rotateOverlaps[c.FormValue("overlap")]
	if !ok {
		return app.Errorf(app.EINVALID, "Choose an overlap of 1h, 24h or 7d.")
	}
	_, key, err := h.store.RotateSupplierKey(c.UserContext(), devSupplier(c), id, overlap, h.audit(c))
	if err != nil {
		return err
	}
	return h.redirectShowingOnce(c, shownAPIKey, key, "/developers/keys", "key", "#keys")
}

// showRedirectURIs lists the supplier's redirect URI allowlist.
func (h *Handler) showRedirectURIs(c *fiber.Ctx) error {
	return h.renderRedirectURIs(c, "", "")
}

func (h *Handler) renderRedirectURIs(c *fiber.Ctx, value, formErr string) error {
	data, err := h.developerPage(c, "redirect_uris")
	if err != nil {
		return err
	}
	data["Value"], data["Error"] = value, formErr
	return h.renderPortal(c, "pages/developers/redirect_uris", data)
}

// addRedirectURI adds a URI to the allowlist; a URI the API would refuse
// shows the form again with the reason, and nothing is saved.
func (h *Handler) addRedirectURI(c *fiber.Ctx) error {
	uri := strings.TrimSpace(c.FormValue("uri"))
	err := h.store.AddRedirectURI(c.UserContext(), devSupplier(c), uri, h.audit(c))
	if code := app.ErrorCode(err); code == app.EINVALID || code == app.ECONFLICT {
		c.Status(fiber.StatusUnprocessableEntity)
		return h.renderRedirectURIs(c, uri, app.ErrorMessage(err))
	} else if err != nil {
		return err
	}
	return c.Redirect("/developers/redirect-uris?done=uri_added", fiber.StatusSeeOther)
}

// removeRedirectURI removes a URI from the allowlist (never the last one).
func (h *Handler) removeRedirectURI(c *fiber.Ctx) error {
	err := h.store.RemoveRedirectURI(c.UserContext(), devSupplier(c), c.FormValue("uri"), h.audit(c))
	if app.ErrorCode(err) == app.ECONFLICT {
		c.Status(fiber.StatusUnprocessableEntity)
		return h.renderRedirectURIs(c, "", app.ErrorMessage(err))
	} else if err != nil {
		return err
	}
	return c.Redirect("/developers/redirect-uris?done=uri_removed", fiber.StatusSeeOther)
}

// showDeveloperWebhooks shows the supplier's endpoint and its newest
// deliveries (?event= filters by type).
func (h *Handler) showDeveloperWebhooks(c *fiber.Ctx) error {
	return h.renderDeveloperWebhooks(c, "", "")
}

// renderDeveloperWebhooks renders the webhook page; a new signing secret
// is shown once, on the page the action redirects to.
func (h *Handler) renderDeveloperWebhooks(c *fiber.Ctx, value, formErr string) error {
	data, err := h.developerPage(c, "webhooks")
	if err != nil {
		return err
	}
	if err := h.takeShownOnce(c, data, "", "Secret"); err != nil {
		return err
	}
	ctx, owner := c.UserContext(), app.SupplierParty(devSupplier(c))
	ep, err := h.store.WebhookEndpoint(ctx, owner)
	switch {
	case err == nil:
		data["Endpoint"] = ep
		if data["Deliveries"], err = h.store.WebhookDeliveries(ctx, owner, c.Query("event"), 50); err != nil {
			return err
		}
		if value == "" {
			value = ep.URL
		}
	case !app.IsNotFound(err):
		return err
	}
	data["Value"], data["Error"], data["SignatureHeader"] = value, formErr, app.WebhookSignatureHeader
	return h.renderPortal(c, "pages/developers/webhooks", data)
}

// saveDeveloperWebhook registers or changes the endpoint URL; rotate=1
// issues a new signing secret. A new secret is shown once.
func (h *Handler) saveDeveloperWebhook(c *fiber.Ctx) error {
	u := strings.TrimSpace(c.FormValue("url"))
	secret, err := h.store.SaveWebhookEndpoint(c.UserContext(), devSupplier(c), u, c.FormValue("rotate") == "1", h.audit(c))
	if app.ErrorCode(err) == app.EINVALID {
		c.Status(fiber.StatusUnprocessableEntity)
		return h.renderDeveloperWebhooks(c, u, app.ErrorMessage(err))
	} else if err != nil {
		return err
	}
	if secret == "" {
		return c.Redirect("/developers/webhooks?done=saved", fiber.StatusSeeOther)
	}
	return h.redirectShowingOnce(c, shownWebhookSecret, secret, "/developers/webhooks", "secret", "#endpoint")
}

// removeDeveloperWebhook removes the endpoint and its pending deliveries.
func (h *Handler) removeDeveloperWebhook(c *fiber.Ctx) error {
	if err := h.store.RemoveWebhookEndpoint(c.UserContext(), devSupplier(c), h.audit(c)); err != nil {
		return err
	}
	return c.Redirect("/developers/webhooks?done=webhook_removed", fiber.StatusSeeOther)
}

// sendTestWebhook queues a webhook.test event to the endpoint.
func (h *Handler) sendTestWebhook(c *fiber.Ctx) error {
	d, err := h.store.SendTestWebhook(c.UserContext(), devSupplier(c), h.audit(c))
	if err != nil {
		return err
	}
	return c.Redirect("/developers/webhooks/deliveries/"+url.PathEscape(d.ID)+"?done=test_sent", fiber.StatusSeeOther)
}

// showDeveloperDelivery shows one delivery: its payload, and every attempt
// with the signature header it carried, status, latency and error.
func (h *Handler) showDeveloperDelivery(c *fiber.Ctx) error {
	data, err := h.developerPage(c, "webhooks")
	if err != nil {
		return err
	}
	owner := app.SupplierParty(devSupplier(c))
	d, err := h.store.WebhookDelivery(c.UserContext(), &owner, c.Params("id"))
	if err != nil {
		return err
	}
	data["D"], data["Payload"], data["SignatureHeader"] = d, prettyJSON(d.Body), app.WebhookSignatureHeader
	return h.renderPortal(c, "pages/developers/delivery", data)
}

// resendDeveloperDelivery sends one of the supplier's deliveries again.
func (h *Handler) resendDeveloperDelivery(c *fiber.Ctx) error {
	d, err := h.store.ResendWebhookDelivery(c.UserContext(), devSupplier(c), c.Params("id"), h.audit(c))
	if err != nil {
		return err
	}
	return c.Redirect("/developers/webhooks/deliveries/"+url.PathEscape(d.ID)+"?done=resent", fiber.StatusSeeOther)
}

// showTeam lists the team and its open invitations.
func (h *Handler) showTeam(c *fiber.Ctx) error {
	return h.renderTeam(c, "", "", "")
}

func (h *Handler) renderTeam(c *fiber.Ctx, email, role, formErr string) error {
	data, err := h.developerPage(c, "team")
	if err != nil {
		return err
	}
	if data["Members"], data["Invitations"], err = h.store.Team(c.UserContext(), teamSupplier(c)); err != nil {
		return err
	}
	data["Email"], data["Role"], data["Error"] = email, role, formErr
	return h.renderPortal(c, "pages/developers/team", data)
}

// inviteTeamMember emails a one-time invitation link to join the team.
func (h *Handler) inviteTeamMember(c *fiber.Ctx) error {
	email, role := strings.TrimSpace(c.FormValue("email")), c.FormValue("role")
	_, err := h.store.CreateInvitation(c.UserContext(), teamSupplier(c), email, role, h.invitationLinkPrefix(), app.InvitationTTL, h.audit(c))
	if code := app.ErrorCode(err); code == app.EINVALID || code == app.ECONFLICT {
		c.Status(fiber.StatusUnprocessableEntity)
		return h.renderTeam(c, email, role, app.ErrorMessage(err))
	} else if err != nil {
		return err
	}
	return c.Redirect("/developers/team?done=invited", fiber.StatusSeeOther)
}

// invitationLinkPrefix is the invitation link without its token.
func (h *Handler) invitationLinkPrefix() string {
	return strings.TrimRight(h.cfg.Server.PublicURL, "/") + "/developers/invitation?token="
}

// invitationProblem renders the page for an invitation that cannot be used.
func (h *Handler) invitationProblem(c *fiber.Ctx, err error) error {
	switch {
	case app.IsNotFound(err):
		return h.renderPortalMessage(c, fiber.StatusNotFound, "developers.invitation.not_found")
	case app.ErrorReason(err) == app.InvitationUsed:
		return h.renderPortalMessage(c, fiber.StatusGone, "developers.invitation.used")
	case app.ErrorReason(err) == app.InvitationExpired:
		return h.renderPortalMessage(c, fiber.StatusGone, "developers.invitation.expired")
	}
	return err
}

// showInvitation is the page an invitation link opens: choose a name and
// a password to join the team.
func (h *Handler) showInvitation(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	token := c.Query("token")
	if token == "" || len(token) > 128 {
		return h.renderPortalMessage(c, fiber.StatusNotFound, "developers.invitation.not_found")
	}
	inv, err := h.store.Invitation(c.UserContext(), token)
	if err != nil {
		return h.invitationProblem(c, err)
	}
	return h.renderInvitation(c, inv, token, "", "")
}

func (h *Handler) renderInvitation(c *fiber.Ctx, inv app.Invitation, token, name, formErr string) error {
	lang := pageLang(c)
	return h.renderPortal(c, "pages/developers/invitation", fiber.Map{"Lang": lang,
		"Title": h.tr.T(lang, "developers.invitation.title"), "Inv": inv, "Token": token, "Name": name, "Error": formErr})
}

// acceptInvitation uses the invitation once: it creates the account, signs
// it in and opens the dashboard. A bad password shows the form again.
func (h *Handler) acceptInvitation(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	token, name := c.FormValue("token"), strings.TrimSpace(c.FormValue("name"))
	if len(token) > 128 {
		return h.renderPortalMessage(c, fiber.StatusNotFound, "developers.invitation.not_found")
	}
	if len(name) > 200 {
		name = name[:200]
	}
	if c.FormValue("password") != c.FormValue("password2") {
		inv, err := h.store.Invitation(c.UserContext(), token)
		if err != nil {
			return h.invitationProblem(c, err)
		}
		c.Status(fiber.StatusUnprocessableEntity)
		return h.renderInvitation(c, inv, token, name, h.tr.T(pageLang(c), "developers.invitation.mismatch"))
	}
	u, err := h.store.AcceptInvitation(c.UserContext(), token, name, c.FormValue("password"), c.IP())
	if app.ErrorCode(err) == app.EINVALID {
		inv, ierr := h.store.Invitation(c.UserContext(), token)
		if ierr != nil {
			return h.invitationProblem(c, ierr)
		}
		c.Status(fiber.StatusUnprocessableEntity)
		return h.renderInvitation(c, inv, token, name, app.ErrorMessage(err))
	} else if err != nil {
		if perr := h.invitationProblem(c, err); perr != err {
			return perr
		}
		return err
	}
	if err := h.signIn(c, u); err != nil {
		return err
	}
	return c.Redirect("/developers", fiber.StatusSeeOther)
}

// developerRoutes adds the developer dashboard's routes.
func (h *Handler) developerRoutes(f *fiber.App) {
	team := h.requirePortalUser(app.RoleSupplierAdmin, app.RoleSupplierViewer)
	edit := h.requirePortalUser(app.RoleSupplierAdmin)
	f.Get("/developers/invitation", h.limitPages, h.showInvitation)
	f.Post("/developers/invitation", h.limitPages, h.requireCSRF, h.acceptInvitation)
	f.Get("/developers", h.limitPages, team, func(c *fiber.Ctx) error { return c.Redirect("/developers/keys", fiber.StatusSeeOther) })
	f.Post("/developers/mode", h.limitPages, team, h.requireCSRF, h.switchDeveloperMode)
	f.Get("/developers/keys", h.limitPages, team, h.showDeveloperKeys)
	f.Post("/developers/keys", h.limitPages, edit, h.requireCSRF, h.createDeveloperKey)
	f.Post("/developers/keys/:key/revoke", h.limitPages, edit, h.requireCSRF, h.revokeDeveloperKey)
	f.Post("/developers/keys/:key/rotate", h.limitPages, edit, h.requireCSRF, h.rotateDeveloperKey)
	f.Get("/developers/redirect-uris", h.limitPages, team, h.showRedirectURIs)
	f.Post("/developers/redirect-uris", h.limitPages, edit, h.requireCSRF, h.addRedirectURI)
	f.Post("/developers/redirect-uris/remove", h.limitPages, edit, h.requireCSRF, h.removeRedirectURI)
	f.Get("/developers/webhooks", h.limitPages, team, h.showDeveloperWebhooks)
	f.Post("/developers/webhooks/endpoint", h.limitPages, edit, h.requireCSRF, h.saveDeveloperWebhook)
	f.Post("/developers/webhooks/endpoint/remove", h.limitPages, edit, h.requireCSRF, h.removeDeveloperWebhook)
	f.Post("/developers/webhooks/test", h.limitPages, edit, h.requireCSRF, h.sendTestWebhook)
	f.Get("/developers/webhooks/deliveries/:id", h.limitPages, team, h.showDeveloperDelivery)
	f.Post("/developers/webhooks/deliveries/:id/resend", h.limitPages, edit, h.requireCSRF, h.resendDeveloperDelivery)
	f.Get("/developers/requests", h.limitPages, team, h.showRequestLog)
	f.Get("/developers/team", h.limitPages, team, h.showTeam)
	f.Post("/developers/team/invitations", h.limitPages, edit, h.requireCSRF, h.inviteTeamMember)
}

// prettyJSON indents a JSON payload for reading; anything else is shown as is.
func prettyJSON(b []byte) string {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return string(b)
	}
	return out.String()
}
