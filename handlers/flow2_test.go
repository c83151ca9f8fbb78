package handlers_test

import (
	"net/url"
	"strings"
	"testing"

	"noxportal/db/dbtest"
	"noxportal/handlers/handlertest"
)

func mustQuery(t *testing.T, raw string) (string, url.Values) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Scheme + "://" + u.Host + u.Path, u.Query()
}

func TestSupplierLinkFlowConnectsAndReturnsToManufacturer(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	link := s.MustCreateSupplierLink(t, "hp-user-1", "", "HP-1", "HP-2")
	final := s.WalkSupplier(t, s.Client(), link["link_url"].(string), s.Config.Sandbox.Supplier.ID, "user_good", "accept")
	target, q := mustQuery(t, final)
	if want := "https://manufacturer.example/return"; target != want {
		t.Errorf("redirect target: got %s, want %s", target, want)
	}
	for k, want := range map[string]string{"connection_status": "connected", "supplier_id": s.Config.Sandbox.Supplier.ID,
		"manufacturer_user_id": "hp-user-1", "app": "hp"} {
		if got := q.Get(k); got != want {
			t.Errorf("%s: got %q, want %q (%s)", k, got, want, final)
		}
	}
	if q.Get("nox_user_id") == "" || q.Get("connected_at") == "" {
		t.Fatalf("missing nox_user_id or connected_at in %s", final)
	}
	r := s.API(t, "GET", "/users/SE-1001", s.Config.Sandbox.Supplier.APIKey, "")
	if r.Status != 200 {
		t.Fatalf("supplier reads its user: got %d %s", r.Status, r.Raw)
	}
	if got := r.Data()["nox_user_id"]; got != q.Get("nox_user_id") {
		t.Errorf("supplier's nox_user_id: got %v, want %s", got, q.Get("nox_user_id"))
	}
	if devs, _ := r.Data()["devices"].([]any); len(devs) != 2 {
		t.Errorf("supplier sees %d devices, want 2: %s", len(devs), r.Raw)
	}
}

func TestCreateSupplierLinkRefusesBadRequests(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	ok := func(extra string) string {
		return `{"manufacturer_user_id":"hp-1","redirect_uri":"` + s.ManufacturerRedirectURI + `"` + extra + `}`
	}
	tests := []struct {
		name, key, body string
		status          int
		code            string
	}{
		{"no key", "", ok(""), 401, "missing_api_key"},
		{"supplier key", s.APIKey, ok(""), 403, "manufacturer_key_required"},
		{"redirect not allowed", s.ManufacturerKey, `{"manufacturer_user_id":"hp-1","redirect_uri":"https://manufacturer.example/other"}`, 400, "invalid_redirect_uri"},
		{"redirect prefix", s.ManufacturerKey, `{"manufacturer_user_id":"hp-1","redirect_uri":"` + s.ManufacturerRedirectURI + `x"}`, 400, "invalid_redirect_uri"},
		{"no user", s.ManufacturerKey, `{"redirect_uri":"` + s.ManufacturerRedirectURI + `"}`, 400, "invalid_manufacturer_user_id"},
		{"bad language", s.ManufacturerKey, ok(`,"language":"it"`), 400, "unsupported_language"},
		{"duplicate devices", s.ManufacturerKey, ok(`,"device_ids":["A","A"]`), 400, "invalid_device_ids"},
		{"unknown field", s.ManufacturerKey, ok(`,"supplier_id":"x"`), 400, "invalid_body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.API(t, "POST", "/manufacturer/link-sessions", tt.key, tt.body)
			if r.Status != tt.status || r.ErrorCode() != tt.code {
				t.Errorf("got %d %s, want %d %s", r.Status, r.Raw, tt.status, tt.code)
			}
		})
	}
	r := s.API(t, "POST", "/manufacturer/link-sessions", s.ManufacturerKey, ok(`,"device_ids":["A"],"language":"nl"`))
	d := r.Data()
	if r.Status != 200 || d["link_token"] == "" || d["manufacturer_id"] != s.ManufacturerID || d["manufacturer_user_id"] != "hp-1" {
		t.Fatalf("valid request: got %d %s", r.Status, r.Raw)
	}
	if want := s.URL + "/select-supplier?token=" + d["link_token"].(string); d["link_url"] != want {
		t.Errorf("link_url: got %v, want %s", d["link_url"], want)
	}
}

func TestPostLoginRedirectRefusalsChangeNothing(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	sandboxKey := s.Config.Sandbox.Supplier.APIKey
	link := s.MustCreateSupplierLink(t, "hp-user-1", "", "HP-1")
	c := s.Client()
	login := s.WalkToSupplierTerms(t, c, link["link_url"].(string), s.Config.Sandbox.Supplier.ID, "user_good")
	report := func(state, user string) string { return `{"state":"` + state + `","supplier_user_id":"` + user + `"}` }
	tests := []struct {
		name, key, body string
		status          int
		code            string
	}{
		{"unknown state", sandboxKey, report("not-a-state", "SE-1001"), 404, "unknown_state"},
		{"wrong supplier", s.APIKey, report(login.State, "cust-1"), 403, "wrong_supplier"},
		{"manufacturer key", s.ManufacturerKey, report(login.State, "SE-1001"), 403, "supplier_key_required"},
		{"no state", sandboxKey, `{"supplier_user_id":"SE-1001"}`, 400, "invalid_state"},
		{"bad user id", sandboxKey, report(login.State, "a/b"), 400, "invalid_supplier_user_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.API(t, "POST", "/post-login-redirect", tt.key, tt.body)
			if r.Status != tt.status || r.ErrorCode() != tt.code {
				t.Errorf("got %d %s, want %d %s", r.Status, r.Raw, tt.status, tt.code)
			}
		})
	}
	if r := s.API(t, "GET", "/users/cust-1", s.APIKey, ""); r.Status != 404 {
		t.Errorf("the wrong supplier got a user: %d %s", r.Status, r.Raw)
	}
	final := s.FinishSupplierLogin(t, c, login, "accept")
	if _, q := mustQuery(t, final); q.Get("connection_status") != "connected" {
		t.Fatalf("after the refusals the right supplier still connects: got %s", final)
	}
	r := s.API(t, "POST", "/post-login-redirect", sandboxKey, report(login.State, "SE-1002"))
	if r.Status != 409 || r.ErrorCode() != "already_used" {
		t.Errorf("second report: got %d %s, want 409 already_used", r.Status, r.Raw)
	}
	if r := s.API(t, "GET", "/users/SE-1002", sandboxKey, ""); r.Status != 404 {
		t.Errorf("second report mapped a user: %d %s", r.Status, r.Raw)
	}
}

func TestSupplierLoginAfterDeadlineFailsEvenThoughSupplierSaidYes(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	link := s.MustCreateSupplierLink(t, "hp-late", "", "HP-1")
	c := s.Client()
	login := s.WalkToSupplierTerms(t, c, link["link_url"].(string), s.Config.Sandbox.Supplier.ID, "user_good")
	s.ExpireLinkSession(t, link["link_token"].(string))
	final := s.FinishSupplierLogin(t, c, login, "accept")
	_, q := mustQuery(t, final)
	if q.Get("connection_status") != "failed" || q.Get("error") != "expired" || q.Get("nox_user_id") != "" {
		t.Errorf("redirect: got %s, want connection_status=failed error=expired", final)
	}
	sess, err := s.Store.LinkSessionByToken(t.Context(), link["link_token"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if sess.Status != "expired" || sess.Reason() != "expired_after_auth" {
		t.Errorf("session: got %s/%s, want expired/expired_after_auth", sess.Status, sess.Reason())
	}
	if r := s.API(t, "GET", "/users/SE-1001", s.Config.Sandbox.Supplier.APIKey, ""); r.Status != 404 {
		t.Errorf("a late login mapped the user: %d %s", r.Status, r.Raw)
	}
}

func TestSupplierReturnOutcomes(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	sup := s.Config.Sandbox.Supplier.ID
	t.Run("declined terms fail with access_denied", func(t *testing.T) {
		link := s.MustCreateSupplierLink(t, "hp-decline", "")
		final := s.WalkSupplier(t, s.Client(), link["link_url"].(string), sup, "user_good", "decline")
		if _, q := mustQuery(t, final); q.Get("connection_status") != "failed" || q.Get("error") != "access_denied" || q.Get("supplier_id") != sup {
			t.Errorf("got %s, want failed access_denied with supplier_id", final)
		}
	})
	t.Run("a second return is refused and changes nothing", func(t *testing.T) {
		c := s.Client()
		link := s.MustCreateSupplierLink(t, "hp-twice", "")
		login := s.WalkToSupplierTerms(t, c, link["link_url"].(string), sup, "user_good")
		s.FinishSupplierLogin(t, c, login, "accept")
		sess, err := s.Store.LinkSessionByToken(t.Context(), link["link_token"].(string))
		if err != nil {
			t.Fatal(err)
		}
		before, _ := dbtest.SessionEvents(t.Context(), s.Store, sess.ID)
		again := handlertest.Get(t, c, s.URL+"/connect/supplier/return?state="+login.State)
		if _, q := mustQuery(t, again.Location); again.Status != 303 || q.Get("error") != "already_used" {
			t.Errorf("second return: got %d %s, want 303 with error=already_used", again.Status, again.Location)
		}
		after, _ := dbtest.SessionEvents(t.Context(), s.Store, sess.ID)
		if now, _ := s.Store.LinkSessionByToken(t.Context(), link["link_token"].(string)); now.Status != "connected" || len(after) != len(before) {
			t.Errorf("second return changed the session: %s, %d events, want connected, %d", now.Status, len(after), len(before))
		}
	})
	t.Run("another browser is refused", func(t *testing.T) {
		link := s.MustCreateSupplierLink(t, "hp-browser", "")
		login := s.WalkToSupplierTerms(t, s.Client(), link["link_url"].(string), sup, "user_good")
		p := handlertest.Get(t, s.Client(), s.URL+"/connect/supplier/return?state="+login.State)
		if p.Status != 403 {
			t.Errorf("return in another browser: got %d, want 403", p.Status)
		}
	})
	t.Run("cancel on the selector returns to the manufacturer", func(t *testing.T) {
		c := s.Client()
		link := s.MustCreateSupplierLink(t, "hp-cancel", "")
		p := handlertest.Get(t, c, link["link_url"].(string))
		action, vals := p.FormValues(t, "/connect/cancel")
		back := handlertest.PostForm(t, c, s.URL+action, vals)
		target, q := mustQuery(t, back.Location)
		if back.Status != 303 || target != "https://manufacturer.example/return" || q.Get("error") != "cancelled" ||
			q.Get("manufacturer_user_id") != "hp-cancel" {
			t.Errorf("cancel: got %d %s, want 303 to the manufacturer with error=cancelled", back.Status, back.Location)
		}
		ended := handlertest.Get(t, c, link["link_url"].(string))
		if ended.Status != 200 || !strings.Contains(ended.Body, "Sandbox Heat Pumps") {
			t.Errorf("reopened link: got %d, want the ended page naming the manufacturer", ended.Status)
		}
	})
	t.Run("unknown state is a 400 page", func(t *testing.T) {
		if p := handlertest.Get(t, s.Client(), s.URL+"/connect/supplier/return?state=nope"); p.Status != 400 {
			t.Errorf("got %d, want 400", p.Status)
		}
	})
}

func TestSupplierPairKeepsItsNoxUserAndDevicesJoinIt(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	sup, key := s.Config.Sandbox.Supplier.ID, s.Config.Sandbox.Supplier.APIKey
	walk := func(manufacturerUser, supplierUser, device string) string {
		link := s.MustCreateSupplierLink(t, manufacturerUser, "", device)
		final := s.WalkSupplier(t, s.Client(), link["link_url"].(string), sup, supplierUser, "accept")
		_, q := mustQuery(t, final)
		if q.Get("connection_status") != "connected" {
			t.Fatalf("walk %s/%s: got %s", manufacturerUser, supplierUser, final)
		}
		return q.Get("nox_user_id")
	}
	first := walk("hp-a", "user_good", "HP-A")
	if got := walk("hp-b", "user_good", "HP-B"); got != first {
		t.Errorf("same supplier user from another manufacturer user: got nox user %s, want %s", got, first)
	}
	r := s.API(t, "GET", "/users/SE-1001", key, "")
	var ids []string
	for _, d := range r.Data()["devices"].([]any) {
		ids = append(ids, d.(map[string]any)["device_id"].(string))
	}
	if len(ids) != 2 || ids[0] != "HP-A" || ids[1] != "HP-B" {
		t.Errorf("devices of SE-1001: got %v, want [HP-A HP-B]", ids)
	}
	if got := walk("hp-a", "user_other", "HP-A"); got == first || got == "" {
		t.Errorf("another supplier user of the same manufacturer user: got nox user %q, want a new one (not %s)", got, first)
	}
}
