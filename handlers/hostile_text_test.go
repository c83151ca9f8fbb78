package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"noxportal/handlers/handlertest"
)

// eventDetailsAreValid fails when a stored event detail is not valid UTF-8
// or holds a NUL.
func eventDetailsAreValid(t *testing.T, s *handlertest.Server) {
	t.Helper()
	var details []string
	if err := s.Store.DB().Select(&details, `SELECT detail FROM link_events`); err != nil {
		t.Fatal(err)
	}
	for _, d := range details {
		if !utf8.ValidString(d) || strings.ContainsRune(d, 0) || len(d) > 200 {
			t.Errorf("stored event detail %q: want valid UTF-8 without NUL, at most 200 bytes", d)
		}
	}
}

func TestHostileCallbackErrorTextEndsInTheDocumentedRedirect(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	// "authorize error: server_error " is 30 bytes: 168 more put the
	// emoji's 4 bytes across the 200-byte cut.
	tests := []struct{ name, query string }{
		{"invalid byte in the description", "error=server_error&error_description=%FF"},
		{"emoji at the cut", "error=server_error&error_description=" + strings.Repeat("x", 168) + url.QueryEscape("😀") + "tail"},
		{"NUL", "error=server%00error&error_description=a%00b"},
		{"invalid byte in the error", "error=%FF%FE"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := s.Client()
			link := s.MustCreateLink(t, "cust-hostile-"+string(rune('a'+i)))
			callback, err := url.Parse(walkToCallback(t, s, c, link["link_url"].(string), "sandbox-heatpump", "user_good", "allow"))
			if err != nil {
				t.Fatal(err)
			}
			callback.RawQuery = "state=" + url.QueryEscape(callback.Query().Get("state")) + "&" + tt.query
			p := handlertest.Get(t, c, callback.String())
			if p.Status != http.StatusSeeOther {
				t.Fatalf("callback: got %d, want 303 to the supplier:\n%s", p.Status, p.Body)
			}
			wantRedirect(t, s, returnFromFailure(t, s, c, p.Location), map[string]string{"connection_status": "failed", "error": "manufacturer_error"})
		})
	}
	eventDetailsAreValid(t, s)
}

func TestHostileSupplierReturnErrorEndsInTheDocumentedRedirect(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	c := s.Client()
	link := s.MustCreateSupplierLink(t, "hp-hostile", "")
	login := s.WalkToSupplierTerms(t, c, link["link_url"].(string), s.Config.Sandbox.Supplier.ID, "user_good")
	p := handlertest.Get(t, c, s.URL+"/connect/supplier/return?state="+url.QueryEscape(login.State)+"&error=%FF%00"+strings.Repeat("%C3%A9", 60))
	if p.Status != http.StatusSeeOther {
		t.Fatalf("return: got %d, want 303 to the manufacturer:\n%s", p.Status, p.Body)
	}
	target, q := mustQuery(t, p.Location)
	if target != "https://manufacturer.example/return" || q.Get("connection_status") != "failed" || q.Get("error") != "supplier_error" {
		t.Errorf("return: got %s, want the manufacturer's redirect with connection_status=failed, error=supplier_error", p.Location)
	}
	eventDetailsAreValid(t, s)
}
