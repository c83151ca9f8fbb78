package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"noxportal/app"
	"noxportal/db/dbtest"
	"noxportal/handlers/handlertest"
)

// linkCustomer links supplierUserID of the test supplier through the hosted
// flow at brand as sandbox user username with decision, and returns where
// the flow sent the browser back.
func linkCustomer(t *testing.T, s *handlertest.Server, supplierUserID, brand, username, decision string) string {
	t.Helper()
	link := s.MustCreateLink(t, supplierUserID)
	return s.Walk(t, s.Client(), link["link_url"].(string), brand, username, "pass_good", decision)
}

func byAttr(name, val string) func(*html.Node) bool {
	return func(n *html.Node) bool { return handlertest.Attr(n, name) == val }
}

// postCSRF posts form to path with the CSRF token of the page at tokenPage.
func postCSRF(t *testing.T, s *handlertest.Server, c *http.Client, tokenPage, path string, form url.Values) handlertest.Page {
	t.Helper()
	p := handlertest.Get(t, c, s.URL+tokenPage)
	if form == nil {
		form = url.Values{}
	}
	form.Set("_csrf", p.CSRF(t))
	return handlertest.PostForm(t, c, s.URL+path, form)
}

func TestConsoleRoutesFollowRoles(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	linkCustomer(t, s, "role-user", "sandbox-heatpump", "user_good", "allow")
	user := "/console/users/" + s.SupplierID + "/role-user"
	consoleGets := []string{"/console", "/console?q=role", "/console/queue", "/console/bulk", "/console/bulk?brand=sandbox-heatpump", user}
	adminGets := []string{"/admin/suppliers", "/admin/suppliers/new", "/admin/suppliers/" + s.SupplierID, "/admin/manufacturers",
		"/admin/audit", "/admin/webhooks"}
	consolePosts := []string{user + "/relink", user + "/devices/1/relink-required", "/console/bulk"}
	adminPosts := []string{"/admin/suppliers", "/admin/suppliers/" + s.SupplierID, "/admin/suppliers/" + s.SupplierID + "/keys",
		"/admin/suppliers/" + s.SupplierID + "/keys/1/rotate", "/admin/suppliers/" + s.SupplierID + "/keys/1/revoke",
		"/admin/manufacturers/sandbox-heatpump", "/admin/webhooks/deliveries/wd_none/replay"}
	tests := []struct {
		role                                      string
		tokenPage                                 string
		consoleRead, adminRead, consoleAct, admin bool
	}{
		{app.RoleCustomer, "/account", false, false, false, false},
		{app.RoleManager, "/console", true, false, false, false},
		{app.RoleAgent, "/console", true, false, true, false},
		{app.RoleAdmin, "/console", true, true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.role, func(t *testing.T) {
			_, c := s.MustLogin(t, tt.role+"@roles.test", tt.role)
			check := func(method, path string, allowed bool) {
				t.Helper()
				var p handlertest.Page
				if method == "GET" {
					p = handlertest.Get(t, c, s.URL+path)
				} else {
					p = postCSRF(t, s, c, tt.tokenPage, path, url.Values{"name": {"x"}, "status": {"ok"}})
				}
				switch {
				case allowed && method == "GET" && p.Status != http.StatusOK:
					t.Errorf("%s %s as %s: got %d, want 200", method, path, tt.role, p.Status)
				case allowed && (p.Status == http.StatusForbidden || p.Status == http.StatusUnauthorized):
					t.Errorf("%s %s as %s: got %d, want the action to be allowed", method, path, tt.role, p.Status)
				case !allowed && p.Status != http.StatusForbidden:
					t.Errorf("%s %s as %s: got %d, want 403", method, path, tt.role, p.Status)
				}
			}
			for _, p := range consoleGets {
				check("GET", p, tt.consoleRead)
			}
			for _, p := range adminGets {
				check("GET", p, tt.adminRead)
			}
			for _, p := range consolePosts {
				check("POST", p, tt.consoleAct)
			}
			for _, p := range adminPosts {
				check("POST", p, tt.admin)
			}
		})
	}
	t.Run("signed out", func(t *testing.T) {
		c := s.Client()
		for _, p := range append(consoleGets, adminGets...) {
			if got := handlertest.Get(t, c, s.URL+p); got.Status != http.StatusSeeOther || !strings.Contains(got.Location, "/login?next=") {
				t.Errorf("GET %s signed out: got %d → %q, want 303 to /login", p, got.Status, got.Location)
			}
		}
	})
}

func TestAgentFindsAFailedLinkAndRelinksTheCustomer(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	ctx := context.Background()
	const suid = "cust-4711"
	linkCustomer(t, s, suid, "sandbox-heatpump", "user_good", "allow")
	if back := linkCustomer(t, s, suid, "sandbox-heatpump", "user_good", "deny"); !strings.Contains(back, "error=access_denied") {
		t.Fatalf("denied link returned to %q, want error=access_denied", back)
	}
	_, agent := s.MustLogin(t, "agent@console.test", app.RoleAgent)

	// Search, as the HTMX box does it: a fragment with the customer.
	req, _ := http.NewRequest("GET", s.URL+"/console?q=4711", nil)
	req.Header.Set("HX-Request", "true")
	resp, err := agent.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	frag := handlertest.ReadPage(t, resp)
	if strings.Contains(frag.Body, "<html") || handlertest.Find(frag.Doc, byAttr("data-user", suid)) == nil {
		t.Fatalf("search fragment: want a result for %s without the layout:\n%s", suid, frag.Body)
	}

	path := "/console/users/" + s.SupplierID + "/" + suid
	page := handlertest.Get(t, agent, s.URL+path)
	if page.Status != http.StatusOK || !strings.Contains(page.Body, "Access denied") {
		t.Fatalf("mapping page: got %d, want the timeline with the access_denied session:\n%s", page.Status, page.Body)
	}
	dev := handlertest.Find(page.Doc, func(n *html.Node) bool { return handlertest.Attr(n, "data-status") != "" })
	if dev == nil || handlertest.Attr(dev, "data-status") != app.DeviceConnected {
		t.Fatalf("device status on the mapping page: want connected")
	}

	if _, err := s.Store.SetWebhookEndpoint(ctx, app.SupplierParty(s.SupplierID), "https://supplier.example/hooks", false); err != nil {
		t.Fatal(err)
	}
	// Mark the device as needing a relink.
	action, vals := page.FormValues(t, "/relink-required")
	if p := handlertest.PostForm(t, agent, s.URL+action, vals); p.Status != http.StatusSeeOther {
		t.Fatalf("mark relink required: got %d", p.Status)
	}
	page = handlertest.Get(t, agent, s.URL+path)
	if handlertest.Find(page.Doc, byAttr("data-status", app.DeviceRelinkRequired)) == nil {
		t.Errorf("after marking: want the device shown as relink_required")
	}
	if !strings.Contains(page.Body, "device.relink_required") || handlertest.Find(page.Doc, func(n *html.Node) bool { return hasAttr(n, "data-delivery") }) == nil {
		t.Errorf("after marking: want the device.relink_required webhook delivery on the customer page")
	}

	// Relink with the brand preselected and an email to the customer.
	_, vals = page.FormValues(t, path+"/relink", "brand", "sandbox-heatpump")
	_, panel := page.FormValues(t, path+"/relink")
	if panel.Get("form_key") == "" {
		t.Fatalf("relink panel without a form key:\n%s", page.Body)
	}
	vals.Set("form_key", panel.Get("form_key"))
	vals.Set("send_email", "1")
	vals.Set("email", "customer4711@example.com")
	relink := handlertest.PostForm(t, agent, s.URL+path+"/relink", vals)
	if relink.Status != http.StatusOK {
		t.Fatalf("relink: got %d:\n%s", relink.Status, relink.Body)
	}
	in := handlertest.Find(relink.Doc, func(n *html.Node) bool {
		return n.Data == "input" && handlertest.Attr(n, "data-link") != "" || n.Data == "input" && hasAttr(n, "data-link")
	})
	if in == nil {
		t.Fatalf("relink page has no link:\n%s", relink.Body)
	}
	linkURL := handlertest.Attr(in, "value")
	img := handlertest.Find(relink.Doc, func(n *html.Node) bool {
		return n.Data == "img" && strings.HasPrefix(handlertest.Attr(n, "src"), "data:image/png;base64,")
	})
	if img == nil {
		t.Errorf("relink page: want a QR code image")
	}
	if handlertest.Find(relink.Doc, func(n *html.Node) bool { return hasAttr(n, "data-copy") }) == nil {
		t.Errorf("relink page: want a copy button")
	}
	token := strings.TrimPrefix(linkURL[strings.Index(linkURL, "token="):], "token=")
	sess, err := s.Store.LinkSessionByToken(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	wantURI, _ := dbtest.SupplierRedirectURI(ctx, s.Store, s.SupplierID)
	if sess.Initiator != app.InitiatorAgent || sess.Brand() != "sandbox-heatpump" || !sess.Preselected ||
		sess.SupplierUserID != suid || sess.RedirectURI != wantURI {
		t.Errorf("relink session: got initiator=%s brand=%s preselected=%v user=%s redirect=%s, want agent, sandbox-heatpump, true, %s, %s",
			sess.Initiator, sess.Brand(), sess.Preselected, sess.SupplierUserID, sess.RedirectURI, suid, wantURI)
	}
	// The same form again (a refresh of the result page): the same link,
	// no second session and no second email.
	again := handlertest.PostForm(t, agent, s.URL+path+"/relink", vals)
	if again.Status != http.StatusOK || !strings.Contains(again.Body, linkURL) {
		t.Errorf("relink form sent again: got %d, want the same link %s", again.Status, linkURL)
	}
	var relinks int
	if err := s.Store.DB().Get(&relinks, `SELECT count(*) FROM link_sessions WHERE supplier_user_id = $1 AND initiator = 'agent'`, suid); err != nil || relinks != 1 {
		t.Errorf("relink sessions after sending the form twice: %d (%v), want 1", relinks, err)
	}
	mails, err := dbtest.OutboxEmails(ctx, s.Store, sess.ID)
	if err != nil || len(mails) != 1 || mails[0].To != "customer4711@example.com" || !strings.Contains(mails[0].Body, linkURL) {
		t.Errorf("outbox: got %+v (%v), want one email to the customer with the link", mails, err)
	}
	page = handlertest.Get(t, agent, s.URL+path)
	if handlertest.Find(page.Doc, byAttr("data-status", "relink_pending")) == nil {
		t.Errorf("while the relink is open: want the device shown as relink pending")
	}

	// The customer follows the link: straight to the manufacturer, and back connected.
	back := s.Walk(t, s.Client(), linkURL, "sandbox-heatpump", "user_good", "pass_good", "allow")
	if !strings.Contains(back, "connection_status=connected") {
		t.Fatalf("relink flow ended at %q, want connected", back)
	}
	page = handlertest.Get(t, agent, s.URL+path)
	if handlertest.Find(page.Doc, byAttr("data-status", app.DeviceConnected)) == nil || strings.Contains(page.Body, `data-status="relink_pending"`) {
		t.Errorf("after the customer relinked: want the device connected and no relink pending")
	}
	audit, err := s.Store.SearchAudit(ctx, app.AuditFilter{ObjectType: "supplier_user"}, 10)
	if err != nil || len(audit) != 1 || audit[0].Action != "mapping.relink" || audit[0].ActorEmail != "agent@console.test" {
		t.Errorf("audit: got %+v (%v), want one mapping.relink by the agent", audit, err)
	}
	if a, _ := s.Store.SearchAudit(ctx, app.AuditFilter{Action: "device.relink_required"}, 10); len(a) != 1 || !strings.Contains(a[0].AfterJSON, "relink_required") {
		t.Errorf("audit: got %+v, want one device.relink_required with the new status", a)
	}
}

func TestQueueListsFailedAndExpiredSessionsWithCountsPerReason(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	ctx := context.Background()
	linkCustomer(t, s, "q-denied", "sandbox-heatpump", "user_good", "deny")
	linkCustomer(t, s, "q-nodev", "sandbox-thermostat", "user_no_devices", "allow")
	s.MustCreateLink(t, "q-expired")
	late := s.MustCreateLink(t, "q-late")
	lateSess, err := s.Store.LinkSessionByToken(ctx, late["link_token"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store.DB().ExecContext(ctx, `UPDATE link_sessions SET expires_at = now() - interval '1 second' WHERE supplier_user_id IN ('q-expired', 'q-late')`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store.SweepExpiredSessions(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store.DB().ExecContext(ctx, `UPDATE link_sessions SET failure_reason = 'expired_after_auth' WHERE id = $1`, lateSess.ID); err != nil {
		t.Fatal(err)
	}
	_, agent := s.MustLogin(t, "agent@queue.test", app.RoleAgent)
	page := handlertest.Get(t, agent, s.URL+"/console/queue")
	if page.Status != http.StatusOK {
		t.Fatalf("queue: got %d", page.Status)
	}
	counts := map[string]string{}
	for _, chip := range handlertest.FindAll(page.Doc, func(n *html.Node) bool { return hasAttr(n, "data-reason") }) {
		c := handlertest.Find(chip, func(n *html.Node) bool { return handlertest.Attr(n, "class") == "count" })
		counts[handlertest.Attr(chip, "data-reason")] = handlertest.Text(c)
	}
	want := map[string]string{app.ReasonAccessDenied: "1", app.ReasonNoDevices: "1", app.ReasonExpired: "1", app.ReasonExpiredAfterAuth: "1"}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("count of %s: got %q, want %q (all: %v)", k, counts[k], v, counts)
		}
	}
	rows := handlertest.FindAll(page.Doc, func(n *html.Node) bool { return n.Data == "tr" && hasAttr(n, "data-session") })
	if len(rows) != 4 {
		t.Errorf("queue rows: got %d, want 4", len(rows))
	}
	filtered := handlertest.Get(t, agent, s.URL+"/console/queue?reason=expired_after_auth")
	rows = handlertest.FindAll(filtered.Doc, func(n *html.Node) bool { return n.Data == "tr" && hasAttr(n, "data-session") })
	if len(rows) != 1 || handlertest.Attr(rows[0], "data-session") != lateSess.ID {
		t.Errorf("queue filtered by expired_after_auth: got %d rows, want only %v", len(rows), lateSess.ID)
	}
	// Relink straight from the queue row.
	action, vals := filtered.FormValues(t, "/relink")
	if p := handlertest.PostForm(t, agent, s.URL+action, vals); p.Status != http.StatusOK || !strings.Contains(action, "q-late") {
		t.Errorf("relink from the queue (%s): got %d, want 200", action, p.Status)
	}
}

func TestBulkRelinkConfirmsTheCountAndFinishesInTheBackground(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		linkCustomer(t, s, "bulk-"+strconv.Itoa(i), "sandbox-heatpump", "user_good", "allow")
	}
	linkCustomer(t, s, "bulk-other", "sandbox-thermostat", "user_good", "allow")
	if _, err := s.Store.DB().ExecContext(ctx, `UPDATE devices SET status = 'relink_required'`); err != nil {
		t.Fatal(err)
	}
	_, agent := s.MustLogin(t, "agent@bulk.test", app.RoleAgent)
	confirm := handlertest.Get(t, agent, s.URL+"/console/bulk?brand=sandbox-heatpump")
	h := handlertest.Find(confirm.Doc, func(n *html.Node) bool { return hasAttr(n, "data-count") })
	if h == nil || handlertest.Attr(h, "data-count") != "3" {
		t.Fatalf("bulk confirmation: want a count of 3:\n%s", confirm.Body)
	}
	action, vals := confirm.FormValues(t, "/console/bulk", "count", "3")
	vals.Set("count", "2")
	if p := handlertest.PostForm(t, agent, s.URL+action, vals); p.Status != http.StatusSeeOther || !strings.Contains(p.Location, "changed=1") {
		t.Errorf("bulk with a stale count: got %d → %q, want a new confirmation", p.Status, p.Location)
	}
	vals.Set("count", "3")
	start := handlertest.PostForm(t, agent, s.URL+action, vals)
	if start.Status != http.StatusSeeOther || !strings.HasPrefix(s.Local(start.Location), "/console/bulk/") {
		t.Fatalf("start bulk: got %d → %q", start.Status, start.Location)
	}
	progress := waitBulkFinished(t, agent, s.URL+s.Local(start.Location))
	if handlertest.Find(progress.Doc, func(n *html.Node) bool { return hasAttr(n, "data-finished") }) == nil {
		t.Fatalf("bulk relink did not finish:\n%s", progress.Body)
	}
	var n int
	if err := s.Store.DB().GetContext(ctx, &n, `
		SELECT count(DISTINCT supplier_user_id) FROM link_sessions WHERE initiator = 'agent' AND manufacturer_id = 'sandbox-heatpump'
		AND brand_preselected AND status = 'created'`); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("agent sessions after the bulk relink: got %d supplier users, want 3", n)
	}
	if a, _ := s.Store.SearchAudit(ctx, app.AuditFilter{Action: "mapping.bulk_relink"}, 5); len(a) != 1 || !strings.Contains(a[0].AfterJSON, `"count": 3`) {
		t.Errorf("audit: got %+v, want one mapping.bulk_relink with count 3", a)
	}
}

// showOnceAfter follows an admin action's redirect (post/redirect/get) and
// returns the page that shows its secret; loading that page again must not
// show the secret any more.
func showOnceAfter(t *testing.T, s *handlertest.Server, c *http.Client, post handlertest.Page) handlertest.Page {
	t.Helper()
	if post.Status != http.StatusSeeOther {
		t.Fatalf("admin action: got %d, want 303 to the result page:\n%s", post.Status, post.Body)
	}
	p := handlertest.Get(t, c, s.URL+s.Local(post.Location))
	if p.Status != http.StatusOK {
		t.Fatalf("result page %s: got %d", post.Location, p.Status)
	}
	again := handlertest.Get(t, c, s.URL+s.Local(post.Location))
	if handlertest.Find(again.Doc, func(n *html.Node) bool { return hasAttr(n, "data-new-key") || hasAttr(n, "data-webhook-secret") }) != nil ||
		handlertest.Find(again.Doc, func(n *html.Node) bool { return hasAttr(n, "data-secret-gone") }) == nil {
		t.Errorf("reloading %s shows the secret again or does not say it was shown", post.Location)
	}
	return p
}

func TestAdminManagesSuppliersKeysAndManufacturers(t *testing.T) {
	t.Parallel()
	began := time.Now().UTC().Format("2006-01-02")
	s := handlertest.Start(t)
	ctx := context.Background()
	_, admin := s.MustLogin(t, "admin@admin.test", app.RoleAdmin)
	form := url.Values{"id": {"acme"}, "name": {"Acme Power"}, "redirect_uris": {"http://acme.example/cb"}}
	if p := postCSRF(t, s, admin, "/admin/suppliers/new", "/admin/suppliers", form); p.Status != http.StatusUnprocessableEntity ||
		!strings.Contains(p.Body, "https") {
		t.Errorf("plain-http redirect URI: got %d, want 422 explaining https", p.Status)
	}
	form.Set("redirect_uris", "https://acme.example/cb\nhttp://127.0.0.1:4000/cb")
	form.Set("webhook_url", "https://acme.example/hooks")
	form.Set("oauth_login_url", "https://acme.example/oauth/authorize")
	form.Set("oauth_client_id", "nox")
	createdSup := showOnceAfter(t, s, admin, postCSRF(t, s, admin, "/admin/suppliers/new", "/admin/suppliers", form))
	if handlertest.Find(createdSup.Doc, func(n *html.Node) bool { return hasAttr(n, "data-webhook-secret") }) == nil {
		t.Fatalf("create supplier with a webhook: want the signing secret shown once:\n%s", createdSup.Body)
	}
	if ep, err := s.Store.WebhookEndpoint(ctx, app.SupplierParty("acme")); err != nil || ep.URL != "https://acme.example/hooks" {
		t.Errorf("webhook endpoint: got %+v (%v), want https://acme.example/hooks", ep, err)
	}
	if sup, _ := s.Store.GetSupplierSettings(ctx, "acme"); sup.OAuthLoginURL != "https://acme.example/oauth/authorize" || sup.OAuthClientID != "nox" {
		t.Errorf("flow-2 login page: got %q / %q", sup.OAuthLoginURL, sup.OAuthClientID)
	}
	if uri, _ := dbtest.SupplierRedirectURI(ctx, s.Store, "acme"); uri != "https://acme.example/cb" {
		t.Errorf("first redirect URI: got %q, want the first one entered", uri)
	}

	created := showOnceAfter(t, s, admin, postCSRF(t, s, admin, "/admin/suppliers/acme", "/admin/suppliers/acme/keys", url.Values{"name": {"production"}}))
	keyInput := handlertest.Find(created.Doc, func(n *html.Node) bool { return hasAttr(n, "data-new-key") })
	if keyInput == nil {
		t.Fatalf("create key: the new key is not shown:\n%s", created.Body)
	}
	key := handlertest.Attr(keyInput, "value")
	if r := s.API(t, "GET", "/users/nobody", key, ""); r.Status != http.StatusNotFound {
		t.Errorf("the new key: got %d, want it to authenticate (404 for an unknown user)", r.Status)
	}
	if again := handlertest.Get(t, admin, s.URL+"/admin/suppliers/acme"); strings.Contains(again.Body, key) {
		t.Errorf("the key is shown again after creation")
	}
	keys, _ := s.Store.SupplierAPIKeys(ctx, "acme")
	rotated := showOnceAfter(t, s, admin, postCSRF(t, s, admin, "/admin/suppliers/acme", "/admin/suppliers/acme/keys/"+strconv.FormatInt(keys[0].ID, 10)+"/rotate",
		url.Values{"overlap": {"1h"}}))
	names := map[string]string{}
	for _, tr := range handlertest.FindAll(rotated.Doc, func(n *html.Node) bool { return n.Data == "tr" && hasAttr(n, "data-key") }) {
		names[handlertest.Attr(tr, "data-key")] = handlertest.Text(tr.FirstChild.NextSibling)
		revoke := handlertest.Find(tr, byAttr("data-action", "revoke"))
		if revoke == nil || !strings.Contains(handlertest.Attr(revoke, "data-confirm"), handlertest.Attr(tr, "data-key")) {
			t.Errorf("revoke confirmation of key %s does not name it", handlertest.Attr(tr, "data-key"))
		}
	}
	if len(names) != 2 || names[keys[0].Prefix] != "production" || !strings.Contains(fmt.Sprint(names), "production (replaces "+keys[0].Prefix) {
		t.Errorf("key names after a rotation: got %v, want the new key named after the one it replaces", names)
	}
	newKey := handlertest.Attr(handlertest.Find(rotated.Doc, func(n *html.Node) bool { return hasAttr(n, "data-new-key") }), "value")
	for _, k := range []string{key, newKey} {
		if r := s.API(t, "GET", "/users/nobody", k, ""); r.Status != http.StatusNotFound {
			t.Errorf("during the rotation overlap, key %s…: got %d, want it to work", k[:12], r.Status)
		}
	}
	if p := postCSRF(t, s, admin, "/admin/suppliers/acme", "/admin/suppliers/acme/keys/"+strconv.FormatInt(keys[0].ID, 10)+"/revoke", nil); p.Status != http.StatusSeeOther {
		t.Errorf("revoke: got %d", p.Status)
	}
	if r := s.API(t, "GET", "/users/nobody", key, ""); r.Status != http.StatusUnauthorized {
		t.Errorf("revoked key: got %d, want 401", r.Status)
	}

	mf := url.Values{"enabled": {"1"}, "status": {"down"}, "message": {"Planned maintenance until 14:00"}}
	if p := postCSRF(t, s, admin, "/admin/manufacturers", "/admin/manufacturers/sandbox-heatpump", mf); p.Status != http.StatusSeeOther {
		t.Fatalf("set brand down: got %d", p.Status)
	}
	link := s.MustCreateLink(t, "brand-page-user")
	brands := handlertest.Get(t, s.Client(), link["link_url"].(string))
	btn := handlertest.Find(brands.Doc, byAttr("data-brand", "sandbox-heatpump"))
	if !strings.Contains(brands.Body, "Planned maintenance until 14:00") || btn == nil || !hasAttr(btn, "disabled") {
		t.Errorf("brand page: want the maintenance message and the down brand disabled")
	}

	supAudit := handlertest.Get(t, admin, s.URL+"/admin/audit?action=supplier.create")
	// Today's created_at: the day the test began, or the next one when it
	// ran past midnight (UTC).
	if d := handlertest.Find(supAudit.Doc, byAttr("data-field", "created at")); d == nil || strings.Contains(handlertest.Text(d), "0001-01-01") ||
		!strings.Contains(handlertest.Text(d), began) && !strings.Contains(handlertest.Text(d), time.Now().UTC().Format("2006-01-02")) {
		t.Errorf("audit of supplier.create: want today's created_at in the diff:\n%s", supAudit.Body)
	}
	if txt := handlertest.Text(handlertest.Find(supAudit.Doc, byAttr("id", "audit"))); strings.Contains(txt, `{"`) {
		t.Errorf("audit shows raw JSON: %s", txt)
	}
	if d := handlertest.Find(supAudit.Doc, byAttr("data-field", "redirect uris")); d == nil || !strings.Contains(handlertest.Text(d), "https://acme.example/cb, http://127.0.0.1:4000/cb") {
		t.Errorf("audit: want the redirect URIs as a list")
	}
	audit := handlertest.Get(t, admin, s.URL+"/admin/audit?action=api_key")
	var actions []string
	for _, tr := range handlertest.FindAll(audit.Doc, func(n *html.Node) bool { return n.Data == "tr" && hasAttr(n, "data-action") }) {
		actions = append(actions, handlertest.Attr(tr, "data-action"))
	}
	if strings.Join(actions, ",") != "api_key.revoke,api_key.rotate,api_key.create" {
		t.Errorf("audit filtered by api_key: got %v, want revoke, rotate, create", actions)
	}
	all, _ := s.Store.SearchAudit(ctx, app.AuditFilter{}, 50)
	seen := map[string]bool{}
	for _, a := range all {
		seen[a.Action] = true
		if a.ActorEmail != "admin@admin.test" {
			t.Errorf("audit %s: actor %q, want the admin", a.Action, a.ActorEmail)
		}
		if strings.Contains(a.AfterJSON, key) || strings.Contains(a.AfterJSON, newKey) {
			t.Errorf("audit %s holds a plaintext key", a.Action)
		}
	}
	for _, want := range []string{"supplier.create", "api_key.create", "api_key.rotate", "api_key.revoke", "manufacturer.update"} {
		if !seen[want] {
			t.Errorf("audit: no %s entry", want)
		}
	}
}

func TestAdminSeesWebhookDeliveriesPerEndpointAndReplaysOne(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	ctx := context.Background()
	linkCustomer(t, s, "hook-user", "sandbox-heatpump", "user_good", "allow")
	if _, err := s.Store.SetWebhookEndpoint(ctx, app.SupplierParty(s.SupplierID), "https://supplier.example/hooks", false); err != nil {
		t.Fatal(err)
	}
	var deviceID int64
	if err := s.Store.DB().GetContext(ctx, &deviceID, `SELECT id FROM devices LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	if err := s.Store.MarkRelinkRequired(ctx, s.SupplierID, "hook-user", deviceID, app.AuditEntry{}); err != nil {
		t.Fatal(err)
	}
	// The delivery gave up (no worker runs in this test).
	if _, err := s.Store.DB().ExecContext(ctx, `UPDATE webhook_deliveries SET status = 'failed', finished_at = now(), attempts = 1`); err != nil {
		t.Fatal(err)
	}
	_, admin := s.MustLogin(t, "admin@hooks.test", app.RoleAdmin)
	page := handlertest.Get(t, admin, s.URL+"/admin/webhooks")
	row := handlertest.Find(page.Doc, func(n *html.Node) bool { return n.Data == "tr" && hasAttr(n, "data-delivery") })
	if row == nil || !strings.Contains(handlertest.Text(row), "device.relink_required") {
		t.Fatalf("webhook page: want the device.relink_required delivery:\n%s", page.Body)
	}
	id := handlertest.Attr(row, "data-delivery")
	action, vals := page.FormValues(t, "/admin/webhooks/deliveries/"+id+"/replay")
	replayed := handlertest.PostForm(t, admin, s.URL+action, vals)
	if replayed.Status != http.StatusSeeOther {
		t.Fatalf("replay: got %d", replayed.Status)
	}
	var n int
	if err := s.Store.DB().GetContext(ctx, &n, `SELECT count(*) FROM webhook_deliveries WHERE replay_of = $1 AND status = 'pending'`, id); err != nil || n != 1 {
		t.Errorf("after replay: got %d pending replays of %s (%v), want 1", n, id, err)
	}
	if a, _ := s.Store.SearchAudit(ctx, app.AuditFilter{Action: "webhook.replay"}, 5); len(a) != 1 {
		t.Errorf("audit: got %d webhook.replay entries, want 1", len(a))
	}
}
