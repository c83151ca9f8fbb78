package handlers

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"noxportal/app"
)

// The customer dashboard: a customer's devices, connecting new ones through
// the hosted link flow, reconnecting and disconnecting. Every device is
// looked up together with the signed-in customer's nox user, so another
// customer's device id is a 404.

// dashboardOutcomes are the results the dashboard explains in a banner
// (?done=), each with a message key portal.banner.{outcome}.
var dashboardOutcomes = map[string]string{
	"connected":                 "success",
	"disconnected":              "success",
	app.ReasonExpired:           "error",
	app.ReasonAccessDenied:      "error",
	app.ReasonManufacturerError: "error",
	app.ReasonManufacturerDown:  "error",
	app.ReasonNoDevices:         "error",
	app.ReasonCancelled:         "info",
	app.ReasonAlreadyUsed:       "error",
	"failed":                    "error",
	"link_cancelled":            "info",
	"supplier_connected":        "success",
	"supplier_expired":          "error",
	"supplier_cancelled":        "info",
	"supplier_failed":           "error",
	"supplier_already_linked":   "error",
}

// banner is the outcome message at the top of the dashboard.
type banner struct {
	Kind string
	Text string
	// Help links to the help page (every error banner does).
	Help bool
}

// pendingLink is a link in progress shown as a "connecting" row.
type pendingLink struct {
	ID        string
	BrandName string
	Kind      string
	Started   string
}

// dashboardData gathers the dashboard: the customer's devices (those with a
// link in progress marked connecting), other links in progress, and the
// banner for outcome done (one of dashboardOutcomes) about brand.
func (h *Handler) dashboardData(c *fiber.Ctx, done, brand string) (fiber.Map, error) {
	u := portalUser(c)
	lang := pageLang(c)
	ctx := c.UserContext()
	devices, err := h.store.CustomerDevices(ctx, u.NoxUserID)
	if err != nil {
		return nil, err
	}
	links, err := h.store.PendingCustomerLinks(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	var pending []pendingLink
	for _, l := range links {
		matched := false
		for i := range devices {
			if l.Preselected && devices[i].ManufacturerID == l.Brand() && devices[i].Status != app.DeviceConnected {
				devices[i].Connecting, matched = true, true
			}
		}
		if matched {
			continue
		}
		p := pendingLink{ID: l.ID, BrandName: h.tr.T(lang, "portal.devices.choosing_brand")}
		if b := l.Brand(); b != "" {
			if m, err := h.store.GetManufacturer(ctx, b); err == nil {
				p.BrandName, p.Kind = m.Name, m.Kind
			}
		}
		pending = append(pending, p)
	}
	data := fiber.Map{"Lang": lang, "Title": h.tr.T(lang, "portal.devices.title"), "Devices": devices,
		"Pending": pending, "Polling": len(links) > 0}
	if data["Suppliers"], err = h.supplierSection(c); err != nil {
		return nil, err
	}
	comfort, err := h.comfortEditor(c)
	if err != nil {
		return nil, err
	}
	if comfort != nil {
		if c.Query("comfort") == "saved" {
			comfort.Notice = "saved"
		}
		data["Comfort"] = comfort
	}
	// Links started here live link.session_ttl; the expired banners say so.
	ttl := wholeMinutes(h.cfg.Link.SessionTTL.D())
	if strings.HasPrefix(done, "supplier_") && dashboardOutcomes[done] != "" {
		name := h.tr.T(lang, "portal.banner.the_supplier")
		if s, err := h.store.LoginSupplier(ctx, c.Query("supplier")); err == nil {
			name = s.Name
		}
		data["Banner"] = banner{Kind: dashboardOutcomes[done], Text: h.tr.T(lang, "portal.banner."+done, name, ttl)}
	} else if dashboardOutcomes[done] != "" {
		name := h.tr.T(lang, "portal.banner.the_manufacturer")
		if h.manufacturers.Has(brand) {
			if m, err := h.store.GetManufacturer(ctx, brand); err == nil {
				name = m.Name
			}
		}
		text := h.tr.T(lang, "portal.banner."+done, name, ttl)
		if n := connectedTogether(devices, brand); done == "connected" && n > 1 {
			text = h.tr.N(lang, "portal.banner.connected_n", n, n, name)
		}
		data["Banner"] = banner{Kind: dashboardOutcomes[done], Text: text}
	}
	if b, ok := data["Banner"].(banner); ok && b.Kind == "error" {
		b.Help = true
		data["Banner"] = b
	}
	return data, nil
}

// connectedTogether counts the customer's connected devices of brand that
// the latest link connected (one link stores all its devices at once, so
// they share their connected_at).
func connectedTogether(devices []app.DashboardDevice, brand string) int {
	var latest time.Time
	n := 0
	for _, d := range devices {
		if d.ManufacturerID != brand || d.Status != app.DeviceConnected {
			continue
		}
		switch {
		case d.ConnectedAt.After(latest):
			latest, n = d.ConnectedAt, 1
		case d.ConnectedAt.Equal(latest):
			n++
		}
	}
	return n
}

// showDashboard is the customer's home: devices, links in progress and the
// outcome of the last action.
func (h *Handler) showDashboard(c *fiber.Ctx) error {
	if err := h.rememberBrowserZone(c); err != nil {
		return err
	}
	return h.renderDashboard(c, c.Query("done"), c.Query("brand"))
}

func (h *Handler) renderDashboard(c *fiber.Ctx, done, brand string) error {
	data, err := h.dashboardData(c, done, brand)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.renderPortal(c, "pages/account/dashboard", data, "partials/account_devices")
}

// listDevices answers the device list's HTMX polling (the whole page otherwise).
func (h *Handler) listDevices(c *fiber.Ctx) error {
	return h.showDashboard(c)
}

// startCustomerLink creates a link session for the signed-in customer that
// returns to the dashboard, optionally with a preselected brand, and sends
// the browser to the hosted flow.
func (h *Handler) startCustomerLink(c *fiber.Ctx, brand string) error {
	u := portalUser(c)
	n := app.NewLinkSession{
		Kind:           app.KindSupplierLink,
		RedirectURI:    strings.TrimRight(h.cfg.Server.PublicURL, "/") + "/account/return",
		Language:       pageLang(c),
		Initiator:      app.InitiatorCustomer,
		ManufacturerID: brand,
		TTL:            h.cfg.Link.SessionTTL.D(),
		PortalUserID:   u.ID,
	}
	switch {
	case u.SupplierID != "":
		n.SupplierID, n.SupplierUserID = u.SupplierID, u.SupplierUserID
	case u.NoxUserID != "":
		n.NoxUserID = u.NoxUserID
	default:
		return app.Errorf(app.EINTERNAL, "portal user %d has neither a supplier nor a nox user", u.ID)
	}
	sess, token, _, err := h.store.CreateLinkSession(c.UserContext(), n)
	if err != nil {
		return err
	}
	if brand == "" || !h.manufacturers.Has(brand) {
		return c.Redirect(h.linkURL(token), fiber.StatusSeeOther)
	}
	if m, err := h.store.GetManufacturer(c.UserContext(), brand); err != nil {
		return err
	} else if !m.Selectable() {
		return c.Redirect(h.linkURL(token), fiber.StatusSeeOther)
	}
	// Reconnecting is the customer's deliberate step (this POST): open
	// the link and start the brand's login in this browser at once.
	if sess, _, err = h.store.OpenLinkSession(c.UserContext(), token, nil); err != nil {
		return err
	}
	return h.chooseAndSignIn(c, sess, token, app.Choice{Brand: brand})
}

// connectDevice starts the hosted flow for a new device.
func (h *Handler) connectDevice(c *fiber.Ctx) error {
	return h.startCustomerLink(c, "")
}

// reconnectDevice starts the hosted flow for one of the customer's devices
// with its brand preselected, so the customer goes straight to the
// manufacturer's login.
func (h *Handler) reconnectDevice(c *fiber.Ctx) error {
	d, err := h.customerDevice(c)
	if err != nil {
		return err
	}
	return h.startCustomerLink(c, d.ManufacturerID)
}

// cancelCustomerLink ends a link in progress that the customer started.
func (h *Handler) cancelCustomerLink(c *fiber.Ctx) error {
	l, err := h.store.CustomerLink(c.UserContext(), portalUser(c).ID, c.Params("id"))
	if err != nil {
		return err
	}
	if !l.Status.Final() {
		if _, err := h.store.FailLinkSession(c.UserContext(), l.ID, app.ReasonCancelled, "cancelled from the dashboard"); err != nil {
			return err
		}
	}
	return h.afterDashboardAction(c, "link_cancelled", "")
}

// continueCustomerLink sends the customer back into a link in progress
// they started (say, after closing its tab).
func (h *Handler) continueCustomerLink(c *fiber.Ctx) error {
	token, err := h.store.ReissueCustomerLink(c.UserContext(), portalUser(c).ID, c.Params("id"))
	if app.IsNotFound(err) {
		// It ended meanwhile: the dashboard shows how.
		return h.afterDashboardAction(c, "", "")
	} else if err != nil {
		return err
	}
	return c.Redirect(h.linkURL(token), fiber.StatusSeeOther)
}

// returnToDashboard receives the end of a customer-started link session
// (the session's redirect) and shows its outcome on the dashboard.
func (h *Handler) returnToDashboard(c *fiber.Ctx) error {
	done := "failed"
	if c.Query("connection_status") == "connected" {
		done = "connected"
	} else if e := c.Query("error"); dashboardOutcomes[e] != "" {
		done = e
	}
	next := "/account?done=" + done
	if b := c.Query("manufacturer"); h.manufacturers.Has(b) {
		next += "&brand=" + b
	}
	return c.Redirect(next, fiber.StatusSeeOther)
}

// customerDevice returns the device named by :id when it belongs to the
// signed-in customer; anything else is a 404.
func (h *Handler) customerDevice(c *fiber.Ctx) (app.DashboardDevice, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return app.DashboardDevice{}, app.Errorf(app.ENOTFOUND, "device not found")
	}
	return h.store.CustomerDevice(c.UserContext(), portalUser(c).NoxUserID, id)
}

// confirmDisconnect asks for confirmation: inline in the device card for
// HTMX, as a page otherwise.
func (h *Handler) confirmDisconnect(c *fiber.Ctx) error {
	d, err := h.customerDevice(c)
	if err != nil {
		return err
	}
	lang := pageLang(c)
	return h.renderPortal(c, "pages/account/disconnect", fiber.Map{"Lang": lang,
		"Title": h.tr.T(lang, "portal.disconnect.title"), "Device": d}, "partials/account_disconnect")
}

// disconnectDevice marks the device disconnected and deletes its
// manufacturer tokens when no other device uses them.
func (h *Handler) disconnectDevice(c *fiber.Ctx) error {
	d, err := h.customerDevice(c)
	if err != nil {
		return err
	}
	u := portalUser(c)
	if _, err := h.store.DisconnectDevice(c.UserContext(), u.NoxUserID, d.ID,
		app.AuditEntry{ActorID: app.Actor(u.ID), IP: c.IP()}); err != nil {
		return err
	}
	return h.afterDashboardAction(c, "disconnected", d.ManufacturerID)
}

// afterDashboardAction shows the dashboard with the outcome: the device
// list fragment for HTMX, a redirect for a plain form post.
func (h *Handler) afterDashboardAction(c *fiber.Ctx, done, brand string) error {
	if isFragmentRequest(c) {
		return h.renderDashboard(c, done, brand)
	}
	next := "/account?done=" + done
	if brand != "" {
		next += "&brand=" + brand
	}
	return c.Redirect(next, fiber.StatusSeeOther)
}
