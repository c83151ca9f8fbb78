package handlers_test

import (
	"context"
	"testing"

	cdp "github.com/chromedp/chromedp"

	"noxportal/app"
	"noxportal/devdata"
	"noxportal/handlers/handlertest"
)

// phoneWidth is the narrowest phone the pages are laid out for.
const phoneWidth = 375

// No page of any role is wider than a 375 px phone: tables become cards or
// scroll inside their card, filters stack, long ids wrap. The pages hold the
// dev seed's data (hundreds of customers and their sessions in the
// reports, webhook deliveries that failed) and a customer with two devices.
func TestBrowserNoPageOfAnyRoleOverflowsAPhone(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	ctx := context.Background()
	if err := devdata.Dev(ctx, s.Store); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store.DB().ExecContext(ctx, `
		INSERT INTO devices (nox_user_id, manufacturer_id, external_id, name, model, status, connected_at, last_sync_at)
		SELECT p.nox_user_id, 'sandbox-heatpump', x.ext, x.name, 'Aquarea T-CAP 16 kW', x.status, now() - interval '3 days', now()
		FROM portal_users p, (VALUES ('HP-9F3A7C21D4E8B6A0-LONG-SERIAL-0001', 'Heat pump in the garage', 'connected'),
		                             ('HP-9F3A7C21D4E8B6A0-LONG-SERIAL-0002', 'Attic', 'relink_required')) x(ext, name, status)
		WHERE p.email = 'customer@demo.nox' AND p.nox_user_id IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	var deviceID, sessionID, mapping string
	if err := s.Store.DB().GetContext(ctx, &deviceID, `SELECT d.id::text FROM devices d JOIN portal_users p ON p.nox_user_id = d.nox_user_id
		WHERE p.email = 'customer@demo.nox' ORDER BY d.id LIMIT 1`); err != nil {
		t.Fatalf("the demo customer's device: %v", err)
	}
	if err := s.Store.DB().GetContext(ctx, &sessionID, `SELECT id FROM link_sessions WHERE status = 'failed' ORDER BY finished_at DESC LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	if err := s.Store.DB().GetContext(ctx, &mapping, `SELECT '/console/users/' || supplier_id || '/' || supplier_user_id FROM supplier_mappings
		m WHERE EXISTS (SELECT 1 FROM devices d WHERE d.nox_user_id = m.nox_user_id AND d.status = 'relink_required') ORDER BY created_at LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	flow1 := s.MustCreateLink(t, "phone-user")["link_url"].(string)
	flow2 := s.MustCreateSupplierLink(t, "phone-mfr-user", "")["link_url"].(string)

	pages := []struct {
		email string // "" for a visitor who is not signed in
		paths []string
	}{
		{"", []string{"/", "/login", flow1, flow2}},
		{"customer@demo.nox", []string{"/account", "/account/devices/" + deviceID + "/disconnect", "/account/settings", "/account/help"}},
		{"agent@demo.nox", []string{"/console", "/console?q=cust", "/console/queue", "/console/queue?age=all&reason=expired",
			"/console/bulk", "/console/bulk?brand=sandbox-heatpump", mapping, "/console/sessions/" + sessionID}},
		{"manager@demo.nox", []string{"/reports", "/reports?range=7d", "/console"}},
		{"admin@demo.nox", []string{"/admin/suppliers", "/admin/suppliers/new", "/admin/suppliers/" + app.DevSupplierID,
			"/admin/manufacturers", "/admin/audit", "/admin/webhooks",
			"/admin/webhooks?supplier=supplier_greenvolt"}},
		{"developer@demo.nox", []string{"/developers/keys", "/developers/redirect-uris", "/developers/webhooks", "/developers/team", "/reports"}},
	}
	for _, role := range pages {
		t.Run(role.email, func(t *testing.T) {
			t.Parallel() // each role browses the same server in a tab of its own
			tab := handlertest.NewConsoleBrowser(t)
			if role.email != "" {
				consoleSignIn(tab, s.URL, role.email)
			}
			tab.Resize(phoneWidth)
			for _, p := range role.paths {
				url := p
				if p[0] == '/' {
					url = s.URL + p
				}
				tab.Do(cdp.Navigate(url), cdp.WaitReady(cdp.CSS("footer, main")))
				tab.WantNoOverflow()
			}
		})
	}
}
