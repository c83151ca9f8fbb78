package handlers

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"noxportal/app"
)

// Administration (role admin): suppliers with their redirect URIs, webhook
// endpoint and API keys; manufacturers' availability; the audit log.

func (h *Handler) adminBase(c *fiber.Ctx, titleKey, tab string) fiber.Map {
	lang := pageLang(c)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return fiber.Map{"Lang": lang, "Title": h.tr.T(lang, titleKey), "Tab": tab}
}

func (h *Handler) audit(c *fiber.Ctx) app.AuditEntry {
	return app.AuditEntry{ActorID: app.Actor(portalUser(c).ID), IP: c.IP()}
}

// showSuppliers lists the suppliers.
func (h *Handler) showSuppliers(c *fiber.Ctx) error {
	sups, err := h.store.ListSuppliers(c.UserContext())
	if err != nil {
		return err
	}
	data := h.adminBase(c, "console.admin.suppliers_title", "suppliers")
	data["Suppliers"] = sups
	return h.renderPortal(c, "pages/admin/suppliers", data)
}

// showSupplierForm is the form for a new supplier (no :id) or an existing one.
func (h *Handler) showSupplierForm(c *fiber.Ctx) error {
	data := h.adminBase(c, "console.admin.supplier_new", "suppliers")
	if id := c.Params("id"); id != "" {
		sup, err := h.store.GetSupplierSettings(c.UserContext(), id)
		if err != nil {
			return err
		}
		return h.renderSupplier(c, sup, "")
	}
	data["New"] = true
	data["S"] = app.SupplierSettings{}
	data["URIs"] = ""
	return h.renderPortal(c, "pages/admin/supplier", data)
}

func (h *Handler) renderSupplier(c *fiber.Ctx, sup app.SupplierSettings, formErr string) error {
	data := h.adminBase(c, "console.admin.supplier_edit", "suppliers")
	data["Title"] = sup.Name
	keys, err := h.store.SupplierAPIKeys(c.UserContext(), sup.ID)
	if err != nil {
		return err
	}
	data["S"], data["Keys"], data["Error"], data["Now"] = sup, keys, formErr, h.now()
	data["URIs"] = strings.Join(sup.RedirectURIs, "\n")
	if data["Members"], data["Invitations"], err = h.store.Team(c.UserContext(), sup.ID); err != nil {
		return err
	}
	data["Saved"] = c.Query("saved") != ""
	if data["Branding"], err = h.brandingView(c, sup.ID); err != nil {
		return err
	}
	if err := h.takeShownOnce(c, data, "NewKey", "WebhookSecret"); err != nil {
		return err
	}
	return h.renderPortal(c, "pages/admin/supplier", data)
}

// takeShownOnce puts in data, under keyField and secretField ("" for
// neither), the API key (?key=) and webhook secret (?secret=) the action
// before the redirect produced, this once; one already shown sets
// data["SecretGone"].
func (h *Handler) takeShownOnce(c *fiber.Ctx, data fiber.Map, keyField, secretField string) error {
	for _, s := range []struct{ param, kind, field string }{{"key", shownAPIKey, keyField}, {"secret", shownWebhookSecret, secretField}} {
		id := c.Query(s.param)
		if id == "" || s.field == "" {
			continue
		}
		secret, err := h.store.TakeShownOnce(c.UserContext(), portalSessionID(c), s.kind, id)
		if app.IsNotFound(err) {
			data["SecretGone"] = true
			continue
		} else if err != nil {
			return err
		}
		data[s.field] = secret
		c.Set(fiber.HeaderCacheControl, "no-store")
	}
	return nil
}

// Kinds of secrets shown once after an admin action's redirect.
const (
	shownAPIKey        = "api_key"
	shownWebhookSecret = "webhook_secret"
)

// redirectShowingOnce keeps secret for the next page view of this portal
// session and redirects there (post/redirect/get): a refresh of that page
// neither repeats the action nor shows the secret again.
func (h *Handler) redirectShowingOnce(c *fiber.Ctx, kind, secret, path, param, fragment string) error {
	id, err := h.store.KeepShownOnce(c.UserContext(), portalSessionID(c), kind, secret)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Redirect(path+"?"+url.Values{param: {id}}.Encode()+fragment, fiber.StatusSeeOther)
}

func supplierFromForm(c *fiber.Ctx, id string) app.SupplierSettings {
	var uris []string
	for _, l := range strings.Split(c.FormValue("redirect_uris"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			uris = append(uris, l)
		}
	}
	return app.SupplierSettings{Supplier: app.Supplier{ID: id, Name: strings.TrimSpace(c.FormValue("name")), RedirectURIs: uris},
		WebhookURL: strings.TrimSpace(c.FormValue("webhook_url")), OAuthLoginURL: strings.TrimSpace(c.FormValue("oauth_login_url")),
		OAuthClientID: strings.TrimSpace(c.FormValue("oauth_client_id"))}
}

// saveSupplier creates (no :id) or updates a supplier; invalid input shows
// the form again with the problem.
func (h *Handler) saveSupplier(c *fiber.Ctx) error {
	id, create := c.Params("id"), false
	if id == "" {
		id, create = strings.TrimSpace(c.FormValue("id")), true
	}
	sup := supplierFromForm(c, id)
	secret, err := h.store.SaveSupplier(c.UserContext(), sup, create, h.audit(c))
	if code := app.ErrorCode(err); code == app.EINVALID || code == app.ECONFLICT {
		data := h.adminBase(c, "console.admin.supplier_new", "suppliers")
		data["New"], data["S"], data["Error"] = create, sup, app.ErrorMessage(err)
		data["URIs"] = strings.Join(sup.RedirectURIs, "\n")
		c.Status(fiber.StatusUnprocessableEntity)
		if !create {
			keys, kerr := h.store.SupplierAPIKeys(c.UserContext(), id)
			if kerr != nil {
				return kerr
			}
			data["Keys"], data["Now"] = keys, h.now()
		}
		return h.renderPortal(c, "pages/admin/supplier", data)
	} else if err != nil {
		return err
	}
	if secret != "" {
		// A new webhook endpoint: its signing secret is shown this once.
		return h.redirectShowingOnce(c, shownWebhookSecret, secret, "/admin/suppliers/"+url.PathEscape(id), "secret", "")
	}
	return c.Redirect("/admin/suppliers/"+id+"?saved=1", fiber.StatusSeeOther)
}

func keyID(c *fiber.Ctx) (int64, error) {
	id, err := strconv.ParseInt(c.Params("key"), 10, 64)
	if err != nil {
		return 0, app.Errorf(app.ENOTFOUND, "api key not found")
	}
	return id, nil
}

// createKey issues an API key and shows it once.
func (h *Handler) createKey(c *fiber.Ctx) error {
	sup, err := h.store.GetSupplierSettings(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	name := strings.TrimSpace(c.FormValue("name"))
	if len(name) > 100 {
		name = name[:100]
	}
	_, key, err := h.store.IssueAPIKey(c.UserContext(), sup.ID, name, h.audit(c))
	if err != nil {
		return err
	}
	return h.redirectShowingOnce(c, shownAPIKey, key, "/admin/suppliers/"+url.PathEscape(sup.ID), "key", "#keys")
}

// revokeKey revokes a supplier's key at once.
func (h *Handler) revokeKey(c *fiber.Ctx) error {
	id, err := keyID(c)
	if err != nil {
		return err
	}
	if err := h.store.RevokeSupplierKey(c.UserContext(), c.Params("id"), id, h.audit(c)); err != nil {
		return err
	}
	return c.Redirect("/admin/suppliers/"+c.Params("id")+"#keys", fiber.StatusSeeOther)
}

// rotateOverlaps are how long an old key keeps working after a rotation.
var rotateOverlaps = map[string]time.Duration{"1h": time.Hour, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour}

// rotateKey issues a replacement key and lets the old one expire after the
// chosen overlap; the new key is shown once.
func (h *Handler) rotateKey(c *fiber.Ctx) error {
	id, err := keyID(c)
	if err != nil {
		return err
	}
	overlap, ok := rotateOverlaps[c.FormValue("overlap")]
	if !ok {
		overlap = 24 * time.Hour
	}
	sup, err := h.store.GetSupplierSettings(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	_, key, err := h.store.RotateSupplierKey(c.UserContext(), sup.ID, id, overlap, h.audit(c))
	if err != nil {
		return err
	}
	return h.redirectShowingOnce(c, shownAPIKey, key, "/admin/suppliers/"+url.PathEscape(sup.ID), "key", "#keys")
}

// inviteSupplierMember invites someone to a supplier's developer team
// (typically its first supplier_admin, who then invites the others).
func (h *Handler) inviteSupplierMember(c *fiber.Ctx) error {
	sup, err := h.store.GetSupplierSettings(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	_, err = h.store.CreateInvitation(c.UserContext(), sup.ID, strings.TrimSpace(c.FormValue("email")), c.FormValue("role"),
		h.invitationLinkPrefix(), app.InvitationTTL, h.audit(c))
	if code := app.ErrorCode(err); code == app.EINVALID || code == app.ECONFLICT {
		c.Status(fiber.StatusUnprocessableEntity)
		return h.renderSupplier(c, sup, app.ErrorMessage(err))
	} else if err != nil {
		return err
	}
	return c.Redirect("/admin/suppliers/"+sup.ID+"?saved=1#team", fiber.StatusSeeOther)
}

// showManufacturers lists the brands with their availability.
func (h *Handler) showManufacturers(c *fiber.Ctx) error {
	ms, err := h.store.AllManufacturers(c.UserContext())
	if err != nil {
		return err
	}
	data := h.adminBase(c, "console.admin.manufacturers_title", "manufacturers")
	data["Manufacturers"], data["Saved"] = ms, c.Query("saved")
	return h.renderPortal(c, "pages/admin/manufacturers", data)
}

// updateManufacturer enables/disables a brand or marks it degraded/down
// with the message users see on the brand page.
func (h *Handler) updateManufacturer(c *fiber.Ctx) error {
	m := app.Manufacturer{ID: c.Params("id"), Enabled: c.FormValue("enabled") != "", Status: c.FormValue("status"),
		StatusMessage: strings.TrimSpace(c.FormValue("message"))}
	if err := h.store.UpdateManufacturer(c.UserContext(), m, h.audit(c)); err != nil {
		return err
	}
	return c.Redirect("/admin/manufacturers?saved="+m.ID, fiber.StatusSeeOther)
}

// showAudit is the audit log, filterable by action, object type, actor and age.
func (h *Handler) showAudit(c *fiber.Ctx) error {
	f := app.AuditFilter{Action: c.Query("action"), ObjectType: c.Query("object"), ActorEmail: strings.TrimSpace(c.Query("actor"))}
	if d, ok := queueAges[c.Query("age")]; ok {
		f.Since = h.now().Add(-d)
	}
	f.BeforeID, _ = strconv.ParseInt(c.Query("before"), 10, 64)
	rows, err := h.store.SearchAudit(c.UserContext(), f, 50)
	if err != nil {
		return err
	}
	data := h.adminBase(c, "console.audit.title", "audit")
	data["Rows"], data["Filter"], data["Age"] = rows, f, c.Query("age")
	if len(rows) == 50 {
		q := c.Request().URI().QueryArgs()
		q.Set("before", strconv.FormatInt(rows[len(rows)-1].ID, 10))
		data["NextURL"] = "/admin/audit?" + string(q.QueryString())
	}
	return h.renderPortal(c, "pages/admin/audit", data, "partials/admin_audit_rows")
}

// endpointDeliveries is one supplier's webhook endpoint with its newest deliveries.
type endpointDeliveries struct {
	Supplier   app.SupplierSettings
	Endpoint   *app.WebhookEndpoint
	Deliveries []app.WebhookDelivery
	// MoreURL lists more of the supplier's deliveries: all of them from
	// the overview, the next page from a supplier's list ("" when none).
	MoreURL string
}

// webhookEventTypes are the event types the webhook page filters by.
var webhookEventTypes = []string{app.EventLinkConnected, app.EventLinkFailed, app.EventLinkExpired, app.EventDeviceRelinkRequired,
	app.EventDeviceDisconnected, app.EventComfortBoundsUpdated, app.EventSupplierLinked, app.EventWebhookTest}

// webhookStatuses are the delivery statuses the webhook page filters by.
var webhookStatuses = []string{app.DeliveryPending, app.DeliverySucceeded, app.DeliveryFailed}

const (
	// webhooksPerEndpoint is how many deliveries the overview shows per supplier.
	webhooksPerEndpoint = 5
	// webhooksPageSize is a page of one supplier's deliveries.
	webhooksPageSize = 25
)

// showWebhooks lists the suppliers' webhook endpoints with their newest
// deliveries (status, readable delivery log, replay button), filtered by
// status and event type; with a supplier chosen, that supplier's
// deliveries page by page.
func (h *Handler) showWebhooks(c *fiber.Ctx) error {
	ctx := c.UserContext()
	sups, err := h.store.ListSuppliers(ctx)
	if err != nil {
		return err
	}
	f := app.DeliveryFilter{}
	if slices.Contains(webhookEventTypes, c.Query("event")) {
		f.EventType = c.Query("event")
	}
	if slices.Contains(webhookStatuses, c.Query("status")) {
		f.Status = c.Query("status")
	}
	chosen := c.Query("supplier")
	limit := webhooksPerEndpoint
	if chosen != "" {
		limit = webhooksPageSize
		if a := c.Query("after"); a != "" {
			cur, err := app.DecodeDeliveryCursor(a)
			if err != nil {
				return err
			}
			f.Before = &cur
		}
	}
	q := url.Values{}
	for k, v := range map[string]string{"event": f.EventType, "status": f.Status} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var list []endpointDeliveries
	for _, sup := range sups {
		if chosen != "" && sup.ID != chosen {
			continue
		}
		e := endpointDeliveries{Supplier: sup}
		ep, err := h.store.WebhookEndpoint(ctx, app.SupplierParty(sup.ID))
		if err == nil {
			e.Endpoint = &ep
			var next *app.DeliveryCursor
			if e.Deliveries, next, err = h.store.FindWebhookDeliveries(ctx, app.SupplierParty(sup.ID), f, limit); err != nil {
				return err
			}
			for i := range e.Deliveries {
				d := &e.Deliveries[i]
				// The latest attempts are what support reads; the count is in Attempts.
				if len(d.Log) > 2 {
					d.Log = d.Log[len(d.Log)-2:]
				}
				for j := range d.Log {
					d.Log[j].Error = app.ReadableWebhookError(d.Log[j].Error)
				}
			}
			sq := url.Values{"supplier": {sup.ID}}
			for k := range q {
				sq.Set(k, q.Get(k))
			}
			if chosen == "" {
				e.MoreURL = "/admin/webhooks?" + sq.Encode()
			} else if next != nil {
				sq.Set("after", next.Encode())
				e.MoreURL = "/admin/webhooks?" + sq.Encode()
			}
		} else if !app.IsNotFound(err) {
			return err
		}
		list = append(list, e)
	}
	if chosen != "" && len(list) == 0 {
		return app.Errorf(app.ENOTFOUND, "supplier not found")
	}
	data := h.adminBase(c, "console.webhooks.title", "webhooks")
	data["Endpoints"], data["Replayed"] = list, c.Query("replayed")
	data["Suppliers"], data["Chosen"], data["Filter"] = sups, chosen, f
	data["EventTypes"], data["Statuses"] = webhookEventTypes, webhookStatuses
	data["Paged"] = f.Before != nil
	return h.renderPortal(c, "pages/admin/webhooks", data)
}

// replayWebhook queues a delivery again (a new delivery with the same event).
func (h *Handler) replayWebhook(c *fiber.Ctx) error {
	d, err := h.store.ReplayWebhookDelivery(c.UserContext(), nil, c.Params("id"))
	if err != nil {
		return err
	}
	e := h.audit(c)
	e.Action, e.ObjectType, e.ObjectID = "webhook.replay", "webhook_delivery", c.Params("id")
	e.After = map[string]string{"delivery_id": d.ID, "event_type": d.EventType}
	if err := h.store.WriteAudit(c.UserContext(), e); err != nil {
		return err
	}
	return c.Redirect("/admin/webhooks?replayed="+url.QueryEscape(d.ID)+"#d-"+url.QueryEscape(d.ID), fiber.StatusSeeOther)
}
