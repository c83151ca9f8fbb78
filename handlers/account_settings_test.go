package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"noxportal/app"
	"noxportal/db/dbtest"
	"noxportal/handlers/handlertest"
)

// linkSupplierFromDashboard presses "Link my energy supplier" on the
// dashboard of c, walks flow 2 at the sandbox supplier as username with
// decision, follows the return and returns the dashboard page.
func linkSupplierFromDashboard(t *testing.T, s *handlertest.Server, c *http.Client, username, decision string) handlertest.Page {
	t.Helper()
	dash := handlertest.Get(t, c, s.URL+"/account")
	action, vals := dash.FormValues(t, "/account/suppliers/link")
	start := handlertest.PostForm(t, c, s.URL+action, vals)
	if start.Status != http.StatusSeeOther || !strings.Contains(start.Location, "/select-supplier?token=") {
		t.Fatalf("link supplier: got %d → %q, want 303 to the supplier selector", start.Status, start.Location)
	}
	back := s.WalkSupplier(t, c, start.Location, s.Config.Sandbox.Supplier.ID, username, decision)
	if !strings.HasPrefix(s.Local(back), "/account/supplier-return?") {
		t.Fatalf("flow 2 returned to %q, want /account/supplier-return", back)
	}
	ret := handlertest.Get(t, c, back)
	if ret.Status != http.StatusSeeOther {
		t.Fatalf("supplier return: got %d, want 303", ret.Status)
	}
	page := handlertest.Get(t, c, ret.Location)
	if page.Status != http.StatusOK {
		t.Fatalf("dashboard after supplier return: got %d", page.Status)
	}
	return page
}

func linkedSupplierNames(p handlertest.Page) []string {
	var out []string
	for _, n := range handlertest.FindAll(p.Doc, func(n *html.Node) bool { return handlertest.Attr(n, "data-supplier") != "" }) {
		out = append(out, handlertest.Attr(n, "data-supplier"))
	}
	return out
}

// fieldErrors returns the comfort fields with an inline error message.
func fieldErrors(p handlertest.Page) map[string]string {
	out := map[string]string{}
	for _, n := range handlertest.FindAll(p.Doc, func(n *html.Node) bool { return handlertest.Attr(n, "data-error") != "" }) {
		out[handlertest.Attr(n, "data-error")] = handlertest.Text(n)
	}
	return out
}

func comfortNotice(p handlertest.Page) string {
	n := handlertest.Find(p.Doc, func(n *html.Node) bool { return handlertest.Attr(n, "data-comfort") != "" })
	if n == nil {
		return ""
	}
	return handlertest.Attr(n, "data-comfort")
}

func inputValue(p handlertest.Page, name string) string {
	n := handlertest.Find(p.Doc, func(n *html.Node) bool { return n.Data == "input" && handlertest.Attr(n, "name") == name })
	if n == nil {
		return "<missing>"
	}
	return handlertest.Attr(n, "value")
}

// comfortPost sends the comfort editor of the dashboard page dash with the
// given fields (others as the form has them): as HTMX when htmx is set,
// as a plain form post otherwise (redirects not followed).
func comfortPost(t *testing.T, s *handlertest.Server, c *http.Client, dash handlertest.Page, htmx bool, fields map[string]string) handlertest.Page {
	t.Helper()
	_, vals := dash.FormValues(t, "/account/comfort")
	for k, v := range fields {
		vals.Set(k, v)
	}
	if !htmx {
		return handlertest.PostForm(t, c, s.URL+"/account/comfort", vals)
	}
	req, _ := http.NewRequest("POST", s.URL+"/account/comfort", strings.NewReader(vals.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("HX-Request", "true")
	req.Header.Set("X-CSRF-Token", dash.CSRF(t))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return handlertest.ReadPage(t, resp)
}

func TestCustomerLinksEnergySupplierFromTheDashboardAndComfortChangesReachIt(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	supplier := handlertest.NewReceiver(t, nil)
	s.MustRegisterWebhook(t, s.Config.Sandbox.Supplier.APIKey, supplier)
	u, c := s.MustLogin(t, "links@example.test", app.RoleCustomer)

	empty := handlertest.Get(t, c, s.URL+"/account")
	if got := linkedSupplierNames(empty); len(got) != 0 || !strings.Contains(empty.Body, `data-empty="suppliers"`) {
		t.Fatalf("new customer: got suppliers %v, want the empty state", got)
	}
	started := handlertest.PostForm(t, c, s.URL+"/account/suppliers/link", url.Values{"_csrf": {empty.CSRF(t)}})
	if started.Status != http.StatusSeeOther {
		t.Fatalf("start a supplier link: got %d, want 303", started.Status)
	}
	inProgress := handlertest.Get(t, c, s.URL+"/account")
	if len(deviceCards(inProgress)) != 0 || strings.Contains(inProgress.Body, "data-link=") || strings.Contains(inProgress.Body, "every 3s") {
		t.Errorf("a supplier link in progress shows as a device being connected (or polls)")
	}
	page := linkSupplierFromDashboard(t, s, c, "user_good", "accept")
	if kind, text := bannerOf(page); kind != "success" || !strings.Contains(text, "Sandbox Energy is now linked") {
		t.Errorf("banner after linking: got %q %q, want success naming Sandbox Energy", kind, text)
	}
	if got := linkedSupplierNames(page); len(got) != 1 || got[0] != "Sandbox Energy" {
		t.Errorf("linked suppliers: got %v, want [Sandbox Energy]", got)
	}
	r := s.API(t, "GET", "/users/SE-1001", s.Config.Sandbox.Supplier.APIKey, "")
	if r.Status != 200 || r.Data()["nox_user_id"] != u.NoxUserID {
		t.Fatalf("supplier's view of SE-1001: got %d %s, want the customer's nox user %s", r.Status, r.Raw, u.NoxUserID)
	}
	supplier.WaitFor(t, "supplier.linked", func(ws []handlertest.Webhook) bool {
		return len(handlertest.OfType(ws, app.EventSupplierLinked)) == 1
	})

	saved := comfortPost(t, s, c, page, false, map[string]string{"indoor_min_c": "19,5", "indoor_max_c": "22"})
	if saved.Status != http.StatusSeeOther || s.Local(saved.Location) != "/account?comfort=saved#comfort" {
		t.Fatalf("plain comfort save: got %d → %q, want 303 back to the dashboard", saved.Status, saved.Location)
	}
	after := handlertest.Get(t, c, s.URL+"/account?comfort=saved")
	if comfortNotice(after) != "saved" || inputValue(after, "indoor_min_c") != "19.5" || inputValue(after, "version") != "1" ||
		!strings.Contains(after.Body, "last set by you") {
		t.Errorf("dashboard after saving: notice %q, indoor_min_c %q, version %q; want saved, 19.5, 1 set by you",
			comfortNotice(after), inputValue(after, "indoor_min_c"), inputValue(after, "version"))
	}
	ws := supplier.WaitFor(t, "comfort_bounds.updated", func(ws []handlertest.Webhook) bool {
		return len(handlertest.OfType(ws, app.EventComfortBoundsUpdated)) == 1
	})
	w := handlertest.OfType(ws, app.EventComfortBoundsUpdated)[0]
	if !w.SignatureOK || w.Data["updated_by"] != "customer" || w.Data["supplier_user_id"] != "SE-1001" ||
		w.Data["indoor_min_c"] != 19.5 || w.Data["version"] != float64(1) {
		t.Errorf("supplier's comfort webhook: got %s (signature ok %v)", w.Body, w.SignatureOK)
	}
}

func TestSupplierLinkFromTheDashboardExplainsHowItEnded(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	_, first := s.MustLogin(t, "first@example.test", app.RoleCustomer)
	linkSupplierFromDashboard(t, s, first, "user_good", "accept")

	_, c := s.MustLogin(t, "second@example.test", app.RoleCustomer)
	declined := linkSupplierFromDashboard(t, s, c, "user_other", "decline")
	if kind, text := bannerOf(declined); kind != "info" || !strings.Contains(text, "Nothing was linked") {
		t.Errorf("declined at the supplier: got %q %q, want an info banner saying nothing was linked", kind, text)
	}
	taken := linkSupplierFromDashboard(t, s, c, "user_good", "accept")
	if kind, text := bannerOf(taken); kind != "error" || !strings.Contains(text, "already belongs to another NOX account") {
		t.Errorf("supplier account of another customer: got %q %q, want an error banner saying so", kind, text)
	}
	if got := linkedSupplierNames(taken); len(got) != 0 {
		t.Errorf("second customer's suppliers after a refused link: got %v, want none", got)
	}

	dash := handlertest.Get(t, c, s.URL+"/account")
	start := handlertest.PostForm(t, c, s.URL+"/account/suppliers/link", url.Values{"_csrf": {dash.CSRF(t)}})
	selector := handlertest.Get(t, c, start.Location)
	if !strings.Contains(selector.Body, "Sandbox Energy") {
		t.Fatalf("supplier selector from the dashboard: got %d without Sandbox Energy", selector.Status)
	}
	action, vals := selector.FormValues(t, "/connect/cancel")
	cancel := handlertest.PostForm(t, c, s.URL+action, vals)
	if !strings.HasPrefix(s.Local(cancel.Location), "/account/supplier-return?") {
		t.Fatalf("cancel on the selector: got %d → %q, want the dashboard's supplier return", cancel.Status, cancel.Location)
	}
	ret := handlertest.Get(t, c, cancel.Location)
	if kind, text := bannerOf(handlertest.Get(t, c, ret.Location)); kind != "info" || !strings.Contains(text, "You stopped linking") {
		t.Errorf("cancelled on the selector: banner %q %q, want info saying it was stopped", kind, text)
	}

	for _, tc := range []struct {
		query, kind, text string
	}{
		{"connection_status=failed&error=expired&supplier_id=supplier_sandbox", "error", "took longer than 15 minutes"},
		{"connection_status=failed&error=cancelled", "info", "You stopped linking your energy supplier"},
		{"connection_status=failed&error=supplier_error&supplier_id=supplier_sandbox", "error", "Linking Sandbox Energy did not work"},
		{"connection_status=failed&error=nonsense&supplier_id=%3Cscript%3E", "error", "Linking your energy supplier did not work"},
	} {
		ret := handlertest.Get(t, c, s.URL+"/account/supplier-return?"+tc.query)
		if ret.Status != http.StatusSeeOther {
			t.Fatalf("%s: got %d, want 303", tc.query, ret.Status)
		}
		page := handlertest.Get(t, c, ret.Location)
		if kind, text := bannerOf(page); kind != tc.kind || !strings.Contains(text, tc.text) {
			t.Errorf("%s: banner %q %q, want %q containing %q", tc.query, kind, text, tc.kind, tc.text)
		}
	}
}

func TestExpiredSupplierLinkFromTheDashboardLinksNothing(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	_, c := s.MustLogin(t, "late@example.test", app.RoleCustomer)
	dash := handlertest.Get(t, c, s.URL+"/account")
	action, vals := dash.FormValues(t, "/account/suppliers/link")
	start := handlertest.PostForm(t, c, s.URL+action, vals)
	l := s.WalkToSupplierTerms(t, c, start.Location, s.Config.Sandbox.Supplier.ID, "user_good")
	u, _ := url.Parse(start.Location)
	s.ExpireLinkSession(t, u.Query().Get("token"))
	back := s.FinishSupplierLogin(t, c, l, "accept")
	ret := handlertest.Get(t, c, back)
	page := handlertest.Get(t, c, ret.Location)
	if kind, text := bannerOf(page); kind != "error" || !strings.Contains(text, "took longer than 15 minutes") {
		t.Errorf("expired: banner %q %q, want the expiry explained", kind, text)
	}
	if got := linkedSupplierNames(page); len(got) != 0 {
		t.Errorf("suppliers after an expired link: got %v, want none", got)
	}
}

func TestCustomerSeesOnlyTheirOwnSuppliersAndComfortBounds(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	a, ca := s.MustLogin(t, "a@example.test", app.RoleCustomer)
	page := linkSupplierFromDashboard(t, s, ca, "user_good", "accept")
	if r := comfortPost(t, s, ca, page, false, map[string]string{"indoor_min_c": "18", "indoor_max_c": "21"}); r.Status != http.StatusSeeOther {
		t.Fatalf("a saves bounds: got %d", r.Status)
	}

	b, cb := s.MustLogin(t, "b@example.test", app.RoleCustomer)
	dash := handlertest.Get(t, cb, s.URL+"/account")
	if got := linkedSupplierNames(dash); len(got) != 0 {
		t.Errorf("b's suppliers: got %v, want none (a's supplier must not show)", got)
	}
	if v := inputValue(dash, "version"); v != "0" || inputValue(dash, "indoor_min_c") != "" {
		t.Errorf("b's comfort editor: version %q, indoor_min_c %q; want empty version 0", v, inputValue(dash, "indoor_min_c"))
	}
	if r := comfortPost(t, s, cb, dash, false, map[string]string{"indoor_min_c": "20", "indoor_max_c": "23"}); r.Status != http.StatusSeeOther {
		t.Fatalf("b saves bounds: got %d", r.Status)
	}
	ctx := context.Background()
	ab, err := s.Store.ComfortBounds(ctx, a.NoxUserID)
	if err != nil || ab.IndoorMinC != 18 || ab.Version != 1 {
		t.Errorf("a's bounds after b saved: got %+v %v, want 18 °C version 1", ab, err)
	}
	if entries, err := dbtest.AuditEntries(ctx, s.Store, "nox_user", b.NoxUserID, 10); err != nil || len(entries) != 1 ||
		entries[0].Action != "comfort_bounds.update" || entries[0].ActorID == nil || *entries[0].ActorID != b.ID {
		t.Errorf("audit of b's save: got %+v %v, want one comfort_bounds.update by b", entries, err)
	}
	bb, err := s.Store.ComfortBounds(ctx, b.NoxUserID)
	if err != nil || bb.IndoorMinC != 20 || bb.UpdatedBy != (app.Party{Kind: app.PartyCustomer, ID: strconv.FormatInt(b.ID, 10)}) {
		t.Errorf("b's bounds: got %+v %v, want 20 °C set by customer %d", bb, err, b.ID)
	}
}

func TestDashboardSupplierAndComfortPostsNeedCSRF(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	_, c := s.MustLogin(t, "csrf@example.test", app.RoleCustomer)
	dash := handlertest.Get(t, c, s.URL+"/account")
	for _, path := range []string{"/account/suppliers/link", "/account/comfort"} {
		_, vals := dash.FormValues(t, path)
		vals.Set("indoor_min_c", "19")
		vals.Set("indoor_max_c", "22")
		for _, tc := range []struct{ name, token string }{{"no token", ""}, {"forged token", "forged"}} {
			v := url.Values{}
			for k, vs := range vals {
				v[k] = vs
			}
			if tc.token == "" {
				v.Del("_csrf")
			} else {
				v.Set("_csrf", tc.token)
			}
			if p := handlertest.PostForm(t, c, s.URL+path, v); p.Status != http.StatusForbidden {
				t.Errorf("%s with %s: got %d, want 403", path, tc.name, p.Status)
			}
		}
	}
	var n int
	if err := s.Store.DB().Get(&n, `SELECT count(*) FROM link_sessions`); err != nil || n != 0 {
		t.Errorf("link sessions after refused posts: %d (%v), want 0", n, err)
	}
	if err := s.Store.DB().Get(&n, `SELECT count(*) FROM comfort_bounds`); err != nil || n != 0 {
		t.Errorf("comfort bounds after refused posts: %d (%v), want 0", n, err)
	}
}

func TestComfortEditorShowsStaleVersionWithTheFreshValues(t *testing.T) {
	t.Parallel()
	for _, htmx := range []bool{true, false} {
		name := map[bool]string{true: "htmx", false: "plain form"}[htmx]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := handlertest.Start(t)
			u, c := s.MustLogin(t, "stale@example.test", app.RoleCustomer)
			here := handlertest.Get(t, c, s.URL+"/account")
			there := handlertest.Get(t, c, s.URL+"/account")
			first := comfortPost(t, s, c, there, htmx, map[string]string{"indoor_min_c": "17", "indoor_max_c": "20",
				"hot_water_min_c": "45", "hot_water_max_c": "55"})
			if first.Status != map[bool]int{true: 200, false: 303}[htmx] {
				t.Fatalf("first save: got %d", first.Status)
			}
			stale := comfortPost(t, s, c, here, htmx, map[string]string{"indoor_min_c": "21", "indoor_max_c": "24"})
			wantStatus := map[bool]int{true: http.StatusOK, false: http.StatusConflict}[htmx]
			if stale.Status != wantStatus || comfortNotice(stale) != "stale" || !strings.Contains(stale.Body, "changed elsewhere") {
				t.Fatalf("stale save: got %d notice %q, want %d with the stale message", stale.Status, comfortNotice(stale), wantStatus)
			}
			if htmx == strings.Contains(stale.Body, "<html") {
				t.Errorf("stale save: full page %v, want fragment for HTMX only", !htmx)
			}
			for field, want := range map[string]string{"indoor_min_c": "17", "indoor_max_c": "20", "hot_water_max_c": "55", "version": "1"} {
				if got := inputValue(stale, field); got != want {
					t.Errorf("stale save shows %s=%q, want the fresh %q", field, got, want)
				}
			}
			b, _ := s.Store.ComfortBounds(context.Background(), u.NoxUserID)
			if b.Version != 1 || b.IndoorMinC != 17 {
				t.Errorf("bounds after the stale save: got %+v, want version 1 unchanged", b)
			}
		})
	}
}

func TestComfortEditorExplainsInvalidValuesPerField(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	_, c := s.MustLogin(t, "invalid@example.test", app.RoleCustomer)
	dash := handlertest.Get(t, c, s.URL+"/account")
	for _, tc := range []struct {
		name   string
		fields map[string]string
		want   map[string]string // field → part of its message
	}{
		{"both indoor empty", map[string]string{}, map[string]string{"indoor_min_c": "Enter a temperature", "indoor_max_c": "Enter a temperature"}},
		{"not a number", map[string]string{"indoor_min_c": "warm", "indoor_max_c": "22"}, map[string]string{"indoor_min_c": "Enter a number"}},
		{"two decimals", map[string]string{"indoor_min_c": "19.25", "indoor_max_c": "22"}, map[string]string{"indoor_min_c": "at most one decimal"}},
		{"indoor too cold", map[string]string{"indoor_min_c": "4", "indoor_max_c": "22"}, map[string]string{"indoor_min_c": "between 5 and 30"}},
		{"span too small", map[string]string{"indoor_min_c": "21.8", "indoor_max_c": "22"}, map[string]string{"indoor_max_c": "at least 0.5"}},
		{"hot water half filled", map[string]string{"indoor_min_c": "19", "indoor_max_c": "22", "hot_water_min_c": "45"},
			map[string]string{"hot_water_max_c": "leave both hot-water fields empty"}},
		{"hot water too hot", map[string]string{"indoor_min_c": "19", "indoor_max_c": "22", "hot_water_min_c": "45", "hot_water_max_c": "80"},
			map[string]string{"hot_water_max_c": "between 30 and 75"}},
	} {
		for _, htmx := range []bool{true, false} {
			got := comfortPost(t, s, c, dash, htmx, tc.fields)
			wantStatus := map[bool]int{true: http.StatusOK, false: http.StatusUnprocessableEntity}[htmx]
			errs := fieldErrors(got)
			if got.Status != wantStatus || comfortNotice(got) != "invalid" || len(errs) != len(tc.want) {
				t.Errorf("%s (htmx %v): got %d notice %q errors %v, want %d with errors on %v",
					tc.name, htmx, got.Status, comfortNotice(got), errs, wantStatus, tc.want)
				continue
			}
			for field, part := range tc.want {
				if !strings.Contains(errs[field], part) {
					t.Errorf("%s (htmx %v): %s says %q, want it to contain %q", tc.name, htmx, field, errs[field], part)
				}
			}
			for field, v := range tc.fields {
				if inputValue(got, field) != v {
					t.Errorf("%s (htmx %v): %s shows %q, want what was typed %q", tc.name, htmx, field, inputValue(got, field), v)
				}
			}
		}
	}
	var n int
	if err := s.Store.DB().Get(&n, `SELECT count(*) FROM comfort_bounds`); err != nil || n != 0 {
		t.Errorf("comfort bounds after invalid posts: %d (%v), want 0", n, err)
	}
	ok := comfortPost(t, s, c, dash, true, map[string]string{"indoor_min_c": "19.5", "indoor_max_c": "22", "hot_water_min_c": "", "hot_water_max_c": ""})
	if ok.Status != http.StatusOK || comfortNotice(ok) != "saved" || inputValue(ok, "version") != "1" || len(fieldErrors(ok)) != 0 {
		t.Errorf("valid HTMX save: got %d notice %q version %q, want saved inline at version 1", ok.Status, comfortNotice(ok), inputValue(ok, "version"))
	}
}

func TestSupplierScopedCustomerSeesTheirSupplierAndNoLinkButton(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	link := s.MustCreateLink(t, "cust-5")
	s.Walk(t, s.Client(), link["link_url"].(string), "sandbox-heatpump", "user_good", "pass_good", "allow")
	c := s.Client()
	enter := handlertest.Get(t, c, s.MustDashboardURL(t, "cust-5"))
	if enter.Status != http.StatusSeeOther {
		t.Fatalf("enter dashboard: got %d", enter.Status)
	}
	dash := handlertest.Get(t, c, s.URL+"/account")
	sup, err := s.Store.GetSupplier(context.Background(), s.SupplierID)
	if err != nil {
		t.Fatal(err)
	}
	if got := linkedSupplierNames(dash); len(got) != 1 || got[0] != sup.Name {
		t.Errorf("supplier-scoped dashboard suppliers: got %v, want [%s]", got, sup.Name)
	}
	if strings.Contains(dash.Body, `data-action="link-supplier"`) {
		t.Error("supplier-scoped dashboard shows the link-supplier button")
	}
	p := handlertest.PostForm(t, c, s.URL+"/account/suppliers/link", url.Values{"_csrf": {dash.CSRF(t)}})
	if p.Status != http.StatusForbidden {
		t.Errorf("supplier-scoped customer starts a supplier link: got %d, want 403", p.Status)
	}
	if inputValue(dash, "version") != "0" {
		t.Errorf("supplier-scoped customer with a nox user: want the comfort editor at version 0, got %q", inputValue(dash, "version"))
	}
}
