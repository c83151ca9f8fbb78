package handlers_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	cdp "github.com/chromedp/chromedp"

	"noxportal/app"
	"noxportal/handlers/handlertest"
)

// An admin opens a customer whose supplier has no redirect URI, reads why
// no link can be made, follows the link to the supplier's page, adds the
// URI and creates the link — on a laptop and on a phone.
func TestBrowserAdminFixesARelinkBlockedByAMissingRedirectURI(t *testing.T) {
	eachWidth(t, func(t *testing.T, s *handlertest.Server, width int64) {
		linkCustomer(t, s, "nr-b", "sandbox-heatpump", "user_good", "deny")
		if _, err := s.Store.DB().ExecContext(context.Background(), `DELETE FROM supplier_redirect_uris WHERE supplier_id = $1`, s.SupplierID); err != nil {
			t.Fatal(err)
		}
		b := consoleAt(t, width)
		signInAs(t, s, b, "admin@fix.test", app.RoleAdmin)
		name := "console-no-redirect-" + strconv.FormatInt(width, 10)
		b.Do(cdp.Navigate(s.URL+"/console/users/"+s.SupplierID+"/nr-b"), cdp.WaitVisible(cdp.CSS("[data-relink-blocked]")))
		if txt := b.Text("[data-relink-blocked]"); !strings.Contains(txt, "has no redirect URI") {
			t.Errorf("explanation: got %q", txt)
		}
		b.WantNoOverflow()
		b.Screenshot(name)
		b.Do(cdp.Click(cdp.CSS(`[data-action="fix-supplier"]`)), cdp.WaitVisible(cdp.CSS("#redirect-uris")))
		b.WantNoOverflow()
		b.Do(cdp.SendKeys(cdp.CSS("#redirect-uris"), s.RedirectURI), cdp.Click(cdp.CSS(`button[data-action="save-supplier"]`)))
		b.WaitURL("saved=1")
		b.Do(cdp.Navigate(s.URL+"/console/users/"+s.SupplierID+"/nr-b"), cdp.WaitVisible(cdp.CSS(`button[data-action="relink-main"]`)),
			cdp.Click(cdp.CSS(`button[data-action="relink-main"]`)), cdp.WaitVisible(cdp.CSS("input[data-link]")))
		b.WantNoOverflow()
		if link := b.Value("input[data-link]"); !strings.Contains(link, "/connect?token=") {
			t.Errorf("link after adding the redirect URI: got %q", link)
		}
	})
}

// An agent works the failed queue: a session declined at the supplier (no
// customer known) opens its session page; a bulk relink whose items all
// fail says so with the reason per customer.
func TestBrowserAgentReadsQueueRowsAndBulkFailures(t *testing.T) {
	eachWidth(t, func(t *testing.T, s *handlertest.Server, width int64) {
		ctx := context.Background()
		linkCustomer(t, s, "bf-1", "sandbox-heatpump", "user_good", "allow")
		declined := s.MustCreateSupplierLink(t, "mfr-declined", "")
		s.WalkSupplier(t, s.Client(), declined["link_url"].(string), s.Config.Sandbox.Supplier.ID, "user_good", "decline")
		for _, q := range []string{`DELETE FROM supplier_redirect_uris WHERE supplier_id = '` + s.SupplierID + `'`,
			`UPDATE devices SET status = 'relink_required'`} {
			if _, err := s.Store.DB().ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		b := consoleAt(t, width)
		signInAs(t, s, b, "agent@queue.test", app.RoleAgent)
		w := strconv.FormatInt(width, 10)
		b.Do(cdp.Navigate(s.URL+"/console/queue"), cdp.WaitVisible(cdp.CSS("tr[data-session]")))
		b.WantNoOverflow()
		b.Screenshot("console-queue-" + w)
		b.Do(cdp.Click(cdp.CSS(`tr[data-session]:not(:has([data-action="relink"])) a[data-action="open"]`)),
			cdp.WaitVisible(cdp.CSS("[data-session-page]")))
		if txt := b.Text("[data-session-page]"); !strings.Contains(txt, "Not reported by a supplier") {
			t.Errorf("session page of a declined flow-2 session: got %q", txt)
		}
		b.WantNoOverflow()
		b.Screenshot("console-session-" + w)

		b.Do(cdp.Navigate(s.URL+"/console/bulk?brand=sandbox-heatpump"), cdp.WaitVisible(cdp.CSS(`button[data-action="bulk-start"]`)),
			cdp.Click(cdp.CSS(`button[data-action="bulk-start"]`)), cdp.WaitVisible(cdp.CSS("[data-finished]")))
		if txt := b.Text("[data-finished]"); !strings.Contains(txt, "No link could be created") {
			t.Errorf("a bulk relink where every item failed says %q", txt)
		}
		b.Do(cdp.WaitVisible(cdp.CSS(`[data-finished].alert-error`)))
		if txt := b.Text("[data-failures]"); !strings.Contains(txt, "bf-1") || !strings.Contains(txt, "has no redirect URI") {
			t.Errorf("failures: got %q, want the customer and the reason", txt)
		}
		b.WantNoOverflow()
		b.Screenshot("console-bulk-failed-" + w)
	})
}
