package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"noxportal/app"
	"noxportal/handlers/handlertest"
)

// scanner is a mail link scanner: no cookies, no redirects followed.
func scanner() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func TestScannerGetBeforeTheUserChangesNothingTheUserNeeds(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	link := s.MustCreateLink(t, "cust-1")
	linkURL := link["link_url"].(string)
	for range 3 {
		if p := handlertest.Get(t, scanner(), linkURL); p.Status != http.StatusOK {
			t.Fatalf("scanner GET: got %d, want 200", p.Status)
		}
	}
	if n := count(t, s, `SELECT count(*) FROM link_sessions WHERE browser_hash IS NOT NULL OR state_hash IS NOT NULL`); n != 0 {
		t.Errorf("sessions bound or authorizing after scanner GETs: got %d, want 0", n)
	}
	final := s.Walk(t, s.Client(), linkURL, "sandbox-heatpump", "user_good", "pass_good", "allow")
	wantRedirect(t, s, final, map[string]string{"connection_status": "connected"})
	if n := count(t, s, `SELECT count(*) FROM link_events WHERE type = 'opened'`); n != 1 {
		t.Errorf("opened events: got %d, want 1", n)
	}
}

func TestScannerGetBetweenBrandChoiceAndCallbackDoesNotBreakTheFlow(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	for _, tt := range []struct{ name, extra string }{
		{"brand page", ""},
		{"preselected brand", `,"brand":"sandbox-heatpump"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			user := s.Client()
			link := s.MustCreateLink(t, "cust-"+strings.ReplaceAll(tt.name, " ", "-"), tt.extra)
			linkURL := link["link_url"].(string)
			authorize := selectBrand(t, s, user, openLink(t, user, linkURL), "sandbox-heatpump")
			consent := signIn(t, s, user, authorize, "user_good")
			before := sessionOf(t, s, tokenOf(t, linkURL))
			for _, c := range []*http.Client{scanner(), s.Client()} {
				p := handlertest.Get(t, c, linkURL)
				if p.Status >= 500 || p.Location != "" && strings.Contains(p.Location, "/authorize") {
					t.Errorf("GET from another client mid-flow: got %d to %q, want a page that starts nothing", p.Status, p.Location)
				}
			}
			if after := sessionOf(t, s, tokenOf(t, linkURL)); after.Status != before.Status {
				t.Errorf("status after the scanner: got %s, want %s", after.Status, before.Status)
			}
			final := handlertest.Get(t, user, answerConsent(t, s, user, consent, "allow"))
			wantRedirect(t, s, final.Location, map[string]string{"connection_status": "connected"})
		})
	}
}

func TestSecondBrowserMidFlowSeesTheLinkInUseAndTheFirstCompletes(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	first, second := s.Client(), s.Client()
	link := s.MustCreateLink(t, "cust-1")
	linkURL := link["link_url"].(string)
	authorize := selectBrand(t, s, first, openLink(t, first, linkURL), "sandbox-heatpump")

	p := handlertest.Get(t, second, linkURL)
	if p.Status != http.StatusConflict {
		t.Errorf("second browser: got %d, want 409", p.Status)
	}
	if !strings.Contains(p.Body, "in use in another browser") {
		t.Errorf("second browser page does not say the link is in use elsewhere:\n%s", p.Body)
	}
	p.FormValues(t, "/connect/takeover") // the page offers to continue here
	if handlertest.Find(p.Doc, func(n *html.Node) bool { return handlertest.Attr(n, "action") == "/connect/brand" }) != nil {
		t.Errorf("second browser is offered the brand choice of a link in use elsewhere")
	}

	final := handlertest.Get(t, first, answerConsent(t, s, first, signIn(t, s, first, authorize, "user_good"), "allow"))
	wantRedirect(t, s, final.Location, map[string]string{"connection_status": "connected"})
	if n := count(t, s, `SELECT count(*) FROM link_events WHERE type = 'browser_takeover'`); n != 0 {
		t.Errorf("takeover events without a takeover: got %d, want 0", n)
	}
}

func TestContinueHereMovesTheLinkAndIsRecorded(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	first, second := s.Client(), s.Client()
	link := s.MustCreateLink(t, "cust-1")
	linkURL := link["link_url"].(string)
	callback := walkToCallback(t, s, first, linkURL, "sandbox-heatpump", "user_good", "allow")

	inUse := handlertest.Get(t, second, linkURL)
	action, vals := inUse.FormValues(t, "/connect/takeover")
	moved := handlertest.PostForm(t, second, s.URL+action, vals)
	if moved.Status != http.StatusSeeOther || moved.Location != linkURL {
		t.Fatalf("continue here: got %d to %q, want 303 to the link", moved.Status, moved.Location)
	}
	sess := sessionOf(t, s, tokenOf(t, linkURL))
	if n := count(t, s, `SELECT count(*) FROM link_events WHERE session_id = $1 AND type = 'browser_takeover'`, sess.ID); n != 1 {
		t.Errorf("browser_takeover events: got %d, want 1", n)
	}
	if p := handlertest.Get(t, first, callback); p.Status != http.StatusForbidden {
		t.Errorf("first browser's callback after the takeover: got %d to %q, want 403", p.Status, p.Location)
	} else if !strings.Contains(p.Body, "continue this link in another browser") || strings.Contains(p.Body, "Continue in the same browser") {
		t.Errorf("first browser's callback after the takeover should say the link moved on, got:\n%s", p.Body)
	}
	if p := handlertest.Get(t, first, linkURL); p.Status != http.StatusConflict {
		t.Errorf("first browser after the takeover: got %d, want 409 (in use in another browser)", p.Status)
	}
	final := s.Walk(t, second, linkURL, "sandbox-heatpump", "user_good", "pass_good", "allow")
	wantRedirect(t, s, final, map[string]string{"connection_status": "connected"})
}

func TestTakeoverNeedsTheCSRFToken(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	first, second := s.Client(), s.Client()
	link := s.MustCreateLink(t, "cust-1")
	linkURL := link["link_url"].(string)
	selectBrand(t, s, first, openLink(t, first, linkURL), "sandbox-heatpump")
	action, vals := handlertest.Get(t, second, linkURL).FormValues(t, "/connect/takeover")
	vals.Set("_csrf", "forged")
	if p := handlertest.PostForm(t, second, s.URL+action, vals); p.Status != http.StatusForbidden {
		t.Errorf("takeover with a forged CSRF token: got %d, want 403", p.Status)
	}
	if n := count(t, s, `SELECT count(*) FROM link_events WHERE type = 'browser_takeover'`); n != 0 {
		t.Errorf("takeover events: got %d, want 0", n)
	}
}

// TestCancelFromAnotherBrowserChangesNothing: a browser that does not hold
// the link cannot end it; the one that holds it still can.
func TestCancelFromAnotherBrowserChangesNothing(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	first, second := s.Client(), s.Client()
	link := s.MustCreateLink(t, "cust-1")
	linkURL := link["link_url"].(string)
	selectBrand(t, s, first, openLink(t, first, linkURL), "sandbox-heatpump")

	_, vals := handlertest.Get(t, second, linkURL).FormValues(t, "/connect/takeover")
	p := handlertest.PostForm(t, second, s.URL+"/connect/cancel", vals)
	if p.Status != http.StatusConflict || !strings.Contains(p.Body, "in use in another browser") {
		t.Errorf("cancel from another browser: got %d to %q, want 409 with the in-use page", p.Status, p.Location)
	}
	if sess := sessionOf(t, s, tokenOf(t, linkURL)); sess.Status != app.StatusAuthorizing {
		t.Errorf("status after another browser's cancel: got %s, want authorizing", sess.Status)
	}
	if n := count(t, s, `SELECT count(*) FROM link_events WHERE type = 'failed'`); n != 0 {
		t.Errorf("failed events after another browser's cancel: got %d, want 0", n)
	}

	action, vals := openLink(t, first, linkURL).FormValues(t, "/connect/cancel")
	done := handlertest.PostForm(t, first, s.URL+action, vals)
	wantRedirect(t, s, done.Location, map[string]string{"connection_status": "failed", "error": "cancelled"})
}
