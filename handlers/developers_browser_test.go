package handlers_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	cdp "github.com/chromedp/chromedp"

	"noxportal/app"
	"noxportal/devdata"
	"noxportal/handlers/handlertest"
)

// The supplier admin from the dev seed does, in a browser, what used to
// need a NOX admin: creates a key, allows a redirect URI, registers a
// webhook and sends a test event, then sees the call it made with the new
// key in its request log and that user in its funnel.
func TestBrowserSupplierAdminServesItself(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	ctx := context.Background()
	if err := devdata.Dev(ctx, s.Store); err != nil {
		t.Fatal(err)
	}
	rec := handlertest.NewReceiver(t, nil)
	b := handlertest.NewConsoleBrowser(t)
	// One step per call: each gets its own time budget on a busy machine.
	b.Do(cdp.Navigate(s.URL+"/login"), cdp.WaitVisible(cdp.CSS("#email")))
	b.Do(cdp.SendKeys(cdp.CSS("#email"), "developer@demo.nox"), cdp.SendKeys(cdp.CSS("#password"), app.DevPassword))
	b.Do(cdp.Click(cdp.CSS(`form[action="/login"] button[type="submit"]`)))
	if loc := b.WaitURL("/developers/keys"); !strings.HasSuffix(loc, "/developers/keys") {
		t.Fatalf("after sign-in: at %s, want /developers/keys", loc)
	}

	b.Do(cdp.SendKeys(cdp.CSS(`form.key-create input[name="name"]`), "browser"),
		cdp.Click(cdp.CSS(`button[data-action="create-key"]`)))
	b.Do(cdp.WaitVisible(cdp.CSS("input[data-new-key]")))
	key := b.Value("input[data-new-key]")
	b.Screenshot("developers-1-new-key")

	back := s.URL + "/healthz?from=nox"
	b.Do(cdp.Navigate(s.URL+"/developers/redirect-uris"), cdp.WaitVisible(cdp.CSS(`#add-uri input[name="uri"]`)),
		cdp.SendKeys(cdp.CSS(`#add-uri input[name="uri"]`), "http://shop.example/cb"), cdp.Click(cdp.CSS(`button[data-action="add-uri"]`)))
	b.Do(cdp.WaitVisible(cdp.CSS("[data-form-error]")))
	b.Do(cdp.SetValue(cdp.CSS(`#add-uri input[name="uri"]`), back), cdp.Click(cdp.CSS(`button[data-action="add-uri"]`)))
	b.Do(cdp.WaitVisible(cdp.CSS(`li[data-uri="` + back + `"]`)))
	b.Screenshot("developers-2-redirect-uris")

	b.Do(cdp.Navigate(s.URL+"/developers/webhooks"), cdp.WaitVisible(cdp.CSS(`#endpoint input[name="url"]`)),
		cdp.SendKeys(cdp.CSS(`#endpoint input[name="url"]`), rec.URL), cdp.Click(cdp.CSS(`button[data-action="save-webhook"]`)))
	b.Do(cdp.WaitVisible(cdp.CSS("input[data-webhook-secret]")))
	rec.SetSecret(b.Value("input[data-webhook-secret]"))
	b.Do(cdp.Click(cdp.CSS(`button[data-action="send-test"]`)))
	b.Do(cdp.WaitVisible(cdp.CSS("[data-payload]")))
	got := rec.WaitFor(t, "the test event", func(ws []handlertest.Webhook) bool { return len(ws) == 1 })
	if !got[0].SignatureOK || got[0].EventType != app.EventWebhookTest {
		t.Errorf("test event: got %s, signature ok %v", got[0].EventType, got[0].SignatureOK)
	}
	deadline := time.Now().Add(5 * time.Second)
	for count(t, s, `SELECT count(*) FROM webhook_attempts`) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	b.Do(cdp.Reload(), cdp.WaitVisible(cdp.CSS(`tr[data-attempt="1"] [data-signature]`)))
	if sig := b.Text(`tr[data-attempt="1"] [data-signature]`); sig != got[0].Signature {
		t.Errorf("delivery log signature %q, want the header sent %q", sig, got[0].Signature)
	}
	b.Screenshot("developers-3-delivery")

	// The funnel's created and connected counts, as the team sees them.
	funnel := func() (created, connected int) {
		t.Helper()
		b.Do(cdp.Navigate(s.URL+"/reports?range=7"), cdp.WaitVisible(cdp.CSS(`tr[data-step="created"]`)))
		num := func(step string) int {
			n, err := strconv.Atoi(strings.Map(func(r rune) rune {
				if r >= '0' && r <= '9' {
					return r
				}
				return -1
			}, b.Text(`tr[data-step="`+step+`"] td.num`)))
			if err != nil {
				t.Fatalf("funnel %s count: %v", step, err)
			}
			return n
		}
		return num("created"), num("connected")
	}
	created0, connected0 := funnel()

	r := s.API(t, "POST", "/users/browser-user/link", key, `{"redirect_uri":"`+back+`","language":"en"}`)
	if r.Status != http.StatusOK {
		t.Fatalf("link with the new key: got %d %s", r.Status, r.Raw)
	}
	s.Walk(t, s.Client(), r.Data()["link_url"].(string), "sandbox-heatpump", "user_good", "pass_good", "allow")
	waitForRequests(t, s, app.DevSupplierID, 1)
	b.Do(cdp.Navigate(s.URL+"/developers/requests?user=browser-user"), cdp.WaitVisible(cdp.CSS("tr[data-request]")))
	if row := b.Text("tr[data-request]"); !strings.Contains(row, "/users/:supplier_user_id/link") || !strings.Contains(row, "200") {
		t.Errorf("request log row: got %q, want the 200 link call", row)
	}
	b.Screenshot("developers-4-request-log")

	b.Do(cdp.Navigate(s.URL+"/reports"), cdp.WaitVisible(cdp.CSS(".kpis")))
	if sel := b.Value("#f-supplier"); sel != app.DevSupplierID {
		t.Errorf("funnel supplier filter: got %q, want %s only", sel, app.DevSupplierID)
	}
	if opts := b.Text("#f-supplier"); strings.Contains(opts, "Test Energy") {
		t.Errorf("the funnel offers another supplier: %q", opts)
	}
	if created, connected := funnel(); created != created0+1 || connected != connected0+1 {
		t.Errorf("funnel after the user linked: %d created, %d connected; want %d and %d", created, connected, created0+1, connected0+1)
	}
	b.Screenshot("developers-5-funnel")
}
