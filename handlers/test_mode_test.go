package handlers_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"noxportal/app"
	"noxportal/handlers/handlertest"
)

// startWithRealBrand starts a server that also has a (non-sandbox) brand
// "acme-heat"; sandboxForLive is sandbox.enabled, which production refuses.
func startWithRealBrand(t *testing.T, sandboxForLive bool) *handlertest.Server {
	t.Helper()
	return handlertest.Start(t, func(c *app.Config) {
		c.Sandbox.Enabled = sandboxForLive
		c.Manufacturers = append(c.Manufacturers, app.ManufacturerConfig{ID: "acme-heat", Name: "Acme Heat", Kind: "heat_pump",
			AuthorizeURL: "https://acme.example/authorize", TokenURL: "https://acme.example/token",
			DevicesURL: "https://acme.example/devices", ClientID: "nox", Scopes: []string{"devices.read"}})
	})
}

// switchToMode switches the developer dashboard of c to mode ("test",
// "live") and returns the keys page it lands on.
func switchToMode(t *testing.T, s *handlertest.Server, c *http.Client, mode string) handlertest.Page {
	t.Helper()
	p := devPost(t, s, c, "/developers/mode", url.Values{"mode": {mode}, "back": {"/developers/keys"}})
	if p.Status != http.StatusSeeOther || s.Local(p.Location) != "/developers/keys" {
		t.Fatalf("switch to %s: got %d → %q, want 303 to /developers/keys:\n%.600s", mode, p.Status, p.Location, p.Body)
	}
	return handlertest.Get(t, c, s.URL+"/developers/keys")
}

// keyPrefixesOn returns the key prefixes listed on a keys page.
func keyPrefixesOn(p handlertest.Page) []string {
	var out []string
	for _, n := range handlertest.FindAll(p.Doc, func(n *html.Node) bool { return n.Data == "tr" && handlertest.Attr(n, "data-key") != "" }) {
		out = append(out, handlertest.Attr(n, "data-key"))
	}
	return out
}

// brandsOn returns the brand ids a hosted brand page offers.
func brandsOn(p handlertest.Page) []string {
	var out []string
	for _, n := range handlertest.FindAll(p.Doc, func(n *html.Node) bool {
		return n.Data == "button" && handlertest.Attr(n, "data-brand") != ""
	}) {
		out = append(out, handlertest.Attr(n, "data-brand"))
	}
	return out
}

func testBanner(p handlertest.Page) bool {
	return handlertest.Find(p.Doc, func(n *html.Node) bool { return hasAttr(n, "data-test-mode") }) != nil
}

// TestTestModeKeyReachesOnlySandboxBrandsAndStaysOutOfLiveData runs with
// the sandbox off for live keys, as production must: a supplier admin turns
// on test mode and creates a test key; its link offers only the sandbox
// brands, shows the test-mode banner on every hosted page, connects through
// the sandbox brand, and its webhook goes to the test endpoint only. The
// live key never sees a sandbox brand. The test session is in no report
// (rollups folded and rebuilt) and no console search.
func TestTestModeKeyReachesOnlySandboxBrandsAndStaysOutOfLiveData(t *testing.T) {
	t.Parallel()
	s := startWithRealBrand(t, false)
	ctx := context.Background()
	twin := app.TestTwinID(s.SupplierID)
	admin := mustTeamLogin(t, s, "dev@team.test", app.RoleSupplierAdmin, s.SupplierID)

	live := handlertest.Get(t, admin, s.URL+"/developers/keys")
	if testBanner(live) || len(keyPrefixesOn(live)) != 1 {
		t.Fatalf("live view: banner %v, keys %v; want no banner and the one live key", testBanner(live), keyPrefixesOn(live))
	}
	page := switchToMode(t, s, admin, "test")
	if !testBanner(page) || len(keyPrefixesOn(page)) != 0 {
		t.Fatalf("test view before any test key: banner %v, keys %v; want the banner and no keys", testBanner(page), keyPrefixesOn(page))
	}
	if n := audited(t, s, "supplier.test_mode.create", twin); n != 1 {
		t.Errorf("audit of turning test mode on: %d entries, want 1", n)
	}
	testKey := newKeyOn(t, shownOnce(t, s, admin, devPost(t, s, admin, "/developers/keys", url.Values{"name": {"ci"}})))
	if !strings.HasPrefix(testKey, app.TestKeyPrefix) || strings.HasPrefix(s.APIKey, app.TestKeyPrefix) {
		t.Fatalf("test key %q (want %s…), live key %q", testKey[:16], app.TestKeyPrefix, s.APIKey[:12])
	}
	if got := keyPrefixesOn(handlertest.Get(t, admin, s.URL+"/developers/keys")); len(got) != 1 || !strings.HasPrefix(testKey, got[0]) {
		t.Errorf("test view keys: got %v, want only the test key", got)
	}
	if got := keyPrefixesOn(switchToMode(t, s, admin, "live")); len(got) != 1 || !strings.HasPrefix(s.APIKey, got[0]) {
		t.Errorf("live view keys after the test key: got %v, want only the live key", got)
	}

	liveHook, testHook := handlertest.NewReceiver(t, nil), handlertest.NewReceiver(t, nil)
	s.MustRegisterWebhook(t, s.APIKey, liveHook)
	s.MustRegisterWebhook(t, testKey, testHook)

	// The live key: real brands only, never a sandbox brand.
	liveLink := s.MustCreateLink(t, "live-1")
	if got := brandsOn(handlertest.Get(t, s.Client(), liveLink["link_url"].(string))); strings.Join(got, ",") != "acme-heat" {
		t.Errorf("live link offers %v, want only acme-heat", got)
	}
	body := `{"redirect_uri":"` + s.RedirectURI + `","brand":"sandbox-heatpump"}`
	if r := s.API(t, "POST", "/users/live-2/link", s.APIKey, body); r.Status != 400 || r.ErrorCode() != "unknown_brand" {
		t.Errorf("live key with a sandbox brand: %d %s, want 400 unknown_brand", r.Status, r.Raw)
	}

	// The test key: sandbox brands only.
	body = `{"redirect_uri":"` + s.RedirectURI + `","brand":"acme-heat"}`
	if r := s.API(t, "POST", "/users/tm-1/link", testKey, body); r.Status != 400 || r.ErrorCode() != "unknown_brand" {
		t.Errorf("test key with a real brand: %d %s, want 400 unknown_brand", r.Status, r.Raw)
	}
	r := s.API(t, "POST", "/users/tm-1/link", testKey, `{"redirect_uri":"`+s.RedirectURI+`","language":"en"}`)
	if r.Status != 200 {
		t.Fatalf("link with the test key: %d %s", r.Status, r.Raw)
	}
	linkURL := r.Data()["link_url"].(string)
	c := s.Client()
	brandPage := handlertest.Get(t, c, linkURL)
	if got := strings.Join(brandsOn(brandPage), ","); got != "sandbox-charger,sandbox-heatpump,sandbox-thermostat" || !testBanner(brandPage) {
		t.Errorf("test link: brands %q, banner %v; want the three sandbox brands and the banner", got, testBanner(brandPage))
	}
	if p := handlertest.Get(t, s.Client(), liveLink["link_url"].(string)); testBanner(p) {
		t.Errorf("a live link shows the test-mode banner")
	}
	// A forged choice of the real brand, with the page's own token and CSRF.
	action, vals := brandPage.FormValues(t, "/connect/brand", "brand", "sandbox-heatpump")
	vals.Set("brand", "acme-heat")
	if refused := handlertest.PostForm(t, c, s.URL+action, vals); refused.Status != http.StatusConflict ||
		count(t, s, `SELECT count(*) FROM link_sessions WHERE supplier_id = $1 AND manufacturer_id IS NOT NULL`, twin) != 0 {
		t.Errorf("choosing a real brand on a test link: got %d, want 409 and nothing chosen", refused.Status)
	}
	back := s.Walk(t, c, linkURL, "sandbox-heatpump", "user_good", app.SandboxPassword, "allow")
	if !strings.Contains(back, "connection_status=connected") {
		t.Fatalf("test link through the sandbox brand ended at %q, want connected", back)
	}
	if ended := handlertest.Get(t, c, linkURL); !testBanner(ended) {
		t.Errorf("the ended page of a test link has no test-mode banner")
	}

	testHook.WaitFor(t, "link.connected at the test endpoint", func(ws []handlertest.Webhook) bool {
		return len(handlertest.OfType(ws, app.EventLinkConnected)) == 1
	})
	// The live endpoint's worker has had the same time; it got nothing.
	time.Sleep(200 * time.Millisecond)
	if got := liveHook.Got(); len(got) != 0 {
		t.Errorf("the live endpoint got %d webhooks of the test link, want none", len(got))
	}

	// Reports: the rollups count the live session only, folded and rebuilt.
	liveCount := func() int {
		return count(t, s, `SELECT (SELECT coalesce(sum(sessions), 0) FROM report_daily WHERE rolled = 15)::int
			+ (SELECT coalesce(sum(sessions), 0) FROM report_pending)::int`)
	}
	if _, err := s.Store.FoldReports(ctx); err != nil {
		t.Fatal(err)
	}
	if n := liveCount(); n != 1 || count(t, s, `SELECT count(*) FROM report_daily WHERE supplier_id LIKE '%.test'`) != 0 {
		t.Errorf("sessions in the reports after the fold: %d, want the 1 live session", n)
	}
	if _, err := s.Store.RebuildReports(ctx); err != nil {
		t.Fatal(err)
	}
	if n := liveCount(); n != 1 {
		t.Errorf("sessions in the reports after a rebuild: %d, want the 1 live session", n)
	}
	_, agent := s.MustLogin(t, "agent@nox.test", app.RoleAgent)
	if n := count(t, s, `SELECT count(*) FROM supplier_mappings WHERE supplier_id = $1 AND supplier_user_id = 'tm-1'`, twin); n != 1 {
		t.Fatalf("test mapping: %d rows, want 1", n)
	}
	for _, q := range []string{"tm-1", "Test Energy", "test"} {
		if p := handlertest.Get(t, agent, s.URL+"/console?q="+url.QueryEscape(q)); p.Status != 200 || strings.Contains(p.Body, twin) {
			t.Errorf("console search %q: got %d, finds the test supplier", q, p.Status)
		}
	}
	if opts := handlertest.Get(t, agent, s.URL+"/console/queue"); strings.Contains(opts.Body, twin) {
		t.Errorf("the failure queue shows the test supplier")
	}
}

// TestSupplierTeamSeesOnlyItsOwnTestMode: test mode is derived from the
// member's own supplier. Supplier B's admin never sees A's test keys,
// requests or webhook endpoint and cannot revoke A's test key; a viewer
// cannot turn test mode on. The request log in test mode shows only the
// test key's requests.
func TestSupplierTeamSeesOnlyItsOwnTestMode(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	ctx := context.Background()
	if err := s.Store.UpsertSupplier(ctx, app.Supplier{ID: "supplier_b", Name: "B Energy", RedirectURIs: []string{"https://b.example/cb"}}); err != nil {
		t.Fatal(err)
	}
	viewer := mustTeamLogin(t, s, "viewer@a.test", app.RoleSupplierViewer, s.SupplierID)
	if p := devPost(t, s, viewer, "/developers/mode", url.Values{"mode": {"test"}}); p.Status != http.StatusForbidden {
		t.Errorf("viewer turning test mode on: got %d, want 403", p.Status)
	}
	adminA := mustTeamLogin(t, s, "admin@a.test", app.RoleSupplierAdmin, s.SupplierID)
	switchToMode(t, s, adminA, "test")
	keyA := newKeyOn(t, shownOnce(t, s, adminA, devPost(t, s, adminA, "/developers/keys", url.Values{"name": {"a-test"}})))
	if p := devPost(t, s, adminA, "/developers/webhooks/endpoint", url.Values{"url": {"https://a.example/test-hooks"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("A's test webhook endpoint: got %d", p.Status)
	}
	if r := s.API(t, "POST", "/users/a-test-user/link", keyA, `{"redirect_uri":"`+s.RedirectURI+`"}`); r.Status != 200 {
		t.Fatalf("A's test link: %d %s", r.Status, r.Raw)
	}
	if r := s.API(t, "POST", "/users/a-live-user/link", s.APIKey, `{"redirect_uri":"`+s.RedirectURI+`"}`); r.Status != 200 {
		t.Fatalf("A's live link: %d %s", r.Status, r.Raw)
	}
	requests := func(c *http.Client, user string) int {
		return strings.Count(handlertest.Get(t, c, s.URL+"/developers/requests?user="+user).Body, "data-request=")
	}
	deadline := time.Now().Add(10 * time.Second)
	for requests(adminA, "a-test-user") == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := requests(adminA, "a-test-user"); n != 1 {
		t.Errorf("A's test request log: %d rows for the test user, want 1", n)
	}
	if n := requests(adminA, "a-live-user"); n != 0 {
		t.Errorf("A's test request log shows the live request")
	}
	switchToMode(t, s, adminA, "live")
	for requests(adminA, "a-live-user") == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if requests(adminA, "a-test-user") != 0 || requests(adminA, "a-live-user") != 1 {
		t.Errorf("A's live request log: test rows %d, live rows %d; want 0 and 1", requests(adminA, "a-test-user"), requests(adminA, "a-live-user"))
	}

	adminB := mustTeamLogin(t, s, "admin@b.test", app.RoleSupplierAdmin, "supplier_b")
	pageB := switchToMode(t, s, adminB, "test")
	if got := keyPrefixesOn(pageB); len(got) != 0 || strings.Contains(pageB.Body, s.SupplierID) {
		t.Errorf("B's test view: keys %v (or A's supplier named); want none of A's", got)
	}
	if p := handlertest.Get(t, adminB, s.URL+"/developers/webhooks"); strings.Contains(p.Body, "a.example/test-hooks") {
		t.Errorf("B's test webhooks page shows A's test endpoint")
	}
	if requests(adminB, "a-test-user") != 0 {
		t.Errorf("B's test request log shows A's test request")
	}
	var idA int64
	if err := s.Store.DB().Get(&idA, `SELECT id FROM api_keys WHERE supplier_id = $1`, app.TestTwinID(s.SupplierID)); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/revoke", "/rotate"} {
		p := devPost(t, s, adminB, "/developers/keys/"+strconv.FormatInt(idA, 10)+path, url.Values{"overlap": {"1h"}})
		if p.Status != http.StatusNotFound {
			t.Errorf("B posts %s on A's test key: got %d, want 404", path, p.Status)
		}
	}
	if r := s.API(t, "GET", "/users/a-test-user", keyA, ""); r.Status == 401 {
		t.Errorf("A's test key stopped working after B's attempts: %d %s", r.Status, r.Raw)
	}
	if n := count(t, s, `SELECT count(*) FROM api_keys WHERE supplier_id = $1 AND revoked_at IS NULL AND expires_at IS NULL`, app.TestTwinID(s.SupplierID)); n != 1 {
		t.Errorf("A's active test keys after B's attempts: %d, want 1", n)
	}
}

// funnelOf returns the created and connected counts of the funnel c sees
// on path's report page and in its funnel CSV (which must agree), and
// whether the page shows the test-mode banner.
func funnelOf(t *testing.T, s *handlertest.Server, c *http.Client, query string) (created, connected string, banner bool) {
	t.Helper()
	p := handlertest.Get(t, c, s.URL+"/reports"+query)
	if p.Status != http.StatusOK {
		t.Fatalf("GET /reports%s: got %d", query, p.Status)
	}
	created, connected = cellText(t, p, "table-funnel", "data-step", "created", 1), cellText(t, p, "table-funnel", "data-step", "connected", 1)
	file := handlertest.Get(t, c, s.URL+"/reports/export/funnel.csv"+query)
	recs, err := csv.NewReader(strings.NewReader(file.Body)).ReadAll()
	if file.Status != http.StatusOK || err != nil || len(recs) != 6 {
		t.Fatalf("funnel CSV%s: got %d (%v), %d lines:\n%s", query, file.Status, err, len(recs), file.Body)
	}
	if recs[1][1] != created || recs[5][1] != connected {
		t.Errorf("funnel CSV%s: created %s, connected %s; the page shows %s and %s", query, recs[1][1], recs[5][1], created, connected)
	}
	return created, connected, testBanner(p)
}

// TestSupplierFunnelFollowsTheDashboardMode: the funnel a supplier team
// reaches from /developers (page and CSV) counts its test twin's sessions in
// the Test view and the live supplier's in the Live view, never both; a NOX
// manager naming the twin in the URL gets the all-suppliers report, which
// has no test session.
func TestSupplierFunnelFollowsTheDashboardMode(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	admin := mustTeamLogin(t, s, "funnel@team.test", app.RoleSupplierAdmin, s.SupplierID)
	s.MustCreateLink(t, "live-funnel-1")
	switchToMode(t, s, admin, "test")
	testKey := newKeyOn(t, shownOnce(t, s, admin, devPost(t, s, admin, "/developers/keys", url.Values{"name": {"funnel"}})))
	var first string
	for _, user := range []string{"tf-1", "tf-2", "tf-3"} {
		r := s.API(t, "POST", "/users/"+user+"/link", testKey, `{"redirect_uri":"`+s.RedirectURI+`","language":"en"}`)
		if r.Status != 200 {
			t.Fatalf("test link for %s: %d %s", user, r.Status, r.Raw)
		}
		if first == "" {
			first = r.Data()["link_url"].(string)
		}
	}
	if back := s.Walk(t, s.Client(), first, "sandbox-heatpump", "user_good", app.SandboxPassword, "allow"); !strings.Contains(back, "connection_status=connected") {
		t.Fatalf("test link ended at %q, want connected", back)
	}

	if created, connected, banner := funnelOf(t, s, admin, "?range=7"); created != "3" || connected != "1" || !banner {
		t.Errorf("test view funnel: %s created, %s connected, banner %v; want the twin's 3 and 1 with the banner", created, connected, banner)
	}
	// The supplier filter of the URL cannot take the team elsewhere.
	if created, _, _ := funnelOf(t, s, admin, "?range=7&supplier="+s.SupplierID); created != "3" {
		t.Errorf("test view funnel asking for the live supplier: %s created, want the twin's 3", created)
	}
	switchToMode(t, s, admin, "live")
	if created, connected, banner := funnelOf(t, s, admin, "?range=7"); created != "1" || connected != "0" || banner {
		t.Errorf("live view funnel: %s created, %s connected, banner %v; want the live 1 and 0 without the banner", created, connected, banner)
	}
	if created, _, _ := funnelOf(t, s, admin, "?range=7&supplier="+app.TestTwinID(s.SupplierID)); created != "1" {
		t.Errorf("live view funnel asking for the twin: %s created, want the live 1", created)
	}

	_, manager := s.MustLogin(t, "manager@funnel.test", app.RoleManager)
	for _, q := range []string{"?range=7", "?range=7&supplier=" + app.TestTwinID(s.SupplierID)} {
		if created, _, banner := funnelOf(t, s, manager, q); created != "1" || banner {
			t.Errorf("manager's report %s: %s created, banner %v; want the 1 live session and no banner", q, created, banner)
		}
	}

	// The device figures count every supplier's customers: a NOX manager
	// sees them, a supplier's team does not (page, KPI and CSV).
	for _, who := range []struct {
		name  string
		c     *http.Client
		shown bool
	}{{"manager", manager, true}, {"supplier team", admin, false}} {
		p := handlertest.Get(t, who.c, s.URL+"/reports?range=7")
		shown := handlertest.Find(p.Doc, func(n *html.Node) bool { return handlertest.Attr(n, "id") == "h-devices" }) != nil
		kpi := strings.Contains(pageText(p), "Connected devices")
		file := handlertest.Get(t, who.c, s.URL+"/reports/export/devices.csv?range=7")
		if shown != who.shown || kpi != who.shown || (file.Status == http.StatusOK) != who.shown {
			t.Errorf("%s: device chart shown %v, device KPI %v, devices CSV %d; want shown=%v", who.name, shown, kpi, file.Status, who.shown)
		}
	}
}

// suppliersOn returns the supplier ids a flow-2 selector offers.
func suppliersOn(p handlertest.Page) []string {
	var out []string
	for _, n := range handlertest.FindAll(p.Doc, func(n *html.Node) bool {
		return n.Data == "button" && handlertest.Attr(n, "data-supplier") != ""
	}) {
		out = append(out, handlertest.Attr(n, "data-supplier"))
	}
	return out
}

// TestFlow2TestLinksReachOnlyTheSandboxSupplier is flow 2's test mode: a
// link started by a sandbox manufacturer offers only the sandbox supplier;
// a live supplier with a login page is neither listed nor taken by a forged
// choice. A real manufacturer's link lists the live supplier. A test twin,
// even given a login page, is never listed.
func TestFlow2TestLinksReachOnlyTheSandboxSupplier(t *testing.T) {
	t.Parallel()
	s := startWithRealBrand(t, true)
	ctx := context.Background()
	sandbox := s.Config.Sandbox.Supplier.ID
	twin, err := s.Store.EnsureTestTwin(ctx, s.SupplierID, app.AuditEntry{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{s.SupplierID, twin} {
		if err := s.Store.SetSupplierLoginPage(ctx, id, "https://login.test-energy.example/authorize", "nox"); err != nil {
			t.Fatal(err)
		}
	}

	link := s.MustCreateSupplierLink(t, "hp-test-1", "")
	c := s.Client()
	p := handlertest.Get(t, c, link["link_url"].(string))
	if got := strings.Join(suppliersOn(p), ","); got != sandbox {
		t.Errorf("sandbox manufacturer's link offers %q, want only %s", got, sandbox)
	}
	action, vals := p.FormValues(t, "/select-supplier", "supplier", sandbox)
	vals.Set("supplier", s.SupplierID)
	if refused := handlertest.PostForm(t, c, s.URL+action, vals); refused.Status != http.StatusConflict ||
		count(t, s, `SELECT count(*) FROM link_sessions WHERE supplier_id IN ($1, $2)`, s.SupplierID, twin) != 0 {
		t.Errorf("forged choice of the live supplier on a test link: got %d, want 409 and nothing chosen", refused.Status)
	}

	key, err := s.Store.CreateAPIKey(ctx, app.APIKeyOwner{ManufacturerID: "acme-heat"}, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Store.SetManufacturerRedirectURIs(ctx, "acme-heat", []string{s.ManufacturerRedirectURI}); err != nil {
		t.Fatal(err)
	}
	r := s.API(t, "POST", "/manufacturer/link-sessions", key,
		`{"manufacturer_user_id":"acme-1","device_ids":["A-1"],"redirect_uri":"`+s.ManufacturerRedirectURI+`","language":"en"}`)
	if r.Status != 200 {
		t.Fatalf("real manufacturer's link: %d %s", r.Status, r.Raw)
	}
	got := suppliersOn(handlertest.Get(t, s.Client(), r.Data()["link_url"].(string)))
	if !slices.Contains(got, s.SupplierID) || slices.Contains(got, twin) {
		t.Errorf("real manufacturer's link offers %v, want %s and never the twin %s", got, s.SupplierID, twin)
	}
}
