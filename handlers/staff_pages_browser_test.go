package handlers_test

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	cdp "github.com/chromedp/chromedp"

	"noxportal/app"
	"noxportal/handlers/handlertest"
)

// An admin reads the pages support works from, at laptop and phone width:
// a customer's timeline in words with dated events; the webhook page with
// its filters and a delivery error in words (no Go error, no resolver
// address); an API key created and rotated through the supplier page — the
// result is a page of its own, so a reload sends nothing again, the new key
// names the key it replaces and the revoke confirmation names the key; and
// the audit log showing those changes as fields with real dates.
func TestBrowserStaffReadTimelineWebhooksKeysAndAudit(t *testing.T) {
	eachWidth(t, func(t *testing.T, s *handlertest.Server, width int64) {
		ctx := context.Background()
		w := strconv.FormatInt(width, 10)
		linkCustomer(t, s, "staff-1", "sandbox-heatpump", "user_good", "allow")
		if _, err := s.Store.SetWebhookEndpoint(ctx, app.SupplierParty(s.SupplierID), "https://supplier.example/hooks", false); err != nil {
			t.Fatal(err)
		}
		const raw = `Post "https://supplier.example/hooks": dial tcp: lookup supplier.example on 10.96.0.10:53: no such host`
		for _, q := range []string{`
			INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, body, status, attempts, created_at, finished_at, last_error)
			SELECT 'wd_staff', id, 'ev_staff', 'link.connected', '{}'::bytea, 'failed', 1, now(), now(), $2
			FROM webhook_endpoints WHERE supplier_id = $1`, `
			INSERT INTO webhook_attempts (delivery_id, delivery_created_at, attempt, outcome, latency_ms, error)
			SELECT id, created_at, 1, 'gave_up', 12, $2 FROM webhook_deliveries WHERE id = 'wd_staff' AND $1 <> ''`} {
			if _, err := s.Store.DB().ExecContext(ctx, q, s.SupplierID, raw); err != nil {
				t.Fatal(err)
			}
		}
		b := consoleAt(t, width)
		signInAs(t, s, b, "admin@staff-"+w+".test", app.RoleAdmin)
		dated := regexp.MustCompile(`\d{4}-\d{2}-\d{2}`)

		b.Do(cdp.Navigate(s.URL+"/console/users/"+s.SupplierID+"/staff-1"), cdp.WaitVisible(cdp.CSS("#timeline")))
		if tl := b.Text("#timeline"); strings.Contains(tl, "sandbox-heatpump") || !strings.Contains(tl, "Sandbox Heat Pumps") ||
			!strings.Contains(tl, "access granted") || !dated.MatchString(tl) {
			t.Errorf("timeline: want brand names, outcomes in words and dated events, got %q", tl)
		}
		b.WantNoOverflow()

		b.Do(cdp.Navigate(s.URL+"/admin/webhooks"), cdp.WaitVisible(cdp.CSS("[data-webhook-filters]")),
			cdp.WaitVisible(cdp.CSS("[data-attempt-error]")))
		if e := b.Text("[data-attempt-error]"); strings.Contains(e, "10.96.0.10") || strings.Contains(e, "dial tcp") ||
			!strings.Contains(e, "host name could not be found") {
			t.Errorf("delivery error: want it in words, got %q", e)
		}
		b.WantNoOverflow()
		b.Screenshot("admin-webhooks-" + w)

		keys := func() int { return count(t, s, `SELECT count(*) FROM api_keys WHERE supplier_id = $1`, s.SupplierID) }
		before := keys()
		b.Do(cdp.Navigate(s.URL+"/admin/suppliers/"+s.SupplierID), cdp.WaitVisible(cdp.CSS(`button[data-action="create-key"]`)),
			cdp.SendKeys(cdp.CSS(`form.key-create input[name="name"]`), "ops key"),
			cdp.Click(cdp.CSS(`button[data-action="create-key"]`)), cdp.WaitVisible(cdp.CSS("[data-new-key]")))
		if loc := b.Location(); strings.HasSuffix(strings.SplitN(loc, "?", 2)[0], "/keys") {
			t.Errorf("the new key is shown at the POST address %s", loc)
		}
		b.Do(cdp.Reload(), cdp.WaitVisible(cdp.CSS(`button[data-action="create-key"]`)))
		if n := keys(); n != before+1 {
			t.Errorf("keys after creating one and reloading: %d, want %d", n, before+1)
		}
		var id string
		if err := s.Store.DB().Get(&id, `SELECT id::text FROM api_keys WHERE supplier_id = $1 AND name = 'ops key'`, s.SupplierID); err != nil {
			t.Fatal(err)
		}
		b.Do(cdp.Click(cdp.CSS(`tr[data-key-id="`+id+`"] button[data-action="rotate"]`)), cdp.WaitVisible(cdp.CSS("[data-new-key]")))
		if txt := b.Text("#keys"); !strings.Contains(txt, "ops key (replaces nox_sk_") {
			t.Errorf("keys after the rotation: want the new key named after the one it replaces, got %q", txt)
		}
		if c := b.Eval(`document.querySelector('tr[data-key-id="` + id + `"] button[data-action="revoke"]').dataset.confirm`); !strings.Contains(c, "ops key") {
			t.Errorf("revoke confirmation %q does not name the key", c)
		}
		b.WantNoOverflow()
		b.Screenshot("admin-keys-" + w)

		b.Do(cdp.Navigate(s.URL+"/admin/audit"), cdp.WaitVisible(cdp.CSS("#audit tr[data-action]")))
		audit := b.Text("#audit")
		if strings.Contains(audit, "0001-01-01") || strings.Contains(audit, `{"`) || !dated.MatchString(audit) {
			t.Errorf("audit log: want dated rows and changes as fields, got %q", audit)
		}
		if n := b.Eval(`String(document.querySelectorAll("#audit dl.changes [data-field]").length)`); n == "0" {
			t.Errorf("audit log shows no changed field")
		}
		b.WantNoOverflow()
	})
}
