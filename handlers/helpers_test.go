package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"noxportal/app"
	"noxportal/handlers/handlertest"
)

// count runs a SELECT count(*) query on the test server's database.
func count(t *testing.T, s *handlertest.Server, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.Store.DB().Get(&n, query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// sessionOf returns the link session of a link token.
func sessionOf(t *testing.T, s *handlertest.Server, token string) app.LinkSession {
	t.Helper()
	sess, err := s.Store.LinkSessionByToken(context.Background(), token)
	if err != nil {
		t.Fatalf("session of token: %v", err)
	}
	return sess
}

// tokenOf returns the link token of a link_url.
func tokenOf(t *testing.T, linkURL string) string {
	t.Helper()
	u, err := url.Parse(linkURL)
	if err != nil || u.Query().Get("token") == "" {
		t.Fatalf("link_url %q has no token", linkURL)
	}
	return u.Query().Get("token")
}

// query returns the query of a redirect Location.
func query(t *testing.T, location string) url.Values {
	t.Helper()
	u, err := url.Parse(location)
	if err != nil {
		t.Fatalf("parse %q: %v", location, err)
	}
	return u.Query()
}

// wantRedirect checks that location goes to the test supplier's redirect_uri
// with each of the given query parameters.
func wantRedirect(t *testing.T, s *handlertest.Server, location string, want map[string]string) {
	t.Helper()
	if !strings.HasPrefix(location, s.RedirectURI+"&") {
		t.Errorf("redirect: got %q, want the supplier's %s with the outcome appended", location, s.RedirectURI)
	}
	q := query(t, location)
	for k, v := range want {
		if got := q.Get(k); got != v {
			t.Errorf("redirect %s: got %q, want %q (%s)", k, got, v, location)
		}
	}
}

// openLink opens linkURL with c and returns the brand page.
func openLink(t *testing.T, c *http.Client, linkURL string) handlertest.Page {
	t.Helper()
	p := handlertest.Get(t, c, linkURL)
	if p.Status != http.StatusOK {
		t.Fatalf("open link: got %d, want 200:\n%s", p.Status, p.Body)
	}
	return p
}

// selectBrand posts the brand form of the brand page and returns the
// manufacturer's authorize URL it redirects to.
func selectBrand(t *testing.T, s *handlertest.Server, c *http.Client, brandPage handlertest.Page, brand string) string {
	t.Helper()
	action, vals := brandPage.FormValues(t, "/connect/brand", "brand", brand)
	p := handlertest.PostForm(t, c, s.URL+action, vals)
	if p.Status != http.StatusSeeOther {
		t.Fatalf("select brand: got %d, want 303:\n%s", p.Status, p.Body)
	}
	return p.Location
}

// signIn opens the sandbox authorize URL and signs in as username; it
// returns the consent page.
func signIn(t *testing.T, s *handlertest.Server, c *http.Client, authorizeURL, username string) handlertest.Page {
	t.Helper()
	login := handlertest.Get(t, c, authorizeURL)
	if login.Status != http.StatusOK {
		t.Fatalf("sandbox authorize: got %d:\n%s", login.Status, login.Body)
	}
	action, vals := login.FormValues(t, "/login")
	vals.Set("username", username)
	vals.Set("password", app.SandboxPassword)
	consent := handlertest.PostForm(t, c, s.URL+action, vals)
	if consent.Status != http.StatusOK {
		t.Fatalf("sandbox login as %s: got %d", username, consent.Status)
	}
	return consent
}

// answerConsent answers the sandbox consent page and returns the callback
// URL the manufacturer sends the browser to (not followed).
func answerConsent(t *testing.T, s *handlertest.Server, c *http.Client, consent handlertest.Page, decision string) string {
	t.Helper()
	action, vals := consent.FormValues(t, "/consent")
	vals.Set("decision", decision)
	back := handlertest.PostForm(t, c, s.URL+action, vals)
	if back.Status != http.StatusSeeOther || !strings.Contains(back.Location, "/oauth/callback/") {
		t.Fatalf("consent: got %d to %q, want 303 to the callback", back.Status, back.Location)
	}
	return back.Location
}

// walkToCallback goes through the hosted flow up to the manufacturer's
// answer and returns the callback URL without opening it.
func walkToCallback(t *testing.T, s *handlertest.Server, c *http.Client, linkURL, brand, username, decision string) string {
	t.Helper()
	authorize := selectBrand(t, s, c, openLink(t, c, linkURL), brand)
	return answerConsent(t, s, c, signIn(t, s, c, authorize, username), decision)
}

// createLinkAs creates a link with another API key and redirect URI.
func createLinkAs(t *testing.T, s *handlertest.Server, key, supplierUserID, redirectURI string) map[string]any {
	t.Helper()
	r := s.API(t, "POST", "/users/"+supplierUserID+"/link", key, `{"redirect_uri":"`+redirectURI+`","language":"en"}`)
	if r.Status != http.StatusOK {
		t.Fatalf("create link: got %d %s, want 200", r.Status, r.Raw)
	}
	return r.Data()
}

// otherSupplier adds a second supplier and returns its API key.
func otherSupplier(t *testing.T, s *handlertest.Server, id, redirectURI string) string {
	t.Helper()
	ctx := context.Background()
	if err := s.Store.UpsertSupplier(ctx, app.Supplier{ID: id, Name: "Other Energy", RedirectURIs: []string{redirectURI}}); err != nil {
		t.Fatal(err)
	}
	key, err := s.Store.CreateAPIKey(ctx, app.APIKeyOwner{SupplierID: id}, "test")
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// returnFromFailure presses "Return to <supplier>" when location is the
// failure screen, and returns where the browser goes then (location
// itself otherwise).
func returnFromFailure(t *testing.T, s *handlertest.Server, c *http.Client, location string) string {
	t.Helper()
	if local := s.Local(location); strings.HasPrefix(local, "/connect/failure?") {
		return s.AnswerFailure(t, c, local, "return", "")
	}
	return location
}
