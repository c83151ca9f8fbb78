package handlers

import (
	"encoding/base64"
	"html/template"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	qrcode "github.com/skip2/go-qrcode"

	"noxportal/app"
	"noxportal/db"
)

// The support console: search mappings, a mapping's detail and timeline,
// the queue of failed and expired sessions, relinks and bulk relinks.
// Agents and admins act; managers read.

const consolePageSize = 25

// canAct reports whether the signed-in user may change things in the console.
func canAct(c *fiber.Ctx) bool { return portalUser(c).HasRole(app.RoleAgent, app.RoleAdmin) }

// consoleBase returns the data every console page has: title, tab, the
// lists of suppliers and brands for filters, and whether the user may act.
func (h *Handler) consoleBase(c *fiber.Ctx, titleKey, tab string) (fiber.Map, error) {
	lang := pageLang(c)
	ctx := c.UserContext()
	sups, err := h.store.SupplierNames(ctx)
	if err != nil {
		return nil, err
	}
	brands, err := h.store.AllManufacturers(ctx)
	if err != nil {
		return nil, err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	brandNames := make(map[string]string, len(brands))
	for _, b := range brands {
		brandNames[b.ID] = b.Name
	}
	supplierNames := make(map[string]string, len(sups))
	for _, s := range sups {
		supplierNames[s.ID] = s.Name
	}
	return fiber.Map{"Lang": lang, "Title": h.tr.T(lang, titleKey), "Tab": tab, "Suppliers": sups, "Brands": brands,
		"BrandNames": brandNames, "SupplierNames": supplierNames,
		"CanAct": canAct(c), "IsAdmin": portalUser(c).HasRole(app.RoleAdmin)}, nil
}

// deviceCountDetail is the detail of a "connected" event: "3 device(s)".
var deviceCountDetail = regexp.MustCompile(`^(\d+) device\(s\)$`)

// brandReplacer replaces brand ids by brand names, longest id first.
func brandReplacer(brands map[string]string) *strings.Replacer {
	ids := make([]string, 0, len(brands))
	for id := range brands {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return len(ids[i]) > len(ids[j]) })
	pairs := make([]string, 0, 2*len(ids))
	for _, id := range ids {
		pairs = append(pairs, id, brands[id])
	}
	return strings.NewReplacer(pairs...)
}

// describeEvents rewrites the events' details (ids and machine words as
// the flow records them) in words support reads: brand and supplier
// names, translated outcomes and reasons.
func (h *Handler) describeEvents(lang string, sessions []app.SessionTimeline, data fiber.Map) {
	brands, _ := data["BrandNames"].(map[string]string)
	sups, _ := data["SupplierNames"].(map[string]string)
	known := func(key string) (string, bool) {
		v := h.tr.T(lang, key)
		return v, v != key
	}
	for i := range sessions {
		for j := range sessions[i].Events {
			e := &sessions[i].Events[j]
			d := e.Detail
			if n, ok := brands[d]; ok {
				e.Detail = n
			} else if n, ok := sups[d]; ok {
				e.Detail = n
			} else if m := deviceCountDetail.FindStringSubmatch(d); m != nil {
				n, _ := strconv.Atoi(m[1])
				e.Detail = h.tr.T(lang, "console.detail.devices", n)
			} else if v, ok := known("console.detail." + strings.ReplaceAll(d, " ", "_")); ok {
				e.Detail = v
			} else if v, ok := known("console.reason." + d); ok {
				e.Detail = v
			} else if v, ok := known("console.initiator." + d); ok && e.Type == app.EventCreated {
				e.Detail = v
			} else {
				// Free text (a manufacturer's message) names brands by id.
				e.Detail = brandReplacer(brands).Replace(e.Detail)
			}
		}
	}
}

var deviceStatuses = map[string]bool{app.DeviceConnected: true, app.DeviceRelinkRequired: true, app.DeviceDisconnected: true}

func parseDay(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// mappingFilter reads the search form from the query string.
func mappingFilter(c *fiber.Ctx) app.MappingFilter {
	f := app.MappingFilter{Q: strings.TrimSpace(app.CleanText(c.Query("q"), app.MaxSearchLength)),
		SupplierID: app.CleanText(c.Query("supplier"), 64), Brand: app.CleanText(c.Query("brand"), 64)}
	if deviceStatuses[c.Query("status")] {
		f.Status = c.Query("status")
	}
	f.From = parseDay(c.Query("from"))
	if to := parseDay(c.Query("to")); !to.IsZero() {
		f.To = to.AddDate(0, 0, 1)
	}
	return f
}

// showConsole is the search page; HTMX requests get only the results, and
// the browser's URL follows the form so a search can be shared.
func (h *Handler) showConsole(c *fiber.Ctx) error {
	data, err := h.consoleBase(c, "console.search.title", "search")
	if err != nil {
		return err
	}
	f := mappingFilter(c)
	var after *app.MappingCursor
	if a := c.Query("after"); a != "" {
		cur, err := app.DecodeMappingCursor(a)
		if err != nil {
			return err
		}
		after = &cur
	}
	if app.SearchNeedsLetterOrDigit(f.Q) {
		data["Rows"], data["Filter"], data["NeedsLetterOrDigit"] = []app.MappingRow{}, f, true
		return h.renderPortal(c, "pages/console/search", data, "partials/console_results")
	}
	var rows []app.MappingRow
	var next *app.MappingCursor
	if err := h.read(c, func(s *db.Store) (err error) {
		rows, next, err = s.SearchMappings(c.UserContext(), f, after, consolePageSize)
		return err
	}); err != nil {
		return err
	}
	data["Freshness"] = h.freshness(c, data["Lang"].(string))
	data["Rows"], data["Filter"] = rows, f
	data["FromDay"], data["ToDay"] = c.Query("from"), c.Query("to")
	data["Paged"] = after != nil
	if next != nil {
		q := url.Values{}
		for _, k := range []string{"q", "supplier", "brand", "status", "from", "to"} {
			if v := c.Query(k); v != "" {
				q.Set(k, v)
			}
		}
		q.Set("after", next.Encode())
		data["NextURL"] = "/console?" + q.Encode()
	}
	return h.renderPortal(c, "pages/console/search", data, "partials/console_results")
}

// consoleUserPath is the console URL of a supplier user.
func consoleUserPath(supplierID, supplierUserID string) string {
	return "/console/users/" + url.PathEscape(supplierID) + "/" + url.PathEscape(supplierUserID)
}

func supplierUserParams(c *fiber.Ctx) (string, string, error) {
	sup, err1 := url.PathUnescape(c.Params("supplier"))
	suid, err2 := url.PathUnescape(c.Params("suid"))
	if err1 != nil || err2 != nil || app.ValidateSupplierUserID(suid) != nil {
		return "", "", app.Errorf(app.ENOTFOUND, "user not found")
	}
	return sup, suid, nil
}

// showMapping is a supplier user's page: nox user, mappings, devices and
// the timeline of every link session.
func (h *Handler) showMapping(c *fiber.Ctx) error {
	sup, suid, err := supplierUserParams(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	var m app.Mapping
	var comfort *app.ComfortBounds
	var hooks []app.WebhookDelivery
	load := func(s *db.Store) (err error) {
		if m, err = s.GetMapping(ctx, sup, suid); err != nil {
			return err
		}
		comfort = nil
		if m.NoxUserID != "" {
			if b, err := s.ComfortBounds(ctx, m.NoxUserID); err == nil {
				comfort = &b
			} else if !app.IsNotFound(err) {
				return err
			}
		}
		hooks, err = s.UserWebhookDeliveries(ctx, sup, m.NoxUserID, 20)
		return err
	}
	// Right after an agent's change the page must show it: read the primary.
	if c.Query("marked") != "" {
		err = load(h.store)
	} else {
		err = h.read(c, load)
	}
	if err != nil {
		return err
	}
	data, err := h.consoleBase(c, "console.mapping.title", "search")
	if err != nil {
		return err
	}
	data["Freshness"] = h.freshness(c, data["Lang"].(string))
	data["Title"] = suid + " · " + m.SupplierName
	h.describeEvents(data["Lang"].(string), m.Sessions, data)
	data["M"] = m
	if comfort != nil {
		data["Comfort"] = comfort
	}
	data["Webhooks"] = hooks
	data["Path"] = consoleUserPath(sup, suid)
	data["Now"] = h.now()
	data["Marked"] = c.Query("marked") != ""
	// One key per rendered form: submitting it again (a refresh of the
	// result page) shows the same link instead of creating another.
	data["FormKey"] = app.RandomToken(24)
	return h.renderPortal(c, "pages/console/mapping", data)
}

// showSession is one link session's page: what the flow recorded, its
// timeline, and the customer's page when the supplier user is known. It is
// where queue rows without a known customer lead.
func (h *Handler) showSession(c *fiber.Ctx) error {
	tl, err := h.store.SessionTimeline(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	data, err := h.consoleBase(c, "console.session.title", "queue")
	if err != nil {
		return err
	}
	sessions := []app.SessionTimeline{tl}
	h.describeEvents(data["Lang"].(string), sessions, data)
	data["S"] = sessions[0]
	if tl.SupplierID != "" && tl.SupplierUserID != "" {
		data["Path"] = consoleUserPath(tl.SupplierID, tl.SupplierUserID)
	}
	return h.renderPortal(c, "pages/console/session", data)
}

// relinkMail returns the subject and body of the email with a relink link.
func (h *Handler) relinkMail(lang, supplierName string) func(link string) (string, string) {
	return func(link string) (string, string) {
		return h.tr.T(lang, "console.email.subject"), h.tr.T(lang, "console.email.body", supplierName, link)
	}
}

// relink creates a new link session for the supplier user (brand
// preselected when given) and shows the link, its QR code and, when asked,
// queues an email with it.
func (h *Handler) relink(c *fiber.Ctx) error {
	sup, suid, err := supplierUserParams(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	m, err := h.store.GetMapping(ctx, sup, suid)
	if err != nil {
		return err
	}
	brand := c.FormValue("brand")
	if brand != "" && !h.manufacturers.Has(brand) {
		return app.Errorf(app.EINVALID, "unknown brand %q", brand)
	}
	lang := c.FormValue("language")
	if !app.ValidLanguage(lang) {
		lang = ""
	}
	email := strings.TrimSpace(c.FormValue("email"))
	if c.FormValue("send_email") == "" {
		email = ""
	} else if !validEmail(email) {
		return app.Errorf(app.EINVALID, "Enter a valid email address to send the link.")
	}
	u := portalUser(c)
	mailLang := lang
	if mailLang == "" {
		mailLang = latestLanguage(m)
	}
	formKey := c.FormValue("form_key")
	if len(formKey) > 64 {
		return app.Errorf(app.EINVALID, "form_key is too long")
	}
	sess, token, err := h.store.CreateRelink(ctx, app.Relink{SupplierID: sup, SupplierUserID: suid, Brand: brand, Language: lang,
		TTL: h.cfg.Link.SessionTTL.D(), Email: email, ActorID: app.Actor(u.ID), IP: c.IP(), FormKey: formKey},
		h.linkURL, h.relinkMail(mailLang, m.SupplierName))
	if app.ErrorReason(err) == app.ReasonNoRedirectURI {
		// The customer's page says why and where to fix it.
		return c.Redirect(consoleUserPath(sup, suid)+"#relink", fiber.StatusSeeOther)
	}
	if err != nil {
		return err
	}
	link := h.linkURL(token)
	png, err := qrcode.Encode(link, qrcode.Medium, 240)
	if err != nil {
		return err
	}
	data, err := h.consoleBase(c, "console.relink.title", "search")
	if err != nil {
		return err
	}
	data["M"], data["Session"], data["Link"] = m, sess, link
	// A PNG we generated ourselves: safe as a data: URL (the CSP allows data: images).
	data["QR"] = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
	data["Email"] = email
	data["Path"] = consoleUserPath(sup, suid)
	if brand != "" {
		if mf, err := h.store.GetManufacturer(ctx, brand); err == nil {
			data["BrandName"] = mf.Name
		}
	}
	return h.renderPortal(c, "pages/console/relink", data)
}

func latestLanguage(m app.Mapping) string {
	if len(m.Sessions) > 0 {
		return m.Sessions[0].Language
	}
	return "en"
}

func validEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	return len(s) >= 3 && len(s) <= 254 && at > 0 && at < len(s)-1 && !strings.ContainsAny(s, " \r\n<>,;\"")
}

// markRelinkRequired marks one of the supplier user's devices as needing a
// relink (the supplier is notified).
func (h *Handler) markRelinkRequired(c *fiber.Ctx) error {
	sup, suid, err := supplierUserParams(c)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil {
		return app.Errorf(app.ENOTFOUND, "device not found")
	}
	u := portalUser(c)
	if err := h.store.MarkRelinkRequired(c.UserContext(), sup, suid, id, app.AuditEntry{ActorID: app.Actor(u.ID), IP: c.IP()}); err != nil {
		return err
	}
	return c.Redirect(consoleUserPath(sup, suid)+"?marked=1#devices", fiber.StatusSeeOther)
}

// queueAges are the queue's age filters.
var queueAges = map[string]time.Duration{"1h": time.Hour, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour}

// queueReasons are the failure reasons the queue filters by.
var queueReasons = []string{app.ReasonExpired, app.ReasonExpiredAfterAuth, app.ReasonAccessDenied, app.ReasonManufacturerError,
	app.ReasonManufacturerDown, app.ReasonNoDevices, app.ReasonCancelled, app.ReasonAlreadyUsed, app.ReasonSupplierError,
	app.ReasonAlreadyLinked}

// showQueue lists the sessions that ended failed, expired or
// expired_after_auth, newest first, with counts per reason.
func (h *Handler) showQueue(c *fiber.Ctx) error {
	data, err := h.consoleBase(c, "console.queue.title", "queue")
	if err != nil {
		return err
	}
	f := app.QueueFilter{Brand: c.Query("brand"), SupplierID: c.Query("supplier")}
	for _, r := range queueReasons {
		if c.Query("reason") == r {
			f.Reason = r
		}
	}
	age := c.Query("age", "7d")
	if d, ok := queueAges[age]; ok {
		f.Since = h.now().Add(-d)
	} else {
		age = "all"
	}
	var after *app.QueueCursor
	if a := c.Query("after"); a != "" {
		cur, err := app.DecodeQueueCursor(a)
		if err != nil {
			return err
		}
		after = &cur
	}
	ctx := c.UserContext()
	rows, next, err := h.store.FailedSessions(ctx, f, after, consolePageSize)
	if err != nil {
		return err
	}
	counts, err := h.store.FailureCounts(ctx, f)
	if err != nil {
		return err
	}
	total := 0
	for _, rc := range counts {
		total += rc.Count
	}
	q := url.Values{}
	for k, v := range map[string]string{"brand": f.Brand, "supplier": f.SupplierID, "age": age} {
		if v != "" {
			q.Set(k, v)
		}
	}
	data["Base"] = "/console/queue?" + q.Encode()
	if f.Reason != "" {
		q.Set("reason", f.Reason)
	}
	if next != nil {
		q.Set("after", next.Encode())
		data["NextURL"] = "/console/queue?" + q.Encode()
	}
	data["Rows"], data["Counts"], data["Total"], data["Filter"], data["Age"], data["Reasons"] = rows, counts, total, f, age, queueReasons
	data["Paged"] = after != nil
	return h.renderPortal(c, "pages/console/queue", data, "partials/console_queue")
}

// showBulkRelink asks for the devices to relink (brand, supplier) and, once
// chosen, states how many devices the bulk relink will touch.
func (h *Handler) showBulkRelink(c *fiber.Ctx) error {
	data, err := h.consoleBase(c, "console.bulk.title", "bulk")
	if err != nil {
		return err
	}
	f := app.BulkRelinkFilter{Brand: c.Query("brand"), SupplierID: c.Query("supplier"), Status: app.DeviceRelinkRequired}
	ctx := c.UserContext()
	if f.Brand != "" {
		n, err := h.store.CountBulkRelink(ctx, f)
		if err != nil {
			return err
		}
		data["Count"] = n
		data["Chosen"] = true
		if m, err := h.store.GetManufacturer(ctx, f.Brand); err == nil {
			data["BrandName"] = m.Name
		}
	}
	jobs, err := h.store.RecentBulkRelinks(ctx, 10)
	if err != nil {
		return err
	}
	data["Filter"], data["Jobs"] = f, jobs
	return h.renderPortal(c, "pages/console/bulk", data)
}

// startBulkRelink records a bulk relink and its job (any instance's job
// runner does the work) and shows its progress page. The confirmed count must still hold, so a set that changed
// since the confirmation is confirmed again.
func (h *Handler) startBulkRelink(c *fiber.Ctx) error {
	f := app.BulkRelinkFilter{Brand: c.FormValue("brand"), SupplierID: c.FormValue("supplier")}
	if !h.manufacturers.Has(f.Brand) {
		return app.Errorf(app.EINVALID, "choose a brand")
	}
	ctx := c.UserContext()
	n, err := h.store.CountBulkRelink(ctx, f)
	if err != nil {
		return err
	}
	if strconv.Itoa(n) != c.FormValue("count") {
		return c.Redirect("/console/bulk?"+url.Values{"brand": {f.Brand}, "supplier": {f.SupplierID}, "changed": {"1"}}.Encode(),
			fiber.StatusSeeOther)
	}
	b, err := h.store.StartBulkRelink(ctx, f, app.AuditEntry{ActorID: app.Actor(portalUser(c).ID), IP: c.IP()})
	if err != nil {
		return err
	}
	return c.Redirect("/console/bulk/"+strconv.FormatInt(b.ID, 10), fiber.StatusSeeOther)
}

// bulkFailuresShown bounds the failed items a bulk relink's page lists.
const bulkFailuresShown = 200

// showBulkProgress shows a bulk relink's progress; the HTMX poll gets the
// progress fragment until the job is finished.
func (h *Handler) showBulkProgress(c *fiber.Ctx) error {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil {
		return app.Errorf(app.ENOTFOUND, "bulk relink not found")
	}
	b, err := h.store.GetBulkRelink(c.UserContext(), id)
	if err != nil {
		return err
	}
	data, err := h.consoleBase(c, "console.bulk.progress_title", "bulk")
	if err != nil {
		return err
	}
	data["Job"] = b
	if b.Failed > 0 {
		if data["Failures"], err = h.store.BulkRelinkFailures(c.UserContext(), id, bulkFailuresShown); err != nil {
			return err
		}
		data["MoreFailures"] = b.Failed > bulkFailuresShown
	}
	return h.renderPortal(c, "pages/console/bulk_progress", data, "partials/console_bulk_progress")
}

// shortAge writes a duration as agents read it at a glance: 45s, 12m, 3h, 5d.
func shortAge(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + "m"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + "h"
	}
	return strconv.Itoa(int(d.Hours()/24)) + "d"
}
