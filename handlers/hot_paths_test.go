package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"noxportal/app"
	"noxportal/handlers/handlertest"
)

func TestAPIKeyOverItsLimitGets429WithRetryAfter(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t, func(c *app.Config) { c.Security.APIRateLimit = 2 })
	body := `{"redirect_uri":"` + s.RedirectURI + `"}`
	for i := 1; i <= 2; i++ {
		if r := s.API(t, "POST", "/users/cust-1/link", s.APIKey, body); r.Status != http.StatusOK {
			t.Fatalf("request %d: got %d %s, want 200", i, r.Status, r.Raw)
		}
	}
	if r := s.API(t, "POST", "/users/cust-1/link", "nox_sk_unknown", body); r.Status != http.StatusUnauthorized {
		t.Errorf("unknown key: got %d, want 401", r.Status)
	}
	r := s.API(t, "POST", "/users/cust-1/link", s.APIKey, body)
	if r.Status != http.StatusTooManyRequests || r.ErrorCode() != app.ERATELIMIT {
		t.Fatalf("third request: got %d %s, want 429 %s", r.Status, r.ErrorCode(), app.ERATELIMIT)
	}
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}

func TestViewsNeverBindAndTheFirstBrandChoiceDoes(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	link := s.MustCreateLink(t, "cust-1")["link_url"].(string)
	a, b := s.Client(), s.Client()
	var first handlertest.Page
	for i := 0; i < 3; i++ {
		first = handlertest.Get(t, a, link)
		if first.Status != http.StatusOK {
			t.Fatalf("view %d in browser A: got %d, want 200", i+1, first.Status)
		}
	}
	action, vals := first.FormValues(t, "/connect/brand", "brand", "sandbox-heatpump")
	if p := handlertest.Get(t, b, link); p.Status != http.StatusOK {
		t.Fatalf("view in browser B before any choice: got %d, want 200", p.Status)
	}
	if p := handlertest.PostForm(t, a, s.URL+action, vals); p.Status != http.StatusSeeOther {
		t.Errorf("brand choice from browser A after B viewed the link: got %d, want 303", p.Status)
	}
	if p := handlertest.Get(t, b, link); p.Status != http.StatusConflict {
		t.Errorf("view in browser B after A chose: got %d, want 409 (in use in another browser)", p.Status)
	}
	final := s.Walk(t, a, link, "sandbox-heatpump", "user_good", "pass_good", "allow")
	u, err := url.Parse(final)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Query().Get("connection_status"); got != "connected" {
		t.Errorf("browser A: connection_status %q, want connected (%s)", got, final)
	}
}

func TestLinkCreationChecksRedirectURIAgainstTheKeysSupplier(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	tests := []struct {
		uri        string
		wantStatus int
	}{
		{s.RedirectURI, http.StatusOK},
		{"http://127.0.0.1:3000/callback", http.StatusOK},
		{"https://evil.example/callback", http.StatusBadRequest},
		{s.RedirectURI + "&x=1", http.StatusBadRequest},
	}
	for _, tt := range tests {
		r := s.API(t, "POST", "/users/cust-1/link", s.APIKey, `{"redirect_uri":"`+tt.uri+`"}`)
		if r.Status != tt.wantStatus {
			t.Errorf("redirect_uri %s: got %d %s, want %d", tt.uri, r.Status, r.Raw, tt.wantStatus)
		}
	}
}

func TestBrandPageShowsSupplierAndEveryConfiguredBrand(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	link := s.MustCreateLink(t, "cust-1")["link_url"].(string)
	p := handlertest.Get(t, s.Client(), link)
	if p.Status != http.StatusOK {
		t.Fatalf("brand page: got %d, want 200", p.Status)
	}
	if !strings.Contains(p.Body, "Test Energy") {
		t.Error("brand page does not name the supplier")
	}
	for _, brand := range []string{"sandbox-heatpump", "sandbox-thermostat", "sandbox-charger"} {
		p.FormValues(t, "/connect/brand", "brand", brand)
	}
}
