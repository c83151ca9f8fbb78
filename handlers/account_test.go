package handlers_test

import (
	"context"
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

// connectFromDashboard starts "Connect a device" on the dashboard of c,
// walks the hosted flow at brand as sandbox user username with decision,
// follows the return to the dashboard and returns the dashboard page.
func connectFromDashboard(t *testing.T, s *handlertest.Server, c *http.Client, brand, username, decision string) handlertest.Page {
	t.Helper()
	dash := handlertest.Get(t, c, s.URL+"/account")
	action, vals := dash.FormValues(t, "/account/connect")
	start := handlertest.PostForm(t, c, s.URL+action, vals)
	if start.Status != http.StatusSeeOther || !strings.Contains(start.Location, "/connect?token=") {
		t.Fatalf("connect: got %d → %q, want 303 to the hosted flow", start.Status, start.Location)
	}
	back := s.Walk(t, c, start.Location, brand, username, "pass_good", decision)
	if !strings.HasPrefix(s.Local(back), "/account/return?") {
		t.Fatalf("the flow returned to %q, want /account/return", back)
	}
	ret := handlertest.Get(t, c, back)
	if ret.Status != http.StatusSeeOther {
		t.Fatalf("return: got %d, want 303", ret.Status)
	}
	page := handlertest.Get(t, c, ret.Location)
	if page.Status != http.StatusOK {
		t.Fatalf("dashboard after return: got %d", page.Status)
	}
	return page
}

func deviceCards(p handlertest.Page) []*html.Node {
	return handlertest.FindAll(p.Doc, func(n *html.Node) bool {
		return n.Data == "article" && strings.HasPrefix(handlertest.Attr(n, "id"), "device-")
	})
}

func statusOf(card *html.Node) string {
	n := handlertest.Find(card, func(n *html.Node) bool { return handlertest.Attr(n, "data-status") != "" })
	if n == nil {
		return ""
	}
	return handlertest.Attr(n, "data-status")
}

func bannerOf(p handlertest.Page) (kind, text string) {
	n := handlertest.Find(p.Doc, func(n *html.Node) bool { return handlertest.Attr(n, "data-banner") != "" })
	if n == nil {
		return "", ""
	}
	return handlertest.Attr(n, "data-banner"), handlertest.Text(n)
}

func deviceID(t *testing.T, card *html.Node) string {
	t.Helper()
	return strings.TrimPrefix(handlertest.Attr(card, "id"), "device-")
}

func TestCustomerConnectsADeviceFromTheDashboard(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	u, c := s.MustLogin(t, "connect@example.test", app.RoleCustomer)
	empty := handlertest.Get(t, c, s.URL+"/account")
	if len(deviceCards(empty)) != 0 || !strings.Contains(empty.Body, "empty-state") {
		t.Fatalf("new customer: want the empty state and no devices")
	}
	page := connectFromDashboard(t, s, c, "sandbox-heatpump", "user_good", "allow")
	cards := deviceCards(page)
	if len(cards) != 1 {
		t.Fatalf("devices after connecting: got %d, want 1", len(cards))
	}
	if got := statusOf(cards[0]); got != app.DeviceConnected {
		t.Errorf("device status: got %q, want connected", got)
	}
	for _, want := range []string{"Sandbox Heat Pumps", "Connected since", "Last successful sync"} {
		if !strings.Contains(handlertest.Text(cards[0]), want) {
			t.Errorf("device card lacks %q: %s", want, handlertest.Text(cards[0]))
		}
	}
	if kind, text := bannerOf(page); kind != "success" || !strings.Contains(text, "Sandbox Heat Pumps") {
		t.Errorf("banner: got %s %q, want a success banner naming the brand", kind, text)
	}
	devices, err := s.Store.CustomerDevices(context.Background(), u.NoxUserID)
	if err != nil || len(devices) != 1 {
		t.Fatalf("devices of the customer's own nox user: got %d (%v), want 1", len(devices), err)
	}
}

func TestFailedConnectionsExplainWhatHappened(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	for _, tc := range []struct {
		name, username, decision, want string
	}{
		{"denied", "user_good", "deny", "chose not to give access"},
		{"manufacturer error", "user_token_error", "allow", "did not answer as expected"},
		{"no devices", "user_no_devices", "allow", "has no devices"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c := s.MustLogin(t, strings.ReplaceAll(tc.name, " ", "")+"@example.test", app.RoleCustomer)
			page := connectFromDashboard(t, s, c, "sandbox-heatpump", tc.username, tc.decision)
			kind, text := bannerOf(page)
			if kind != "error" || !strings.Contains(text, tc.want) {
				t.Errorf("banner: got %s %q, want an error banner saying %q", kind, text, tc.want)
			}
			if n := len(deviceCards(page)); n != 0 {
				t.Errorf("devices: got %d, want 0", n)
			}
		})
	}
}

func TestCustomerCannotSeeOrActOnAnotherCustomersDevice(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	_, a := s.MustLogin(t, "a@example.test", app.RoleCustomer)
	_, b := s.MustLogin(t, "b@example.test", app.RoleCustomer)
	connectFromDashboard(t, s, a, "sandbox-heatpump", "user_good", "allow")
	bPage := connectFromDashboard(t, s, b, "sandbox-thermostat", "user_good", "allow")
	bDevice := deviceID(t, deviceCards(bPage)[0])
	aPage := handlertest.Get(t, a, s.URL+"/account")
	if strings.Contains(aPage.Body, "device-"+bDevice+`"`) {
		t.Fatal("A's dashboard shows B's device")
	}
	csrf := aPage.CSRF(t)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/account/devices/" + bDevice + "/disconnect"},
		{"POST", "/account/devices/" + bDevice + "/disconnect"},
		{"POST", "/account/devices/" + bDevice + "/reconnect"},
		{"GET", "/account/devices/999999/disconnect"},
		{"POST", "/account/devices/999999/reconnect"},
		{"GET", "/account/devices/abc/disconnect"},
		{"POST", "/account/links/ls_notmine/cancel"},
	} {
		var p handlertest.Page
		if tc.method == "GET" {
			p = handlertest.Get(t, a, s.URL+tc.path)
		} else {
			p = handlertest.PostForm(t, a, s.URL+tc.path, url.Values{"_csrf": {csrf}})
		}
		if p.Status != http.StatusNotFound {
			t.Errorf("A %s %s: got %d, want 404", tc.method, tc.path, p.Status)
		}
	}
	if got := statusOf(deviceCards(handlertest.Get(t, b, s.URL+"/account"))[0]); got != app.DeviceConnected {
		t.Errorf("B's device after A's attempts: got %q, want connected", got)
	}
}

func TestDisconnectDeletesTokensWhenTheLastDeviceGoesAndWritesEvents(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	u, c := s.MustLogin(t, "multi@example.test", app.RoleCustomer)
	page := connectFromDashboard(t, s, c, "sandbox-heatpump", "user_multi", "allow")
	cards := deviceCards(page)
	if len(cards) != 2 {
		t.Fatalf("user_multi devices: got %d, want 2", len(cards))
	}
	ctx := context.Background()
	for i, card := range cards {
		id := deviceID(t, card)
		// Without JavaScript: the confirmation page, then the form post.
		confirm := handlertest.Get(t, c, s.URL+"/account/devices/"+id+"/disconnect")
		action, vals := confirm.FormValues(t, "/disconnect")
		done := handlertest.PostForm(t, c, s.URL+action, vals)
		if done.Status != http.StatusSeeOther || !strings.HasPrefix(s.Local(done.Location), "/account?done=disconnected") {
			t.Fatalf("disconnect: got %d → %q", done.Status, done.Location)
		}
		_, err := dbtest.ManufacturerTokens(ctx, s.Store, u.NoxUserID, "sandbox-heatpump")
		if last := i == len(cards)-1; last != app.IsNotFound(err) {
			t.Errorf("after disconnecting %d of %d devices: tokens deleted = %v, want %v", i+1, len(cards), app.IsNotFound(err), last)
		}
		n, _ := strconv.ParseInt(id, 10, 64)
		events, err := dbtest.DeviceEvents(ctx, s.Store, n)
		if err != nil || len(events) != 1 || events[0].Type != app.DeviceEventDisconnected {
			t.Errorf("device %s events: got %+v (%v), want one disconnected event", id, events, err)
		}
		audit, err := dbtest.AuditEntries(ctx, s.Store, "device", id, 5)
		if err != nil || len(audit) != 1 || audit[0].Action != "device.disconnect" || audit[0].ActorID == nil || *audit[0].ActorID != u.ID {
			t.Errorf("device %s audit: got %+v (%v), want device.disconnect by the customer", id, audit, err)
		}
	}
	after := handlertest.Get(t, c, s.URL+"/account?done=disconnected&brand=sandbox-heatpump")
	for _, card := range deviceCards(after) {
		if got := statusOf(card); got != app.DeviceDisconnected {
			t.Errorf("device %s: got %q, want disconnected", deviceID(t, card), got)
		}
	}
	if kind, _ := bannerOf(after); kind != "success" {
		t.Errorf("banner after disconnect: got %q, want success", kind)
	}
}

func TestDisconnectWithHTMXConfirmsInlineAndSwapsTheList(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	_, c := s.MustLogin(t, "htmx@example.test", app.RoleCustomer)
	page := connectFromDashboard(t, s, c, "sandbox-charger", "user_good", "allow")
	id := deviceID(t, deviceCards(page)[0])
	csrf := page.CSRF(t)
	do := func(method, path string) handlertest.Page {
		req, _ := http.NewRequest(method, s.URL+path, nil)
		req.Header.Set("HX-Request", "true")
		req.Header.Set("X-CSRF-Token", csrf)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return handlertest.ReadPage(t, resp)
	}
	confirm := do("GET", "/account/devices/"+id+"/disconnect")
	if confirm.Status != http.StatusOK || strings.Contains(confirm.Body, "<html") || !strings.Contains(confirm.Body, `data-action="confirm-disconnect"`) {
		t.Fatalf("confirm fragment: got %d, want a fragment with the confirm button:\n%s", confirm.Status, confirm.Body)
	}
	list := do("POST", "/account/devices/"+id+"/disconnect")
	if list.Status != http.StatusOK || strings.Contains(list.Body, "<html") || !strings.Contains(list.Body, `id="devices"`) {
		t.Fatalf("disconnect fragment: got %d, want the device list fragment:\n%s", list.Status, list.Body)
	}
	if got := statusOf(deviceCards(list)[0]); got != app.DeviceDisconnected {
		t.Errorf("device status in the swapped list: got %q, want disconnected", got)
	}
	if kind, _ := bannerOf(list); kind != "success" {
		t.Errorf("banner in the swapped list: got %q, want success", kind)
	}
}

func TestReconnectGoesStraightToTheManufacturerLogin(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	u, c := s.MustLogin(t, "relink@example.test", app.RoleCustomer)
	connectFromDashboard(t, s, c, "sandbox-thermostat", "user_good", "allow")
	if _, err := s.Store.DB().Exec(`UPDATE devices SET status = 'relink_required' WHERE nox_user_id = $1`, u.NoxUserID); err != nil {
		t.Fatal(err)
	}
	dash := handlertest.Get(t, c, s.URL+"/account")
	card := deviceCards(dash)[0]
	if got := statusOf(card); got != app.DeviceRelinkRequired {
		t.Fatalf("status: got %q, want relink_required", got)
	}
	action, vals := dash.FormValues(t, "/reconnect")
	start := handlertest.PostForm(t, c, s.URL+action, vals)
	if start.Status != http.StatusSeeOther || !strings.Contains(start.Location, "/sandbox/sandbox-thermostat/authorize") {
		t.Fatalf("reconnect: got %d → %q, want straight to the thermostat login", start.Status, start.Location)
	}
	// While the customer is at the manufacturer the device shows as
	// connecting and the list polls for changes.
	mid := handlertest.Get(t, c, s.URL+"/account")
	if got := statusOf(deviceCards(mid)[0]); got != "connecting" {
		t.Errorf("status during reconnect: got %q, want connecting", got)
	}
	list := handlertest.Find(mid.Doc, func(n *html.Node) bool { return handlertest.Attr(n, "id") == "devices" })
	if handlertest.Attr(list, "hx-trigger") == "" {
		t.Error("the device list does not poll while a link is in progress")
	}
	callback := handlertest.Get(t, c, answerConsent(t, s, c, signIn(t, s, c, start.Location, "user_good"), "allow"))
	ret := handlertest.Get(t, c, callback.Location)
	after := handlertest.Get(t, c, ret.Location)
	if got := statusOf(deviceCards(after)[0]); got != app.DeviceConnected {
		t.Errorf("status after reconnecting: got %q, want connected", got)
	}
	listAfter := handlertest.Find(after.Doc, func(n *html.Node) bool { return handlertest.Attr(n, "id") == "devices" })
	if handlertest.Attr(listAfter, "hx-trigger") != "" {
		t.Error("the device list still polls after the link finished")
	}
}

func TestCancellingALinkInProgressStopsPolling(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	_, c := s.MustLogin(t, "cancel@example.test", app.RoleCustomer)
	dash := handlertest.Get(t, c, s.URL+"/account")
	action, vals := dash.FormValues(t, "/account/connect")
	handlertest.PostForm(t, c, s.URL+action, vals)
	mid := handlertest.Get(t, c, s.URL+"/account")
	action, vals = mid.FormValues(t, "/cancel")
	done := handlertest.PostForm(t, c, s.URL+action, vals)
	after := handlertest.Get(t, c, done.Location)
	if strings.Contains(after.Body, "data-link=") || strings.Contains(after.Body, `hx-trigger="every`) {
		t.Error("the cancelled link is still shown as connecting")
	}
}

func TestSupplierDashboardSessionSignsInOnceScopedToThatUser(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	// The supplier's user already linked a device through the supplier's own flow.
	link := s.MustCreateLink(t, "cust-77")
	s.Walk(t, s.Client(), link["link_url"].(string), "sandbox-heatpump", "user_good", "pass_good", "allow")
	// Another user of the same supplier has a device too.
	other := s.MustCreateLink(t, "cust-88")
	s.Walk(t, s.Client(), other["link_url"].(string), "sandbox-charger", "user_good", "pass_good", "allow")

	dashURL := s.MustDashboardURL(t, "cust-77")
	c := s.Client()
	enter := handlertest.Get(t, c, dashURL)
	if enter.Status != http.StatusSeeOther || s.Local(enter.Location) != "/account" {
		t.Fatalf("open dashboard URL: got %d → %q, want 303 → /account", enter.Status, enter.Location)
	}
	dash := handlertest.Get(t, c, s.URL+"/account")
	cards := deviceCards(dash)
	if len(cards) != 1 || !strings.Contains(handlertest.Text(cards[0]), "Sandbox Heat Pumps") {
		t.Fatalf("dashboard of cust-77: got %d devices, want only its heat pump", len(cards))
	}
	// Connecting from this dashboard adds to the same supplier user.
	connectFromDashboard(t, s, c, "sandbox-thermostat", "user_good", "allow")
	r := s.API(t, "GET", "/users/cust-77", s.APIKey, "")
	if devs, _ := r.Data()["devices"].([]any); len(devs) != 2 {
		t.Errorf("supplier API devices of cust-77: got %d, want 2", len(devs))
	}

	// Reused: a clear page, no sign-in.
	again := s.Client()
	reused := handlertest.Get(t, again, dashURL)
	if reused.Status != http.StatusGone || !strings.Contains(reused.Body, "already") {
		t.Errorf("reused dashboard URL: got %d, want 410 with a page saying it was already used", reused.Status)
	}
	if s.SessionCookie(again) != nil {
		t.Error("a reused dashboard URL set a session cookie")
	}
	// Expired: the page names the link's own lifetime (the configured
	// portal.dashboard_link_ttl, 5 minutes), in the right plural form.
	expURL := s.MustDashboardURL(t, "cust-77")
	if _, err := s.Store.DB().Exec(`UPDATE dashboard_links SET created_at = created_at - interval '10 minutes',
		expires_at = expires_at - interval '10 minutes' WHERE used_at IS NULL`); err != nil {
		t.Fatal(err)
	}
	expired := handlertest.Get(t, s.Client(), expURL)
	if expired.Status != http.StatusGone || !strings.Contains(expired.Body, "expired") ||
		!strings.Contains(expired.Body, "valid for 5 minutes.") {
		t.Errorf("expired dashboard URL: got %d, want 410 with a page saying it expired and was valid for 5 minutes", expired.Status)
	}
	oneURL := s.MustDashboardURL(t, "cust-77")
	if _, err := s.Store.DB().Exec(`UPDATE dashboard_links SET created_at = now() - interval '61 seconds',
		expires_at = now() - interval '1 second' WHERE used_at IS NULL`); err != nil {
		t.Fatal(err)
	}
	if p := handlertest.Get(t, s.Client(), oneURL); !strings.Contains(p.Body, "valid for 1 minute.") {
		t.Errorf("expired one-minute dashboard URL: got %q, want \"valid for 1 minute.\"", handlertest.Text(p.Doc))
	}
	if p := handlertest.Get(t, s.Client(), s.URL+"/account/enter?token=nope"); p.Status != http.StatusNotFound {
		t.Errorf("unknown dashboard token: got %d, want 404", p.Status)
	}
}

func TestDashboardSessionAPIValidatesItsInput(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	s.MustCreateLink(t, "u1")
	otherKey := otherSupplier(t, s, "supplier_other", "https://other.example/cb")
	createLinkAs(t, s, otherKey, "theirs", "https://other.example/cb")
	for _, tc := range []struct {
		name, path, key, body string
		want                  int
	}{
		{"no key", "/users/u1/dashboard-sessions", "", "", http.StatusUnauthorized},
		{"wrong key", "/users/u1/dashboard-sessions", "nox_sk_wrong", "", http.StatusUnauthorized},
		{"bad language", "/users/u1/dashboard-sessions", s.APIKey, `{"language":"it"}`, http.StatusBadRequest},
		{"unknown field", "/users/u1/dashboard-sessions", s.APIKey, `{"lang":"nl"}`, http.StatusBadRequest},
		{"empty body", "/users/u1/dashboard-sessions", s.APIKey, "", http.StatusOK},
		{"dutch", "/users/u1/dashboard-sessions", s.APIKey, `{"language":"nl"}`, http.StatusOK},
		{"unknown user", "/users/nobody/dashboard-sessions", s.APIKey, "", http.StatusNotFound},
		{"another supplier's user", "/users/theirs/dashboard-sessions", s.APIKey, "", http.StatusNotFound},
		{"dot", "/users/%2E/dashboard-sessions", s.APIKey, "", http.StatusBadRequest},
		{"dot dot", "/users/%2E%2E/dashboard-sessions", s.APIKey, "", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.API(t, "POST", tc.path, tc.key, tc.body)
			if r.Status != tc.want {
				t.Fatalf("got %d %s, want %d", r.Status, r.Raw, tc.want)
			}
			if tc.want == http.StatusNotFound && r.ErrorCode() != "not_found" {
				t.Errorf("error code: got %q, want not_found", r.ErrorCode())
			}
			if tc.want == http.StatusOK {
				d := r.Data()
				if u, _ := d["url"].(string); !strings.HasPrefix(u, s.URL+"/account/enter?token=") || d["supplier_user_id"] != "u1" {
					t.Errorf("data: got %v", d)
				}
			}
		})
	}
}

// TestDashboardBannersReadWellForEveryOutcome opens the dashboard with each
// outcome it explains, in every language: each shows a banner of its kind
// with no formatting debris, and the expired ones name the configured link
// lifetime.
func TestDashboardBannersReadWellForEveryOutcome(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t, func(c *app.Config) { c.Link.SessionTTL = app.Duration(20 * time.Minute) })
	_, c := s.MustLogin(t, "banners@example.test", app.RoleCustomer)
	outcomes := []string{"connected", "disconnected", app.ReasonExpired, app.ReasonAccessDenied, app.ReasonManufacturerError,
		app.ReasonManufacturerDown, app.ReasonNoDevices, app.ReasonCancelled, app.ReasonAlreadyUsed, "failed", "link_cancelled",
		"supplier_connected", "supplier_expired", "supplier_cancelled", "supplier_failed", "supplier_already_linked"}
	for _, lang := range app.Languages {
		for _, done := range outcomes {
			p := handlertest.Get(t, c, s.URL+"/account?lang="+lang+"&done="+done+"&brand=sandbox-heatpump")
			kind, text := bannerOf(p)
			if kind == "" || strings.Contains(text, "%!") || strings.Contains(text, "%[") {
				t.Errorf("%s %s: banner %q %q", lang, done, kind, text)
			}
			if (done == app.ReasonExpired || done == "supplier_expired") && !strings.Contains(text, "20") {
				t.Errorf("%s %s: want the 20-minute lifetime in %q", lang, done, text)
			}
		}
	}
}
