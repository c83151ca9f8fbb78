package handlertest

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"noxportal/app"
)

// TestPassword is the password of accounts made by MustPortalUser.
const TestPassword = "test-password-1"

// MustPortalUser creates an email + password portal account with
// TestPassword (a customer also gets a nox user).
func (s *Server) MustPortalUser(tb testing.TB, email, role string) app.PortalUser {
	tb.Helper()
	u, err := s.Store.CreatePortalUser(context.Background(), app.NewPortalUser{Email: email, Name: "", Role: role, Password: TestPassword})
	if err != nil {
		tb.Fatalf("create portal user %s: %v", email, err)
	}
	return u
}

// Login signs c in through the login form with email and password (next
// sent as the form's next) and returns the answer to the form post.
func (s *Server) Login(tb testing.TB, c *http.Client, email, password, next string) Page {
	tb.Helper()
	p := Get(tb, c, s.URL+"/login?next="+url.QueryEscape(next))
	if p.Status != http.StatusOK {
		tb.Fatalf("GET /login: got %d, want 200", p.Status)
	}
	_, vals := p.FormValues(tb, "/login")
	vals.Set("email", email)
	vals.Set("password", password)
	return PostForm(tb, c, s.URL+"/login", vals)
}

// MustLogin creates an account with role and returns it with a client
// signed in as it.
func (s *Server) MustLogin(tb testing.TB, email, role string) (app.PortalUser, *http.Client) {
	tb.Helper()
	u := s.MustPortalUser(tb, email, role)
	c := s.Client()
	if p := s.Login(tb, c, email, TestPassword, ""); p.Status != http.StatusSeeOther {
		tb.Fatalf("login %s: got %d, want 303:\n%s", email, p.Status, p.Body)
	}
	return u, c
}

// SessionCookie returns the portal session cookie c holds, or nil.
func (s *Server) SessionCookie(c *http.Client) *http.Cookie {
	u, _ := url.Parse(s.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "nox_session" || ck.Name == "__Host-nox_session" {
			return ck
		}
	}
	return nil
}

// CSRF returns the page's CSRF token (the csrf-token meta tag).
func (p Page) CSRF(tb testing.TB) string {
	tb.Helper()
	m := Find(p.Doc, func(n *html.Node) bool { return n.Data == "meta" && Attr(n, "name") == "csrf-token" })
	if m == nil {
		tb.Fatalf("no csrf-token meta in page (status %d)", p.Status)
	}
	return Attr(m, "content")
}

// MustDashboardURL creates a supplier dashboard session for
// supplierUserID with the test supplier's key and returns its URL.
func (s *Server) MustDashboardURL(tb testing.TB, supplierUserID string) string {
	tb.Helper()
	r := s.API(tb, "POST", "/users/"+url.PathEscape(supplierUserID)+"/dashboard-sessions", s.APIKey, `{"language":"en"}`)
	if r.Status != http.StatusOK {
		tb.Fatalf("create dashboard session: got %d %s, want 200", r.Status, r.Raw)
	}
	u, _ := r.Data()["url"].(string)
	return u
}

// Local returns a redirect Location relative to the server (the path and
// query) when it points at the server, else unchanged.
func (s *Server) Local(location string) string {
	if rest, ok := strings.CutPrefix(location, s.URL); ok && strings.HasPrefix(rest, "/") {
		return rest
	}
	return location
}

// ReadPage reads and parses a response the test made itself (HTMX
// requests with custom headers, for example).
func ReadPage(tb testing.TB, resp *http.Response) Page {
	tb.Helper()
	return readPage(tb, resp)
}
