package handlers_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	cdp "github.com/chromedp/chromedp"

	"noxportal/app"
	"noxportal/handlers/handlertest"
)

// A link made with a test key shows the "Test mode" banner on every hosted
// page — the brand page, the brand request form, the link in use in another
// browser and the page after linking — in the link's language, without
// overflowing, on a laptop and on a phone; a live link on the same server
// shows none.
func TestBrowserTestModeBannerOnEveryHostedPage(t *testing.T) {
	eachWidth(t, func(t *testing.T, s *handlertest.Server, width int64) {
		ctx := context.Background()
		site := handlertest.StartSupplierSite(t)
		twin, err := s.Store.EnsureTestTwin(ctx, s.SupplierID, app.AuditEntry{IP: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		_, key, err := s.Store.IssueAPIKey(ctx, twin, "browser", app.AuditEntry{IP: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(map[string]string{"redirect_uri": site.CallbackURL, "language": "de"})
		r := s.API(t, "POST", "/users/banner-"+strconv.FormatInt(width, 10)+"/link", key, string(body))
		if r.Status != 200 {
			t.Fatalf("test link: %d %s", r.Status, r.Raw)
		}
		linkURL := r.Data()["link_url"].(string)
		banner := func(b *handlertest.ConsoleBrowser, page string) {
			t.Helper()
			if got := b.Text(`[data-test-mode]`); got == "" || !containsAll(strings.ToLower(got), "testmodus", "sandbox-marken") {
				t.Errorf("%s: banner %q, want the German test-mode banner", page, got)
			}
			b.WantNoOverflow()
		}

		b := consoleAt(t, width)
		b.Do(cdp.Navigate(linkURL), cdp.WaitVisible(cdp.CSS(`button[data-brand="sandbox-heatpump"]`)))
		banner(b, "brand page")
		b.Screenshot("test-mode-brands-" + strconv.FormatInt(width, 10))
		b.Do(cdp.Click(cdp.CSS(`[data-action="brand-not-listed"]`)), cdp.WaitVisible(cdp.CSS(`#brand-name`)),
			cdp.SetValue(cdp.CSS(`#brand-name`), "Acme"), cdp.Click(cdp.CSS(`button[data-action="send-brand-request"]`)),
			cdp.WaitVisible(cdp.CSS(`[data-brand-request="saved"]`)))
		banner(b, "brand request")

		other := consoleAt(t, width)
		other.Do(cdp.Navigate(linkURL), cdp.WaitVisible(cdp.CSS(`.flow-bar`)))
		banner(other, "in use in another browser")

		b.Do(cdp.Navigate(linkURL), cdp.WaitVisible(cdp.CSS(`button[data-brand="sandbox-heatpump"]`)),
			cdp.Click(cdp.CSS(`button[data-brand="sandbox-heatpump"]`)), signInAtManufacturer("user_good"),
			cdp.WaitVisible(cdp.CSS(`#supplier-callback`)))
		b.Do(cdp.Navigate(linkURL), cdp.WaitVisible(cdp.CSS(`.flow-steps`)))
		banner(b, "after linking")

		live, _ := browserLink(t, s, site, "live-"+strconv.FormatInt(width, 10), "de")
		b.Do(cdp.Navigate(live), cdp.WaitVisible(cdp.CSS(`button[data-brand="sandbox-heatpump"]`)))
		if got := b.Eval(`String(document.querySelectorAll('[data-test-mode]').length)`); got != "0" {
			t.Errorf("a live link shows %s test-mode banner(s)", got)
		}
	})
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
