package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"noxportal/app"
	"noxportal/handlers/handlertest"
)

// waitBulkFinished polls a bulk relink's page until it is finished and
// returns that page.
func waitBulkFinished(t *testing.T, c *http.Client, pageURL string) handlertest.Page {
	t.Helper()
	var p handlertest.Page
	for i := 0; i < 200; i++ {
		p = handlertest.Get(t, c, pageURL)
		if handlertest.Find(p.Doc, byAttr("data-done", "true")) != nil {
			return p
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("bulk relink did not finish:\n%s", p.Body)
	return p
}

// A supplier without redirect URIs: the customer's page says why no link
// can be made and where to fix it, a relink post lands back there without
// a session, and a bulk relink ends as failed with the reason per customer.
func TestRelinkExplainsASupplierWithoutRedirectURIs(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	ctx := context.Background()
	for _, suid := range []string{"nr-1", "nr-2"} {
		linkCustomer(t, s, suid, "sandbox-heatpump", "user_good", "allow")
	}
	if _, err := s.Store.DB().ExecContext(ctx, `DELETE FROM supplier_redirect_uris WHERE supplier_id = $1`, s.SupplierID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store.DB().ExecContext(ctx, `UPDATE devices SET status = 'relink_required'`); err != nil {
		t.Fatal(err)
	}
	sessions := func() int { return count(t, s, `SELECT count(*) FROM link_sessions WHERE initiator = 'agent'`) }

	for _, tt := range []struct {
		role    string
		wantFix bool
	}{{app.RoleAgent, false}, {app.RoleAdmin, true}} {
		_, c := s.MustLogin(t, tt.role+"@noredirect.test", tt.role)
		user := "/console/users/" + s.SupplierID + "/nr-1"
		page := handlertest.Get(t, c, s.URL+user)
		blocked := handlertest.Find(page.Doc, func(n *html.Node) bool { return hasAttr(n, "data-relink-blocked") })
		if blocked == nil || !strings.Contains(handlertest.Text(blocked), "has no redirect URI") {
			t.Fatalf("%s: customer page of a supplier without redirect URIs: want the explanation, got:\n%s", tt.role, page.Body)
		}
		fix := handlertest.Find(page.Doc, byAttr("data-action", "fix-supplier"))
		if (fix != nil) != tt.wantFix {
			t.Errorf("%s: link to the supplier's admin page: got %v, want %v", tt.role, fix != nil, tt.wantFix)
		}
		if fix != nil && handlertest.Attr(fix, "href") != "/admin/suppliers/"+s.SupplierID+"#redirect-uris" {
			t.Errorf("%s: fix link: got %q", tt.role, handlertest.Attr(fix, "href"))
		}
		if b := handlertest.Find(page.Doc, byAttr("data-action", "relink")); b != nil {
			t.Errorf("%s: a relink button is offered where no link can be made", tt.role)
		}
		p := postCSRF(t, s, c, user, user+"/relink", nil)
		if p.Status != http.StatusSeeOther || s.Local(p.Location) != user+"#relink" {
			t.Errorf("%s: relink without a redirect URI: got %d → %q, want 303 to the customer's page", tt.role, p.Status, p.Location)
		}
	}
	if n := sessions(); n != 0 {
		t.Errorf("sessions created without a redirect URI: got %d, want 0", n)
	}

	_, agent := s.MustLogin(t, "bulk-agent@noredirect.test", app.RoleAgent)
	confirm := handlertest.Get(t, agent, s.URL+"/console/bulk?brand=sandbox-heatpump")
	action, vals := confirm.FormValues(t, "/console/bulk", "count", "2")
	start := handlertest.PostForm(t, agent, s.URL+action, vals)
	if start.Status != http.StatusSeeOther {
		t.Fatalf("start bulk: got %d:\n%s", start.Status, start.Body)
	}
	done := waitBulkFinished(t, agent, s.URL+s.Local(start.Location))
	if handlertest.Find(done.Doc, byAttr("data-outcome", app.BulkFailed)) == nil {
		t.Errorf("bulk relink where every item failed: want outcome %q:\n%s", app.BulkFailed, done.Body)
	}
	fin := handlertest.Find(done.Doc, func(n *html.Node) bool { return hasAttr(n, "data-finished") })
	if fin == nil || strings.Contains(handlertest.Attr(fin, "class"), "alert-success") {
		t.Errorf("bulk relink with failures is shown as a success")
	}
	failures := handlertest.FindAll(done.Doc, byAttr("data-failure", app.ReasonNoRedirectURI))
	if len(failures) != 2 || !strings.Contains(handlertest.Text(failures[0]), "has no redirect URI") {
		t.Errorf("failed items: got %d with reason %s, want 2 naming the reason:\n%s", len(failures), app.ReasonNoRedirectURI, done.Body)
	}
	if strings.Contains(done.Body, `{"brand"`) || strings.Contains(done.Body, "app: conflict") {
		t.Errorf("bulk page shows raw JSON or Go errors:\n%s", done.Body)
	}
	list := handlertest.Get(t, agent, s.URL+"/console/bulk")
	if row := handlertest.Find(list.Doc, func(n *html.Node) bool { return hasAttr(n, "data-job") }); row == nil ||
		!strings.Contains(handlertest.Text(row), "Failed") || strings.Contains(handlertest.Text(row), `{"`) {
		t.Errorf("recent bulk relinks: want the job as Failed in words:\n%s", list.Body)
	}
}

// Every row of the failed-and-expired queue opens a page, including flow-2
// sessions declined at the supplier (no supplier user) and sessions that
// ended before a supplier was chosen; relink is offered only where it works.
func TestQueueRowsAllOpenAndOfferRelinkOnlyWhereItWorks(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	linkCustomer(t, s, "qr-denied", "sandbox-heatpump", "user_good", "deny")
	declined := s.MustCreateSupplierLink(t, "mfr-declined", "")
	s.WalkSupplier(t, s.Client(), declined["link_url"].(string), s.Config.Sandbox.Supplier.ID, "user_good", "decline")
	unchosen := s.MustCreateSupplierLink(t, "mfr-unchosen", "")
	s.ExpireLinkSession(t, tokenOf(t, unchosen["link_url"].(string)))
	if _, err := s.Store.SweepExpiredSessions(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, agent := s.MustLogin(t, "agent@queue-rows.test", app.RoleAgent)
	page := handlertest.Get(t, agent, s.URL+"/console/queue?age=all")
	rows := handlertest.FindAll(page.Doc, func(n *html.Node) bool { return n.Data == "tr" && hasAttr(n, "data-session") })
	if len(rows) != 3 {
		t.Fatalf("queue rows: got %d, want 3 (denied, declined at the supplier, no supplier chosen):\n%s", len(rows), page.Body)
	}
	relinks := 0
	for _, row := range rows {
		open := handlertest.Find(row, byAttr("data-action", "open"))
		if open == nil {
			t.Fatalf("row %s has no Open link", handlertest.Attr(row, "data-session"))
		}
		p := handlertest.Get(t, agent, s.URL+strings.Split(handlertest.Attr(open, "href"), "#")[0])
		if p.Status != http.StatusOK {
			t.Errorf("open row %s (%s): got %d, want 200", handlertest.Attr(row, "data-session"), handlertest.Attr(open, "href"), p.Status)
		}
		if !strings.Contains(p.Body, handlertest.Attr(row, "data-session")) {
			t.Errorf("the page a row opens does not show its session %s", handlertest.Attr(row, "data-session"))
		}
		if handlertest.Find(row, byAttr("data-action", "relink")) != nil {
			relinks++
			if !strings.Contains(handlertest.Text(row), "qr-denied") {
				t.Errorf("relink offered on a row without a known customer: %s", handlertest.Text(row))
			}
		}
	}
	if relinks != 1 {
		t.Errorf("rows offering relink: got %d, want 1 (the customer the supplier knows)", relinks)
	}
	if strings.Contains(page.Body, "console.reason.") {
		t.Errorf("queue shows an untranslated reason:\n%s", page.Body)
	}
}

// The timeline names brands and outcomes in words and dates every event.
func TestTimelineShowsNamesAndDatedEvents(t *testing.T) {
	t.Parallel()
	began := time.Now().UTC().Format("2006-01-02")
	s := handlertest.Start(t)
	linkCustomer(t, s, "tl-1", "sandbox-heatpump", "user_good", "allow")
	linkCustomer(t, s, "tl-1", "sandbox-heatpump", "user_good", "deny")
	_, agent := s.MustLogin(t, "agent@timeline.test", app.RoleAgent)
	page := handlertest.Get(t, agent, s.URL+"/console/users/"+s.SupplierID+"/tl-1")
	tl := handlertest.Find(page.Doc, byAttr("id", "timeline"))
	if tl == nil {
		t.Fatalf("no timeline:\n%s", page.Body)
	}
	text := handlertest.Text(tl)
	for _, raw := range []string{"sandbox-heatpump", "answered granted", "answered not granted", "expired_after_auth", " api"} {
		if strings.Contains(text, raw) {
			t.Errorf("timeline shows the raw word %q: %s", raw, text)
		}
	}
	if !strings.Contains(text, "Sandbox Heat Pumps") || !strings.Contains(text, "access granted") {
		t.Errorf("timeline: want the brand name and the outcome in words, got %s", text)
	}
	// The events are dated the day the test began, or the next one when
	// it ran past midnight (UTC).
	today := time.Now().UTC().Format("2006-01-02")
	for _, ev := range handlertest.FindAll(tl, func(n *html.Node) bool { return n.Data == "time" }) {
		if txt := handlertest.Text(ev); !strings.HasPrefix(txt, began) && !strings.HasPrefix(txt, today) {
			t.Errorf("event time %q has no date", handlertest.Text(ev))
		}
	}
}

// The admin's webhook page says what went wrong in words (no Go error
// chains, no resolver addresses), filters by supplier, status and event
// type, and pages through a supplier's deliveries.
func TestAdminWebhookPageReadsErrorsFiltersAndPages(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	ctx := context.Background()
	if _, err := s.Store.SetWebhookEndpoint(ctx, app.SupplierParty(s.SupplierID), "https://supplier.example/hooks", false); err != nil {
		t.Fatal(err)
	}
	const raw = `Post "https://supplier.example/hooks": dial tcp: lookup supplier.example on 10.96.0.10:53: no such host`
	if _, err := s.Store.DB().ExecContext(ctx, `
		WITH e AS (SELECT id FROM webhook_endpoints WHERE supplier_id = $1)
		INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, body, status, attempts, created_at, finished_at, last_error)
		SELECT 'wd_t' || g, e.id, 'ev_' || g, CASE WHEN g % 2 = 0 THEN 'link.connected' ELSE 'device.relink_required' END, '{}'::bytea,
		       CASE WHEN g % 3 = 0 THEN 'succeeded' ELSE 'failed' END, 1, now() - g * interval '1 minute', now(), $2
		FROM e, generate_series(1, 60) g`, s.SupplierID, raw); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store.DB().ExecContext(ctx, `
		INSERT INTO webhook_attempts (delivery_id, delivery_created_at, attempt, outcome, latency_ms, error)
		SELECT id, created_at, 1, 'gave_up', 12, $1 || '; retries exhausted' FROM webhook_deliveries WHERE status = 'failed'`, raw); err != nil {
		t.Fatal(err)
	}
	_, admin := s.MustLogin(t, "admin@webhooks.test", app.RoleAdmin)
	rows := func(p handlertest.Page) []*html.Node {
		return handlertest.FindAll(p.Doc, func(n *html.Node) bool { return n.Data == "tr" && hasAttr(n, "data-delivery") })
	}

	overview := handlertest.Get(t, admin, s.URL+"/admin/webhooks")
	if strings.Contains(overview.Body, "10.96.0.10") || strings.Contains(overview.Body, "dial tcp") {
		t.Errorf("webhook page shows the raw error with the resolver address")
	}
	if e := handlertest.Find(overview.Doc, func(n *html.Node) bool { return hasAttr(n, "data-attempt-error") }); e == nil ||
		!strings.Contains(handlertest.Text(e), "host name could not be found") {
		t.Errorf("attempt error: want it in words:\n%s", overview.Body)
	}
	more := handlertest.Find(overview.Doc, func(n *html.Node) bool { return hasAttr(n, "data-more") })
	if more == nil {
		t.Fatalf("overview: no link to all of the supplier's deliveries")
	}

	filtered := handlertest.Get(t, admin, s.URL+"/admin/webhooks?supplier="+s.SupplierID+"&status=failed&event=link.connected")
	seen := map[string]bool{}
	for page := 0; page < 5; page++ {
		for _, r := range rows(filtered) {
			id := handlertest.Attr(r, "data-delivery")
			if seen[id] {
				t.Errorf("delivery %s on two pages", id)
			}
			seen[id] = true
			if txt := handlertest.Text(r); !strings.Contains(txt, "link.connected") || !strings.Contains(txt, "Failed") {
				t.Errorf("filtered row %s: got %q, want a failed link.connected delivery", id, txt)
			}
		}
		next := handlertest.Find(filtered.Doc, func(n *html.Node) bool { return hasAttr(n, "data-more") })
		if next == nil {
			break
		}
		filtered = handlertest.Get(t, admin, s.URL+handlertest.Attr(next, "href"))
	}
	// 60 deliveries: even numbers are link.connected, of those the ones not divisible by 3 failed.
	want := 0
	for g := 1; g <= 60; g++ {
		if g%2 == 0 && g%3 != 0 {
			want++
		}
	}
	if len(seen) != want {
		t.Errorf("failed link.connected deliveries over all pages: got %d, want %d", len(seen), want)
	}
	if p := handlertest.Get(t, admin, s.URL+"/admin/webhooks?supplier="+s.SupplierID+"&after=garbage"); p.Status != http.StatusBadRequest {
		t.Errorf("bad page cursor: got %d, want 400", p.Status)
	}
}
