package handlertest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"noxportal/app"
)

// MustCreateSupplierLink creates a flow-2 session as the sandbox
// manufacturer for manufacturerUserID with the given device ids and
// redirectURI ("" for s.ManufacturerRedirectURI), and returns its data.
func (s *Server) MustCreateSupplierLink(tb testing.TB, manufacturerUserID, redirectURI string, deviceIDs ...string) map[string]any {
	tb.Helper()
	if redirectURI == "" {
		redirectURI = s.ManufacturerRedirectURI
	}
	devs := `[]`
	if len(deviceIDs) > 0 {
		devs = `["` + strings.Join(deviceIDs, `","`) + `"]`
	}
	body := `{"manufacturer_user_id":"` + manufacturerUserID + `","device_ids":` + devs +
		`,"redirect_uri":"` + redirectURI + `","language":"en"}`
	r := s.API(tb, "POST", "/manufacturer/link-sessions", s.ManufacturerKey, body)
	if r.Status != 200 {
		tb.Fatalf("create supplier link: got %d %s, want 200", r.Status, r.Raw)
	}
	return r.Data()
}

// SupplierLogin is a flow-2 walk stopped at the sandbox supplier's terms
// page: State is the one-time state NOX gave the supplier, Terms the page.
type SupplierLogin struct {
	State string
	Terms Page
}

// WalkToSupplierTerms opens a flow-2 link_url like a user without
// JavaScript, picks supplierID on the selector, and signs in at the sandbox
// supplier as username / pass_good.
func (s *Server) WalkToSupplierTerms(tb testing.TB, c *http.Client, linkURL, supplierID, username string) SupplierLogin {
	tb.Helper()
	p := Get(tb, c, linkURL)
	if p.Status != 200 {
		tb.Fatalf("open supplier selector: got %d:\n%s", p.Status, p.Body)
	}
	action, vals := p.FormValues(tb, "/select-supplier", "supplier", supplierID)
	p = PostForm(tb, c, s.URL+action, vals)
	if p.Status != http.StatusSeeOther {
		tb.Fatalf("select supplier: got %d, want 303:\n%s", p.Status, p.Body)
	}
	u, err := url.Parse(p.Location)
	if err != nil {
		tb.Fatal(err)
	}
	login := Get(tb, c, p.Location)
	if login.Status != 200 {
		tb.Fatalf("supplier login page: got %d:\n%s", login.Status, login.Body)
	}
	action, vals = login.FormValues(tb, "/sandbox-supplier/login")
	vals.Set("username", username)
	vals.Set("password", "pass_good")
	terms := PostForm(tb, c, s.URL+action, vals)
	if terms.Status != 200 {
		tb.Fatalf("supplier login as %s: got %d:\n%s", username, terms.Status, terms.Body)
	}
	return SupplierLogin{State: u.Query().Get("state"), Terms: terms}
}

// FinishSupplierLogin answers the sandbox supplier's terms page with
// decision ("accept" or "decline"), follows the way back through NOX and
// returns the final redirect Location (the manufacturer's redirect_uri).
func (s *Server) FinishSupplierLogin(tb testing.TB, c *http.Client, l SupplierLogin, decision string) string {
	tb.Helper()
	action, vals := l.Terms.FormValues(tb, "/sandbox-supplier/terms")
	vals.Set("decision", decision)
	if decision == "accept" {
		vals.Set("accept_terms", "yes")
	}
	back := PostForm(tb, c, s.URL+action, vals)
	if back.Status != http.StatusSeeOther {
		tb.Fatalf("terms: got %d, want 303:\n%s", back.Status, back.Body)
	}
	final := Get(tb, c, back.Location)
	if final.Status != http.StatusSeeOther {
		tb.Fatalf("return from supplier: got %d, want 303:\n%s", final.Status, final.Body)
	}
	return final.Location
}

// WalkSupplier goes through flow 2 from linkURL to the manufacturer's
// redirect: supplier selector, sandbox supplier login as username, terms
// answered with decision. It returns the final redirect Location.
func (s *Server) WalkSupplier(tb testing.TB, c *http.Client, linkURL, supplierID, username, decision string) string {
	tb.Helper()
	return s.FinishSupplierLogin(tb, c, s.WalkToSupplierTerms(tb, c, linkURL, supplierID, username), decision)
}

// ExpireLinkSession moves the deadline of the session of linkToken into the
// past, as if its 15 minutes had run out.
func (s *Server) ExpireLinkSession(tb testing.TB, linkToken string) {
	tb.Helper()
	res, err := s.Store.DB().Exec(`UPDATE link_sessions SET expires_at = now() - interval '1 second'
		WHERE token_hash = sha256(convert_to($1, 'UTF8'))`, linkToken)
	if err != nil {
		tb.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		tb.Fatalf("expire link session: %d rows, want 1", n)
	}
	// A change made outside the server reaches its view cache through
	// Postgres's announcement, as another instance's change would: wait
	// for it, so the next view is the one that must show the change.
	s.AwaitViewDropped(tb, linkToken)
}

// AwaitViewDropped waits until the server holds no cached view of the
// session of linkToken (db/session_view_cache.go).
func (s *Server) AwaitViewDropped(tb testing.TB, linkToken string) {
	tb.Helper()
	for deadline := time.Now().Add(10 * time.Second); s.Store.SessionViewCached(app.HashToken(linkToken)); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatal("the server's cached view of the session was not dropped within 10 s")
		}
	}
}
