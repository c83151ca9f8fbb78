package handlers_test

import (
	"context"
	"strings"
	"testing"

	cdp "github.com/chromedp/chromedp"

	"noxportal/app"
	"noxportal/devdata"
	"noxportal/handlers/handlertest"
)

func waitJS(expr string) cdp.Action[cdp.Void] {
	return cdp.Func(func(ctx context.Context, t *cdp.Target) error {
		_, err := cdp.Poll[bool](expr)(ctx, t)
		return err
	})
}

func consoleSignIn(b *handlertest.ConsoleBrowser, base, email string) {
	b.Do(cdp.Navigate(base+"/login"), cdp.WaitVisible(cdp.CSS("#email")),
		cdp.SendKeys(cdp.CSS("#email"), email), cdp.SendKeys(cdp.CSS("#password"), app.DevPassword),
		cdp.Click(cdp.CSS(`form[action="/login"] button[type="submit"]`)), cdp.WaitVisible(cdp.CSS(".user-menu")))
}

// An agent from the dev seed answers "why did this link fail, and fix it":
// finds the customer, reads the timeline, sends a relink, the customer goes
// through the sandbox manufacturer and the device is connected again; then
// a bulk relink runs to the end.
func TestBrowserAgentFixesAFailedLinkAndRunsABulkRelink(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	ctx := context.Background()
	if err := devdata.Dev(ctx, s.Store); err != nil {
		t.Fatal(err)
	}
	// The test supplier's users come back to this server, so the browser
	// can show where the flow ended.
	back := s.URL + "/healthz"
	if err := s.Store.UpsertSupplier(ctx, app.Supplier{ID: s.SupplierID, Name: "Test Energy", RedirectURIs: []string{back, s.RedirectURI}}); err != nil {
		t.Fatal(err)
	}
	// Relinks use the supplier's first redirect URI (back).
	for _, decision := range []string{"allow", "deny"} {
		r := s.API(t, "POST", "/users/anna-4711/link", s.APIKey, `{"redirect_uri":"`+back+`","language":"en"}`)
		s.Walk(t, s.Client(), r.Data()["link_url"].(string), "sandbox-heatpump", "user_good", "pass_good", decision)
	}

	agent := handlertest.NewConsoleBrowser(t)
	consoleSignIn(agent, s.URL, "agent@demo.nox")
	agent.Do(cdp.WaitVisible(cdp.CSS("#q")))
	agent.Screenshot("console-1-search")

	agent.Do(cdp.SendKeys(cdp.CSS("#q"), "anna-47"), cdp.WaitVisible(cdp.CSS(`a[data-user="anna-4711"]`)))
	agent.WaitURL("q=anna-47")
	agent.Screenshot("console-2-results")

	agent.Do(cdp.Click(cdp.CSS(`a[data-user="anna-4711"]`)), cdp.WaitVisible(cdp.CSS("#timeline")))
	if tl := agent.Text("#timeline"); !strings.Contains(tl, "Access denied") || !strings.Contains(tl, "Manufacturer answered") {
		t.Errorf("timeline: got %q, want the denied session with its events", tl)
	}
	agent.Screenshot("console-3-timeline")

	agent.Do(cdp.Click(cdp.CSS(`#devices button[data-action="relink"][data-brand="sandbox-heatpump"]`)),
		cdp.WaitVisible(cdp.CSS("input[data-link]")), cdp.WaitVisible(cdp.CSS(".qr img")))
	linkURL := agent.Value("input[data-link]")
	agent.Do(cdp.Click(cdp.CSS("button[data-copy]")), waitJS(`document.querySelector("button[data-copy]").classList.contains("is-copied")`))
	agent.Screenshot("console-4-relink")
	agent.Do(cdp.Click(cdp.CSS(`a[data-action="back-to-mapping"]`)), cdp.WaitVisible(cdp.CSS(`#devices [data-status="relink_pending"]`)))

	customer := agent.NewTab()
	// The link with its brand preselected asks the customer to continue
	// (a POST), so a mail scanner's fetch starts nothing.
	customer.Do(cdp.Navigate(linkURL), cdp.WaitVisible(cdp.CSS(`button[data-brand="sandbox-heatpump"]`)))
	customer.Screenshot("customer-0-continue")
	customer.Do(cdp.Click(cdp.CSS(`button[data-brand="sandbox-heatpump"]`)), cdp.WaitVisible(cdp.CSS("#username")))
	customer.Screenshot("customer-1-manufacturer-login")
	customer.Do(cdp.SendKeys(cdp.CSS("#username"), "user_good"), cdp.SendKeys(cdp.CSS("#password"), app.SandboxPassword),
		cdp.Click(cdp.CSS(`button[type="submit"]`)), cdp.WaitVisible(cdp.CSS(`button[value="allow"]`)),
		cdp.Click(cdp.CSS(`button[value="allow"]`)))
	if loc := customer.WaitURL("/healthz"); !strings.Contains(loc, "connection_status=connected") {
		t.Fatalf("the customer's flow ended at %q, want connected", loc)
	}

	agent.Do(cdp.Reload(), cdp.WaitVisible(cdp.CSS(`#devices [data-status="connected"]`)),
		waitJS(`!document.querySelector('[data-status="relink_pending"]')`))
	agent.Screenshot("console-5-connected-again")

	agent.Do(cdp.Navigate(s.URL+"/console/queue"), cdp.WaitVisible(cdp.CSS(".reason-chips")))
	agent.Screenshot("console-6-queue")

	var brand string
	if err := s.Store.DB().GetContext(ctx, &brand, `
		SELECT manufacturer_id FROM devices WHERE status = 'relink_required' GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	agent.Do(cdp.Navigate(s.URL+"/console/bulk?brand="+brand), cdp.WaitVisible(cdp.CSS("[data-count]")))
	agent.Screenshot("console-7-bulk-confirm")
	agent.Do(cdp.Click(cdp.CSS(`button[data-action="bulk-start"]`)), cdp.WaitVisible(cdp.CSS("#bulk-progress progress")))
	agent.Screenshot("console-8-bulk-progress")
	agent.Do(cdp.WaitVisible(cdp.CSS("[data-finished]")))
	if txt := agent.Text("#bulk-progress"); !strings.Contains(txt, "100%") {
		t.Errorf("bulk progress when finished: got %q, want 100%%", txt)
	}
	agent.Screenshot("console-9-bulk-done")

	admin := agent.NewTab()
	consoleSignIn(admin, s.URL, "admin@demo.nox")
	admin.Do(cdp.Navigate(s.URL+"/admin/suppliers"), cdp.WaitVisible(cdp.CSS("table.data")))
	admin.Screenshot("admin-1-suppliers")
	admin.Do(cdp.Navigate(s.URL+"/admin/suppliers/"+app.DevSupplierID), cdp.WaitVisible(cdp.CSS("#keys")),
		cdp.SendKeys(cdp.CSS(`input[name="name"][maxlength="100"]`), "staging"), cdp.Click(cdp.CSS(`button[data-action="create-key"]`)),
		cdp.WaitVisible(cdp.CSS("input[data-new-key]")))
	admin.Screenshot("admin-2-supplier-new-key")
	admin.Do(cdp.Navigate(s.URL+"/admin/manufacturers"), cdp.WaitVisible(cdp.CSS("table.data")))
	admin.Screenshot("admin-3-manufacturers")
	admin.Do(cdp.Navigate(s.URL+"/admin/audit"), cdp.WaitVisible(cdp.CSS("#audit")))
	if txt := admin.Text("#audit"); !strings.Contains(txt, "mapping.relink") || !strings.Contains(txt, "mapping.bulk_relink") ||
		!strings.Contains(txt, "api_key.create") {
		t.Errorf("audit log: want the relink, the bulk relink and the new key, got %q", txt)
	}
	admin.Screenshot("admin-4-audit")
	admin.Do(cdp.Navigate(s.URL+"/admin/webhooks"), cdp.WaitVisible(cdp.CSS(`[data-endpoint="supplier_greenvolt"] tr[data-delivery]`)))
	admin.Screenshot("admin-5-webhooks")
}
