package handlers

import (
	"net/url"

	"github.com/gofiber/fiber/v2"

	"noxportal/app"
)

// The customer's settings (the time zone of their pages) and help page.

// zoneOption is one choice of the time zone list.
type zoneOption struct {
	Value    string
	Label    string
	Selected bool
}

// settingsForm is the time zone editor: the choices, the zone times are
// shown in now, and the outcome of a save.
type settingsForm struct {
	Zones   []zoneOption
	Current string
	Offset  string
	Now     string
	// Saved is set after a successful save; Error after a refused one.
	Saved bool
	Error string
}

// settingsFormFor builds the editor for the signed-in customer; chosen is
// the value to preselect ("" follows the browser).
func (h *Handler) settingsFormFor(c *fiber.Ctx, chosen string) *settingsForm {
	lang := pageLang(c)
	now := h.now()
	loc := h.customerZone(c)
	f := &settingsForm{Current: loc.String(), Offset: app.ZoneOffset(loc, now), Now: now.In(loc).Format("15:04")}
	browser := h.tr.T(lang, "portal.settings.zone_browser_unknown")
	if z := h.browserZone(c); z != "" {
		browser = h.tr.T(lang, "portal.settings.zone_browser", z)
	}
	f.Zones = append(f.Zones, zoneOption{Value: "", Label: browser, Selected: chosen == ""})
	for _, name := range app.CustomerZones {
		label := name
		if l := h.zone(name); l != nil {
			label += " (" + app.ZoneOffset(l, now) + ")"
		}
		f.Zones = append(f.Zones, zoneOption{Value: name, Label: label, Selected: name == chosen})
	}
	return f
}

// showSettings is the customer's settings page.
func (h *Handler) showSettings(c *fiber.Ctx) error {
	u := portalUser(c)
	chosen := ""
	if u.TimeZoneChosen {
		chosen = u.TimeZone
	}
	f := h.settingsFormFor(c, chosen)
	f.Saved = c.Query("saved") == "1"
	return h.renderSettings(c, f, fiber.StatusOK)
}

func (h *Handler) renderSettings(c *fiber.Ctx, f *settingsForm, status int) error {
	lang := pageLang(c)
	c.Set(fiber.HeaderCacheControl, "no-store")
	data := fiber.Map{"Lang": lang, "Title": h.tr.T(lang, "portal.settings.title"), "Settings": f}
	if isFragmentRequest(c) {
		// HTMX swaps only 2xx answers; a refusal is told inside the fragment.
		status = fiber.StatusOK
	}
	c.Status(status)
	return h.renderPortal(c, "pages/account/settings", data, "partials/account_settings")
}

// saveSettings stores the customer's time zone: one of app.CustomerZones,
// or "" to follow the browser. Anything else changes nothing and says so.
func (h *Handler) saveSettings(c *fiber.Ctx) error {
	u := portalUser(c)
	zone := c.FormValue("time_zone")
	if zone != "" && (!app.IsCustomerZone(zone) || h.zone(zone) == nil) {
		chosen := ""
		if u.TimeZoneChosen {
			chosen = u.TimeZone
		}
		f := h.settingsFormFor(c, chosen)
		f.Error = h.tr.T(pageLang(c), "portal.settings.err_zone")
		return h.renderSettings(c, f, fiber.StatusUnprocessableEntity)
	}
	if err := h.store.ChooseTimeZone(c.UserContext(), u.ID, zone, h.browserZone(c),
		app.AuditEntry{ActorID: app.Actor(u.ID), IP: c.IP()}); err != nil {
		return err
	}
	if !isFragmentRequest(c) {
		return c.Redirect("/account/settings?saved=1", fiber.StatusSeeOther)
	}
	u.TimeZone, u.TimeZoneChosen = zone, zone != ""
	if zone == "" {
		u.TimeZone = h.browserZone(c)
	}
	c.Locals(portalUserKey{}, u)
	f := h.settingsFormFor(c, zone)
	f.Saved = true
	return h.renderSettings(c, f, fiber.StatusOK)
}

// showHelp tells the customer how to reach support, with the address of
// their account to quote.
func (h *Handler) showHelp(c *fiber.Ctx) error {
	lang := pageLang(c)
	u := portalUser(c)
	account := u.Email
	if account == "" && u.SupplierName != "" {
		account = u.SupplierName + " · " + u.SupplierUserID
	}
	email := h.cfg.Portal.SupportEmail
	mailto := "mailto:" + email + "?subject=" + url.PathEscape(h.tr.T(lang, "portal.help.subject"))
	return h.renderPortal(c, "pages/account/help", fiber.Map{"Lang": lang, "Title": h.tr.T(lang, "portal.help.title"),
		"SupportEmail": email, "Mailto": mailto, "Account": account})
}
