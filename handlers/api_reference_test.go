package handlers_test

import (
	"bytes"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"noxportal/app"
	"noxportal/handlers/handlertest"
	"noxportal/openapi"
)

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestOpenAPIDocumentIsServedAndRendered: /openapi.json is the published
// document, and /docs/api shows every operation, webhook and error code of
// it on a server-rendered page with no inline script and nothing from
// another origin.
func TestOpenAPIDocumentIsServedAndRendered(t *testing.T) {
	s := handlertest.Start(t)
	resp, body := get(t, s.URL+"/openapi.json")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("/openapi.json: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !bytes.Equal([]byte(body), openapi.JSON()) {
		t.Fatal("/openapi.json is not the embedded document")
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("tools on other origins cannot fetch the document: %v", resp.Header)
	}

	resp, page := get(t, s.URL+"/docs/api")
	if resp.StatusCode != 200 {
		t.Fatalf("/docs/api: %d", resp.StatusCode)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	ref := openapi.Ref()
	for _, g := range ref.Groups {
		for _, op := range g.Operations {
			if !strings.Contains(page, `data-operation="`+op.ID+`"`) || !strings.Contains(page, op.Path) {
				t.Errorf("page lacks %s %s (%s)", op.Method, op.Path, op.ID)
			}
		}
	}
	for _, wh := range ref.Webhooks {
		if !strings.Contains(page, `id="webhook-`+wh.ID+`"`) {
			t.Errorf("page lacks webhook %s", wh.Path)
		}
	}
	for _, h := range []string{app.WebhookSignatureHeader, app.WebhookDeliveryIDHeader} {
		if !strings.Contains(page, h) {
			t.Errorf("page lacks header %s", h)
		}
	}
	for _, code := range openapi.ErrorCodes() {
		if !strings.Contains(page, "<code data-error-code>"+code+"</code>") {
			t.Errorf("page lacks error code %s", code)
		}
	}
	if regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]`).MatchString(page) || strings.Contains(page, "<script>") {
		t.Error("page has an inline script")
	}
	if m := regexp.MustCompile(`(?:src|href)="(?:https?:)?//[^"]*"`).FindString(page); m != "" {
		t.Errorf("page loads from another origin: %s", m)
	}
	// In another language the page chrome is translated; the contract
	// stays as published.
	req, _ := http.NewRequest("GET", s.URL+"/docs/api", nil)
	req.Header.Set("Accept-Language", "de")
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if !strings.Contains(string(b2), "API-Referenz") {
		t.Error("German page is not translated")
	}
}

// TestAPIAnswersItsRareErrorCodesAsDocumented produces the error codes the
// other tests have no reason to: a refused limit, a refused webhook URL, a
// method the route does not have, a per-key rate limit, and a fault on the
// server's side (a table the request needs is gone) — each answered with
// the documented envelope and status, which the contract check validates.
func TestAPIAnswersItsRareErrorCodesAsDocumented(t *testing.T) {
	s := handlertest.Start(t, func(c *app.Config) { c.Security.APIRateLimit = 12 })
	for _, tc := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"GET", "/api/webhooks/deliveries?limit=0", "", 400, "invalid_limit"},
		{"PUT", "/api/webhooks/endpoint", `{"url":"ftp://example.com/hooks"}`, 400, "invalid_webhook_url"},
		{"PUT", "/api/webhooks/endpoint", `{"url":`, 400, "invalid_body"},
		{"GET", "/api/webhooks/endpoint", "", 404, "not_found"},
		{"POST", "/users/u1/link", `{"redirect_uri":"https://elsewhere.example/cb"}`, 400, "invalid_redirect_uri"},
		{"DELETE", "/users/u1/link", "", 405, "method_not_allowed"},
	} {
		r := s.API(t, tc.method, tc.path, s.APIKey, tc.body)
		if r.Status != tc.status || r.ErrorCode() != tc.code {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, r.Status, r.Raw, tc.status, tc.code)
		}
	}
	if _, err := s.Store.DB().Exec(`ALTER TABLE webhook_endpoints RENAME TO webhook_endpoints_gone`); err != nil {
		t.Fatal(err)
	}
	if r := s.API(t, "GET", "/api/webhooks/endpoint", s.APIKey, ""); r.Status != 500 || r.ErrorCode() != "internal_error" {
		t.Errorf("missing table: %d %s, want 500 internal_error", r.Status, r.Raw)
	}
	if !strings.Contains(s.Logs(), "request failed") {
		t.Error("a server fault is not logged")
	}
	var last handlertest.APIResult
	for range 12 {
		if last = s.API(t, "GET", "/users/u1", s.APIKey, ""); last.Status == 429 {
			break
		}
	}
	if last.Status != 429 || last.ErrorCode() != "rate_limited" || last.Header.Get("Retry-After") == "" {
		t.Errorf("over the per-key limit: %d %s", last.Status, last.Raw)
	}
}

// TestPostLoginReportAfterTheDeadlineIsExpired produces the conflict of
// POST /post-login-redirect only a supplier's own server meets: a report
// after the session's deadline is 409 expired.
func TestPostLoginReportAfterTheDeadlineIsExpired(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	key, supplier := s.Config.Sandbox.Supplier.APIKey, s.Config.Sandbox.Supplier.ID
	late := s.MustCreateSupplierLink(t, "hp-late", "", "HP-L1")
	l := s.WalkToSupplierTerms(t, s.Client(), late["link_url"].(string), supplier, "user_good")
	s.ExpireLinkSession(t, late["link_token"].(string))
	if r := s.API(t, "POST", "/post-login-redirect", key, `{"state":"`+l.State+`","supplier_user_id":"late-1"}`); r.Status != 409 || r.ErrorCode() != "expired" {
		t.Errorf("report after the deadline: %d %s, want 409 expired", r.Status, r.Raw)
	}
}

// TestPostLoginReportOfAnAccountOfAnotherCustomerIsAlreadyLinked: a
// customer links the energy supplier from the dashboard, and the
// supplier's server reports a supplier user id that already belongs to
// another NOX user. The answer is 409 already_linked; nothing is mapped and
// the session fails with that reason.
func TestPostLoginReportOfAnAccountOfAnotherCustomerIsAlreadyLinked(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	key, supplier := s.Config.Sandbox.Supplier.APIKey, s.Config.Sandbox.Supplier.ID
	first, c1 := s.MustLogin(t, "first@example.test", app.RoleCustomer)
	linkSupplierFromDashboard(t, s, c1, "user_good", "accept")
	taken := s.API(t, "GET", "/users/SE-1001", key, "")
	if taken.Status != 200 || taken.Data()["nox_user_id"] != first.NoxUserID {
		t.Fatalf("SE-1001 after the first customer linked: %d %s", taken.Status, taken.Raw)
	}

	second, c2 := s.MustLogin(t, "second@example.test", app.RoleCustomer)
	dash := handlertest.Get(t, c2, s.URL+"/account")
	action, vals := dash.FormValues(t, "/account/suppliers/link")
	start := handlertest.PostForm(t, c2, s.URL+action, vals)
	l := s.WalkToSupplierTerms(t, c2, start.Location, supplier, "user_other")
	r := s.API(t, "POST", "/post-login-redirect", key, `{"state":"`+l.State+`","supplier_user_id":"SE-1001"}`)
	if r.Status != 409 || r.ErrorCode() != "already_linked" {
		t.Fatalf("report of another customer's supplier account: %d %s, want 409 already_linked", r.Status, r.Raw)
	}
	if again := s.API(t, "GET", "/users/SE-1001", key, ""); again.Data()["nox_user_id"] != first.NoxUserID {
		t.Errorf("SE-1001 after the refused report: %s, want still %s", again.Raw, first.NoxUserID)
	}
	var mapped int
	if err := s.Store.DB().Get(&mapped, `SELECT count(*) FROM supplier_mappings WHERE nox_user_id = $1`, second.NoxUserID); err != nil || mapped != 0 {
		t.Errorf("second customer's supplier mappings: %d %v, want none", mapped, err)
	}
}
