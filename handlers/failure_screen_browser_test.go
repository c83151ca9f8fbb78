package handlers_test

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"

	cdp "github.com/chromedp/chromedp"

	"noxportal/handlers/handlertest"
)

// browserLinkWith is browserLink with more fields in the request body.
func browserLinkWith(t *testing.T, s *handlertest.Server, site handlertest.SupplierSite, supplierUserID string, extra map[string]any) string {
	t.Helper()
	body := map[string]any{"redirect_uri": site.CallbackURL, "language": "en"}
	for k, v := range extra {
		body[k] = v
	}
	raw, _ := json.Marshal(body)
	r := s.API(t, "POST", "/users/"+supplierUserID+"/link", s.APIKey, string(raw))
	if r.Status != 200 {
		t.Fatalf("create link: got %d %s, want 200", r.Status, r.Raw)
	}
	return r.Data()["link_url"].(string)
}

// The failure screen on a laptop and a phone: a denied sign-in shows it
// (in English and, switched, in Dutch); "Try again" signs in again and
// connects; on a second link "Return" brings the supplier error=
// access_denied exactly as a link with the screens off does at once.
func TestBrowserFailureScreenTryAgainReturnAndOff(t *testing.T) {
	eachWidth(t, func(t *testing.T, s *handlertest.Server, width int64) {
		w := strconv.FormatInt(width, 10)
		site := handlertest.StartSupplierSite(t)
		b := consoleAt(t, width)

		// Denied → screen → try again → connected.
		linkURL, _ := browserLink(t, s, site, "fs-retry-"+w, "en")
		b.Do(cdp.Navigate(linkURL), cdp.Click(cdp.CSS(`button[data-brand="sandbox-heatpump"]`)),
			answerAtManufacturer("user_good", "deny"), cdp.WaitVisible(cdp.CSS(`[data-failure="access_denied"]`)))
		if got := b.Text(`h1`); got != "You did not allow access at Sandbox Heat Pumps" {
			t.Errorf("failure screen title %q", got)
		}
		if got := b.Text(`button[data-action="return"]`); !strings.HasPrefix(got, "Return to ") {
			t.Errorf("return button %q", got)
		}
		b.WantNoOverflow()
		b.Screenshot("flow-failure-" + w)
		b.Do(cdp.Click(cdp.CSS(`.flow-lang a[data-lang="nl"]`)), cdp.WaitVisible(cdp.CSS(`html[lang="nl"]`)),
			cdp.WaitVisible(cdp.CSS(`[data-failure="access_denied"]`)))
		if got := b.Text(`button[data-action="retry"]`); got != "Opnieuw proberen" {
			t.Errorf("retry in Dutch: %q", got)
		}
		b.WantNoOverflow()
		b.Do(cdp.Click(cdp.CSS(`.flow-lang a[data-lang="en"]`)), cdp.WaitVisible(cdp.CSS(`html[lang="en"]`)),
			cdp.Click(cdp.CSS(`button[data-action="retry"]`)), signInAtManufacturer("user_good"),
			cdp.WaitVisible(cdp.ID("supplier-callback")))
		q := supplierQueryOf(t, b, site)
		wantSupplierQuery(t, q, map[string]string{"connection_status": "connected", "supplier_user_id": "fs-retry-" + w})
		if n := count(t, s, `SELECT count(*) FROM link_sessions WHERE supplier_user_id = $1 AND status = 'connected'`, "fs-retry-"+w); n != 1 {
			t.Errorf("connected sessions after the retry: %d, want 1", n)
		}

		// Denied → screen → Return → the supplier gets access_denied.
		linkURL, _ = browserLink(t, s, site, "fs-return-"+w, "en")
		b.Do(cdp.Navigate(linkURL), cdp.Click(cdp.CSS(`button[data-brand="sandbox-heatpump"]`)),
			answerAtManufacturer("user_good", "deny"), cdp.WaitVisible(cdp.CSS(`[data-failure="access_denied"]`)),
			cdp.Click(cdp.CSS(`button[data-action="return"]`)), cdp.WaitVisible(cdp.ID("supplier-callback")))
		returned := supplierQueryOf(t, b, site)
		wantSupplierQuery(t, returned, map[string]string{"connection_status": "failed", "error": "access_denied",
			"supplier_user_id": "fs-return-" + w, "manufacturer": "sandbox-heatpump"})

		// Screens off → denied → straight to the supplier, the same query.
		off := browserLinkWith(t, s, site, "fs-return-"+w, map[string]any{"failure_screens": false})
		b.Do(cdp.Navigate(off), cdp.Click(cdp.CSS(`button[data-brand="sandbox-heatpump"]`)),
			answerAtManufacturer("user_good", "deny"), cdp.WaitVisible(cdp.ID("supplier-callback")))
		if got := supplierQueryOf(t, b, site); got.Encode() != returned.Encode() {
			t.Errorf("screens off: supplier got %s, Return gave %s; want the same", got.Encode(), returned.Encode())
		}
	})
}

// supplierQueryOf returns the query of the page b is on, which must be
// site's callback.
func supplierQueryOf(t *testing.T, b *handlertest.ConsoleBrowser, site handlertest.SupplierSite) url.Values {
	t.Helper()
	u, err := url.Parse(b.Location())
	if err != nil || u.Scheme+"://"+u.Host+u.Path != site.CallbackURL {
		t.Fatalf("browser at %s, want the supplier callback %s", b.Location(), site.CallbackURL)
	}
	return u.Query()
}
