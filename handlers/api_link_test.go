package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"noxportal/app"
	"noxportal/db/dbtest"
	"noxportal/handlers/handlertest"
)

// wantErrorEnvelope checks the API error envelope: exactly success=false,
// a current timestamp and error{code,message} with the given code.
func wantErrorEnvelope(t *testing.T, r handlertest.APIResult, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("status: got %d, want %d (%s)", r.Status, status, r.Raw)
	}
	if got, want := keys(r.Body), "error,success,timestamp"; got != want {
		t.Errorf("envelope keys: got %s, want %s (%s)", got, want, r.Raw)
	}
	if r.Body["success"] != false {
		t.Errorf("success: got %v, want false", r.Body["success"])
	}
	wantNow(t, r.Body["timestamp"])
	e, _ := r.Body["error"].(map[string]any)
	if got, want := keys(e), "code,message"; got != want {
		t.Errorf("error keys: got %s, want %s", got, want)
	}
	if got := r.ErrorCode(); got != code {
		t.Errorf("error.code: got %q, want %q (%s)", got, code, r.Raw)
	}
	if msg, _ := e["message"].(string); msg == "" {
		t.Errorf("error.message is empty")
	}
}

func keys(m map[string]any) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

func wantNow(t *testing.T, ts any) {
	t.Helper()
	f, ok := ts.(float64)
	if d := time.Since(time.Unix(int64(f), 0)); !ok || d > 10*time.Second || d < -10*time.Second {
		t.Errorf("timestamp: got %v, want the current unix time", ts)
	}
}

func sessionRows(t *testing.T, s *handlertest.Server) int {
	t.Helper()
	return count(t, s, `SELECT count(*) FROM link_sessions`)
}

func TestCreateLinkRefusesBadRequestsWithoutWritingASession(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	ctx := context.Background()
	revoked, err := s.Store.CreateAPIKey(ctx, app.APIKeyOwner{SupplierID: s.SupplierID}, "old")
	if err != nil {
		t.Fatal(err)
	}
	var revokedID int64
	if err := s.Store.DB().Get(&revokedID, `SELECT id FROM api_keys WHERE key_hash = $1`, app.HashToken(revoked)); err != nil {
		t.Fatal(err)
	}
	if err := dbtest.RevokeAPIKey(ctx, s.Store, s.SupplierID, revokedID); err != nil {
		t.Fatal(err)
	}
	body := func(redirectURI string) string { return `{"redirect_uri":"` + redirectURI + `","language":"en"}` }
	good := body(s.RedirectURI)
	tests := []struct {
		name     string
		key      string
		userID   string
		body     string
		status   int
		code     string
		contains []string
		idem     string
	}{
		{name: "missing api key", key: "", body: good, status: 401, code: "missing_api_key"},
		{name: "unknown api key", key: "nox_sk_" + strings.Repeat("x", 40), body: good, status: 401, code: "invalid_api_key"},
		{name: "revoked api key", key: revoked, body: good, status: 401, code: "invalid_api_key"},

		{name: "redirect_uri missing", body: `{"language":"en"}`, status: 400, code: "invalid_redirect_uri"},
		{name: "redirect_uri not allowed", body: body("https://evil.example/callback"), status: 400, code: "invalid_redirect_uri"},
		{name: "redirect_uri prefix", body: body("https://supplier.example/callback"), status: 400, code: "invalid_redirect_uri"},
		{name: "redirect_uri suffix", body: body(s.RedirectURI + "x"), status: 400, code: "invalid_redirect_uri"},
		{name: "redirect_uri extra query", body: body(s.RedirectURI + "&next=https://evil.example"), status: 400, code: "invalid_redirect_uri"},
		{name: "redirect_uri host case", body: body("https://SUPPLIER.EXAMPLE/callback?src=nox"), status: 400, code: "invalid_redirect_uri"},
		{name: "redirect_uri path case", body: body("https://supplier.example/CALLBACK?src=nox"), status: 400, code: "invalid_redirect_uri"},
		{name: "redirect_uri other path", body: body("https://supplier.example/other?src=nox"), status: 400, code: "invalid_redirect_uri"},
		{name: "redirect_uri trailing slash", body: body("https://supplier.example/callback/?src=nox"), status: 400, code: "invalid_redirect_uri"},
		{name: "redirect_uri fragment", body: body(s.RedirectURI + "#frag"), status: 400, code: "invalid_redirect_uri"},
		{name: "redirect_uri userinfo", body: body("https://supplier.example@evil.example/callback?src=nox"), status: 400, code: "invalid_redirect_uri"},
		{name: "redirect_uri sub-domain", body: body("https://supplier.example.evil.example/callback?src=nox"), status: 400, code: "invalid_redirect_uri"},
		{name: "redirect_uri loopback other path", body: body("http://127.0.0.1:4000/other"), status: 400, code: "invalid_redirect_uri"},
		{name: "redirect_uri loopback https", body: body("https://127.0.0.1:4000/callback"), status: 400, code: "invalid_redirect_uri"},
		{name: "redirect_uri localhost for 127.0.0.1", body: body("http://localhost:3000/callback"), status: 400, code: "invalid_redirect_uri"},
		{name: "redirect_uri loopback upper-case scheme", body: body("HTTP://127.0.0.1:4444/callback"), status: 400, code: "invalid_redirect_uri"},
		{name: "redirect_uri loopback empty query", body: body("http://127.0.0.1:4444/callback?"), status: 400, code: "invalid_redirect_uri"},
		{name: "redirect_uri loopback empty port", body: body("http://127.0.0.1:/callback"), status: 400, code: "invalid_redirect_uri"},

		{name: "unknown language", body: `{"redirect_uri":"` + s.RedirectURI + `","language":"it"}`, status: 400,
			code: "unsupported_language", contains: []string{"en", "nl", "de", "fr", "es"}},
		{name: "empty language", body: `{"redirect_uri":"` + s.RedirectURI + `","language":""}`, status: 400, code: "unsupported_language"},
		{name: "body over 64 KiB", body: `{"redirect_uri":"` + s.RedirectURI + `","language":"en","brand":"` + strings.Repeat("x", 70*1024) + `"}`,
			status: 413, code: "payload_too_large"},
		{name: "unknown field", body: `{"redirect_uri":"` + s.RedirectURI + `","language":"en","colour":"red"}`, status: 400,
			code: "invalid_body", contains: []string{"colour"}},
		{name: "wrong type", body: `{"redirect_uri":"` + s.RedirectURI + `","language":5}`, status: 400,
			code: "invalid_body", contains: []string{"language"}},
		{name: "empty body", body: "", status: 400, code: "invalid_body"},
		{name: "not json", body: "redirect_uri=x", status: 400, code: "invalid_body"},
		{name: "json array", body: `[]`, status: 400, code: "invalid_body"},
		{name: "two objects", body: good + good, status: 400, code: "invalid_body"},

		{name: "supplier_user_id too long", userID: strings.Repeat("a", 129), body: good, status: 400, code: "invalid_supplier_user_id"},
		{name: "supplier_user_id with encoded slash", userID: "a%2Fb", body: good, status: 400, code: "invalid_supplier_user_id"},
		{name: "supplier_user_id with control character", userID: "a%01b", body: good, status: 400, code: "invalid_supplier_user_id"},
		{name: "supplier_user_id dot", userID: "%2E", body: good, status: 400, code: "invalid_supplier_user_id"},
		{name: "supplier_user_id dot dot", userID: "%2E%2E", body: good, status: 400, code: "invalid_supplier_user_id"},
		{name: "supplier_user_id 129 characters", userID: strings.Repeat("%C3%A9", 129), body: good, status: 400, code: "invalid_supplier_user_id",
			contains: []string{"128 characters"}},
		{name: "Idempotency-Key over 255 characters", body: good, status: 400, code: "invalid_idempotency_key", idem: strings.Repeat("é", 256)},
		{name: "Idempotency-Key not UTF-8", body: good, status: 400, code: "invalid_idempotency_key", idem: "k\xff"},

		{name: "unknown brand", body: `{"redirect_uri":"` + s.RedirectURI + `","language":"en","brand":"acme"}`, status: 400,
			code: "unknown_brand", contains: []string{"sandbox-heatpump"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := tt.key
			if tt.name != "missing api key" && key == "" {
				key = s.APIKey
			}
			userID := tt.userID
			if userID == "" {
				userID = "cust-1"
			}
			var headers []string
			if tt.idem != "" {
				headers = []string{"Idempotency-Key", tt.idem}
			}
			r := s.API(t, "POST", "/users/"+userID+"/link", key, tt.body, headers...)
			wantErrorEnvelope(t, r, tt.status, tt.code)
			msg, _ := r.Body["error"].(map[string]any)["message"].(string)
			for _, c := range tt.contains {
				if !strings.Contains(msg, c) {
					t.Errorf("message %q does not mention %q", msg, c)
				}
			}
			if n := sessionRows(t, s); n != 0 {
				t.Errorf("link_sessions rows: got %d, want 0", n)
			}
		})
	}
}

func TestCreateLinkAcceptsLoopbackRedirectOnAnotherPort(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	for _, uri := range []string{"http://127.0.0.1:3000/callback", "http://127.0.0.1:51999/callback"} {
		r := s.API(t, "POST", "/users/cust-1/link", s.APIKey, `{"redirect_uri":"`+uri+`","language":"en"}`)
		if r.Status != http.StatusOK {
			t.Errorf("%s: got %d %s, want 200", uri, r.Status, r.Raw)
			continue
		}
		if got := sessionOf(t, s, r.Data()["link_token"].(string)).RedirectURI; got != uri {
			t.Errorf("stored redirect_uri: got %s, want %s", got, uri)
		}
	}
}

func TestCreateLinkReturnsTheSpecEnvelope(t *testing.T) {
	t.Parallel()
	for _, ttl := range []time.Duration{15 * time.Minute, 90 * time.Second} {
		t.Run(ttl.String(), func(t *testing.T) {
			t.Parallel()
			s := handlertest.Start(t, func(c *app.Config) { c.Link.SessionTTL = app.Duration(ttl) })
			r := s.API(t, "POST", "/users/cust-1/link", s.APIKey, `{"redirect_uri":"`+s.RedirectURI+`","language":"nl"}`)
			if r.Status != http.StatusOK {
				t.Fatalf("status: got %d %s, want 200", r.Status, r.Raw)
			}
			if got, want := keys(r.Body), "data,success,timestamp"; got != want {
				t.Errorf("envelope keys: got %s, want %s", got, want)
			}
			if r.Body["success"] != true {
				t.Errorf("success: got %v, want true", r.Body["success"])
			}
			wantNow(t, r.Body["timestamp"])
			d := r.Data()
			if got, want := keys(d), "expires_at,link_token,link_url,supplier_id,supplier_user_id"; got != want {
				t.Errorf("data keys: got %s, want %s", got, want)
			}
			token, _ := d["link_token"].(string)
			if len(token) < 32 {
				t.Errorf("link_token %q: want at least 32 characters", token)
			}
			if got, want := d["link_url"], s.URL+"/connect?token="+token; got != want {
				t.Errorf("link_url: got %v, want %s", got, want)
			}
			if got, want := d["supplier_id"], s.SupplierID; got != want {
				t.Errorf("supplier_id: got %v, want %s", got, want)
			}
			if got, want := d["supplier_user_id"], "cust-1"; got != want {
				t.Errorf("supplier_user_id: got %v, want %s", got, want)
			}
			sess := sessionOf(t, s, token)
			if got := sess.ExpiresAt.Sub(sess.CreatedAt); got != ttl {
				t.Errorf("stored expires_at - created_at: got %s, want %s", got, ttl)
			}
			if got, want := int64(d["expires_at"].(float64)), sess.ExpiresAt.Unix(); got != want {
				t.Errorf("expires_at: got %d, want %d (created %d + %s)", got, want, sess.CreatedAt.Unix(), ttl)
			}
			if got, want := int64(d["expires_at"].(float64))-int64(r.Body["timestamp"].(float64)), int64(ttl.Seconds()); got < want-2 || got > want+2 {
				t.Errorf("expires_at - timestamp: got %ds, want %ds", got, want)
			}
			if sess.Status != app.StatusCreated || sess.Language != "nl" || sess.Initiator != app.InitiatorAPI {
				t.Errorf("stored session: got status %s language %s initiator %s, want created nl api", sess.Status, sess.Language, sess.Initiator)
			}
			var plaintext int
			if err := s.Store.DB().Get(&plaintext, `SELECT count(*) FROM link_sessions WHERE row_to_json(link_sessions)::text LIKE '%' || $1 || '%'`,
				token); err != nil || plaintext != 0 {
				t.Errorf("sessions holding the link token in plaintext: got %d (%v), want 0", plaintext, err)
			}
		})
	}
}

func TestIdempotencyKeyReturnsTheSameSessionForTheSameRequest(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	body := `{"redirect_uri":"` + s.RedirectURI + `","language":"en"}`
	first := s.API(t, "POST", "/users/cust-1/link", s.APIKey, body, "Idempotency-Key", "order-42")
	again := s.API(t, "POST", "/users/cust-1/link", s.APIKey, body, "Idempotency-Key", "order-42")
	if first.Status != 200 || again.Status != 200 {
		t.Fatalf("status: got %d and %d, want 200 twice (%s %s)", first.Status, again.Status, first.Raw, again.Raw)
	}
	if got, want := again.Data()["link_token"], first.Data()["link_token"]; got != want {
		t.Errorf("retry link_token: got %v, want %v", got, want)
	}
	if got, want := again.Data()["expires_at"], first.Data()["expires_at"]; got != want {
		t.Errorf("retry expires_at: got %v, want %v", got, want)
	}
	if n := sessionRows(t, s); n != 1 {
		t.Errorf("link_sessions rows: got %d, want 1", n)
	}

	for _, other := range []struct{ path, body string }{
		{"/users/cust-1/link", `{"redirect_uri":"` + s.RedirectURI + `","language":"de"}`},
		{"/users/cust-2/link", body},
		{"/users/cust-1/link", `{"redirect_uri":"` + s.RedirectURI + `","language":"en","brand":"sandbox-heatpump"}`},
	} {
		r := s.API(t, "POST", other.path, s.APIKey, other.body, "Idempotency-Key", "order-42")
		wantErrorEnvelope(t, r, http.StatusUnprocessableEntity, "idempotency_key_reused")
	}
	if n := sessionRows(t, s); n != 1 {
		t.Errorf("link_sessions rows after reuse with other bodies: got %d, want 1", n)
	}

	fresh := s.API(t, "POST", "/users/cust-1/link", s.APIKey, body, "Idempotency-Key", "order-43")
	plain := s.API(t, "POST", "/users/cust-1/link", s.APIKey, body)
	if fresh.Status != 200 || plain.Status != 200 {
		t.Fatalf("status: got %d and %d, want 200", fresh.Status, plain.Status)
	}
	if fresh.Data()["link_token"] == first.Data()["link_token"] || plain.Data()["link_token"] == first.Data()["link_token"] {
		t.Errorf("another key or no key returned the first session's token")
	}
	if n := sessionRows(t, s); n != 3 {
		t.Errorf("link_sessions rows: got %d, want 3", n)
	}
}

func TestIdempotencyKeysAreScopedPerSupplier(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	otherURI := "https://other.example/back"
	otherKey := otherSupplier(t, s, "supplier_other", otherURI)
	a := s.API(t, "POST", "/users/cust-1/link", s.APIKey, `{"redirect_uri":"`+s.RedirectURI+`","language":"en"}`, "Idempotency-Key", "k1")
	b := s.API(t, "POST", "/users/cust-1/link", otherKey, `{"redirect_uri":"`+otherURI+`","language":"en"}`, "Idempotency-Key", "k1")
	if a.Status != 200 || b.Status != 200 {
		t.Fatalf("status: got %d and %d, want 200 twice (%s %s)", a.Status, b.Status, a.Raw, b.Raw)
	}
	if a.Data()["link_token"] == b.Data()["link_token"] {
		t.Errorf("two suppliers with the same Idempotency-Key got the same session")
	}
	if got, want := b.Data()["supplier_id"], "supplier_other"; got != want {
		t.Errorf("supplier_id: got %v, want %s", got, want)
	}
	if n := sessionRows(t, s); n != 2 {
		t.Errorf("link_sessions rows: got %d, want 2", n)
	}
}

func TestShowSupplierUserShowsOnlyTheCallersOwnUser(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	link := s.MustCreateLink(t, "cust-1")
	final := s.Walk(t, s.Client(), link["link_url"].(string), "sandbox-heatpump", "user_good", app.SandboxPassword, "allow")
	noxUserID := query(t, final).Get("nox_user_id")

	r := s.API(t, "GET", "/users/cust-1", s.APIKey, "")
	if r.Status != http.StatusOK {
		t.Fatalf("status: got %d %s, want 200", r.Status, r.Raw)
	}
	d := r.Data()
	if got := d["nox_user_id"]; got != noxUserID {
		t.Errorf("nox_user_id: got %v, want %s", got, noxUserID)
	}
	devices, _ := d["devices"].([]any)
	if len(devices) != 1 {
		t.Fatalf("devices: got %d, want 1 (%s)", len(devices), r.Raw)
	}
	dev := devices[0].(map[string]any)
	wantDevice := app.SandboxDevices("sandbox-heatpump", app.SandboxUsers["user_good"], "heat_pump")[0]
	for k, want := range map[string]string{"device_id": wantDevice.ID, "manufacturer": "sandbox-heatpump", "status": "connected"} {
		if got := dev[k]; got != want {
			t.Errorf("device %s: got %v, want %s", k, got, want)
		}
	}
	sessions, _ := d["link_sessions"].([]any)
	if len(sessions) != 1 {
		t.Fatalf("link_sessions: got %d, want 1 (%s)", len(sessions), r.Raw)
	}
	if got := sessions[0].(map[string]any)["status"]; got != "connected" {
		t.Errorf("session status: got %v, want connected", got)
	}

	otherKey := otherSupplier(t, s, "supplier_other", "https://other.example/back")
	wantErrorEnvelope(t, s.API(t, "GET", "/users/cust-1", otherKey, ""), http.StatusNotFound, "not_found")
	wantErrorEnvelope(t, s.API(t, "GET", "/users/nobody", s.APIKey, ""), http.StatusNotFound, "not_found")
	wantErrorEnvelope(t, s.API(t, "GET", "/users/cust-1", "", ""), http.StatusUnauthorized, "missing_api_key")
}

func TestSupplierUserIDLengthCountsCharactersNotBytes(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	id := strings.Repeat("é", 128) // 128 characters, 256 bytes
	r := s.API(t, "POST", "/users/"+url.PathEscape(id)+"/link", s.APIKey, `{"redirect_uri":"`+s.RedirectURI+`"}`)
	if r.Status != http.StatusOK {
		t.Fatalf("128-character supplier_user_id: got %d %s, want 200", r.Status, r.Raw)
	}
	if got := s.API(t, "GET", "/users/"+url.PathEscape(id), s.APIKey, ""); got.Status != http.StatusOK {
		t.Errorf("reading it back: got %d %s, want 200", got.Status, got.Raw)
	}
}
