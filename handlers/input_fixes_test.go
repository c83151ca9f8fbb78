package handlers_test

import (
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/net/html"

	"noxportal/app"
	"noxportal/handlers/handlertest"
)

func TestConsoleSearchWithoutLetterOrDigitIsRefusedNotScanned(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	// A mapping whose id holds "---": the query is refused rather than
	// answered by scanning every mapping.
	s.Walk(t, s.Client(), s.MustCreateLink(t, "a---b")["link_url"].(string), "sandbox-heatpump", "user_good", app.SandboxPassword, "allow")
	_, agent := s.MustLogin(t, "agent@search.test", app.RoleAgent)
	for _, tt := range []struct {
		q          string
		wantReason string
		wantRows   bool
	}{
		{"---", "needs_letter_or_digit", false},
		{"%%%%", "needs_letter_or_digit", false},
		{"-b", "", false},
		{"a---", "", true},
		{"\xff\x00a---", "", false},
	} {
		t.Run(tt.q, func(t *testing.T) {
			p := handlertest.Get(t, agent, s.URL+"/console?q="+url.QueryEscape(tt.q))
			if p.Status != http.StatusOK {
				t.Fatalf("search %q: got %d, want 200", tt.q, p.Status)
			}
			reason := ""
			if empty := handlertest.Find(p.Doc, func(n *html.Node) bool {
				for _, a := range n.Attr {
					if a.Key == "data-empty-reason" {
						return true
					}
				}
				return false
			}); empty != nil {
				reason = handlertest.Attr(empty, "data-empty-reason")
			}
			if reason != tt.wantReason {
				t.Errorf("search %q: empty reason %q, want %q", tt.q, reason, tt.wantReason)
			}
			hit := handlertest.Find(p.Doc, func(n *html.Node) bool { return handlertest.Attr(n, "data-user") == "a---b" }) != nil
			if hit != tt.wantRows {
				t.Errorf("search %q: found a---b %v, want %v", tt.q, hit, tt.wantRows)
			}
		})
	}
}

func TestSandboxConsentDoubleClickShowsTheSameOutcome(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	for _, decision := range []string{"allow", "deny"} {
		t.Run(decision, func(t *testing.T) {
			c := s.Client()
			link := s.MustCreateLink(t, "cust-dbl-"+decision)
			consent := signIn(t, s, c, selectBrand(t, s, c, openLink(t, c, link["link_url"].(string)), "sandbox-heatpump"), "user_good")
			action, vals := consent.FormValues(t, "/consent")
			vals.Set("decision", decision)
			first := handlertest.PostForm(t, c, s.URL+action, vals)
			second := handlertest.PostForm(t, c, s.URL+action, vals)
			if first.Status != http.StatusSeeOther || second.Status != http.StatusSeeOther || second.Location != first.Location {
				t.Fatalf("double submit: got %d to %q and %d to %q, want the same 303 twice", first.Status, first.Location, second.Status, second.Location)
			}
			final := handlertest.Get(t, c, second.Location)
			want := map[string]string{"connection_status": "connected"}
			if decision == "deny" {
				want = map[string]string{"connection_status": "failed", "error": "access_denied"}
			}
			wantRedirect(t, s, returnFromFailure(t, s, c, final.Location), want)
		})
	}
}
