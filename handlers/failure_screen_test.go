package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"noxportal/handlers/handlertest"
)

// deniedToFailure links supplierUserID, signs in as username, answers the
// consent with decision and returns the browser and the path of the failure
// screen the callback sent it to.
func deniedToFailure(t *testing.T, s *handlertest.Server, supplierUserID, username, decision string) (*http.Client, string) {
	t.Helper()
	c := s.Client()
	link := s.MustCreateLink(t, supplierUserID)
	back := handlertest.Get(t, c, walkToCallback(t, s, c, link["link_url"].(string), "sandbox-heatpump", username, decision))
	failure := s.Local(back.Location)
	if back.Status != http.StatusSeeOther || !strings.HasPrefix(failure, "/connect/failure?state=") {
		t.Fatalf("failed sign-in: got %d to %q, want 303 to the failure screen", back.Status, back.Location)
	}
	return c, failure
}

// A denied sign-in waits on the failure screen: no outcome yet, no
// webhook. Return gives the supplier exactly the redirect of a link with
// the screens off, and one link.failed webhook; the screen is then gone.
// Only the browser that signed in sees the screen, and its forms need the
// CSRF token.
func TestFailureScreenReturnGivesTheSameRedirectAsWithoutIt(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	hooks := handlertest.NewReceiver(t, nil)
	s.MustRegisterWebhook(t, s.APIKey, hooks)

	c, failure := deniedToFailure(t, s, "cust-fs-on", "user_good", "deny")
	page := handlertest.Get(t, c, s.URL+failure)
	if page.Status != http.StatusOK || !strings.Contains(page.Body, `data-failure="access_denied"`) {
		t.Fatalf("failure screen: got %d:\n%s", page.Status, page.Body)
	}
	for _, want := range []string{"You did not allow access at Sandbox Heat Pumps", `data-action="retry"`, `data-action="return"`, "Choose another brand"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("failure screen lacks %q", want)
		}
	}
	if n := count(t, s, `SELECT count(*) FROM link_sessions WHERE status = 'authorizing' AND held_reason = 'access_denied'`); n != 1 {
		t.Errorf("held sessions: %d, want 1", n)
	}
	if n := count(t, s, `SELECT count(*) FROM webhook_deliveries`); n != 0 {
		t.Errorf("webhooks before the user chose: %d, want 0", n)
	}
	// Another browser sees no screen.
	if other := handlertest.Get(t, s.Client(), s.URL+failure); other.Status != http.StatusForbidden {
		t.Errorf("failure screen in another browser: got %d, want 403", other.Status)
	}
	// A form without the CSRF token changes nothing.
	action, vals := page.FormValues(t, "/connect/failure")
	vals.Del("_csrf")
	vals.Set("action", "return")
	if p := handlertest.PostForm(t, c, s.URL+action, vals); p.Status != http.StatusForbidden {
		t.Errorf("return without CSRF: got %d, want 403", p.Status)
	}
	on := s.AnswerFailure(t, c, failure, "return", "")

	c2 := s.Client()
	off := s.MustCreateLink(t, "cust-fs-on", `,"failure_screens":false`)
	straight := handlertest.Get(t, c2, walkToCallback(t, s, c2, off["link_url"].(string), "sandbox-heatpump", "user_good", "deny"))
	if straight.Status != http.StatusSeeOther {
		t.Fatalf("denied callback with the screens off: got %d", straight.Status)
	}
	onURL, _ := url.Parse(on)
	offURL, _ := url.Parse(straight.Location)
	if onURL.Scheme+onURL.Host+onURL.Path != offURL.Scheme+offURL.Host+offURL.Path || onURL.Query().Encode() != offURL.Query().Encode() {
		t.Errorf("Return went to %s, the screens off to %s: want the same redirect", on, straight.Location)
	}
	wantRedirect(t, s, on, map[string]string{"connection_status": "failed", "error": "access_denied", "supplier_user_id": "cust-fs-on"})
	if n := count(t, s, `SELECT count(*) FROM webhook_deliveries WHERE event_type = 'link.failed'`); n != 2 {
		t.Errorf("link.failed webhooks: %d, want one per session", n)
	}
	if p := handlertest.Get(t, c, s.URL+failure); p.Status != http.StatusSeeOther || p.Location != on {
		t.Errorf("the failure screen after Return: got %d to %q, want back to the supplier", p.Status, p.Location)
	}
}

// Try again continues the same session: after a denial and a retry that is
// allowed, the session ends once, connected, with one webhook.
func TestFailureScreenTryAgainEndsWithOneOutcome(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	hooks := handlertest.NewReceiver(t, nil)
	s.MustRegisterWebhook(t, s.APIKey, hooks)
	c, failure := deniedToFailure(t, s, "cust-fs-retry", "user_good", "deny")
	login := s.AnswerFailure(t, c, failure, "retry", "")
	final := handlertest.Get(t, c, answerConsent(t, s, c, signIn(t, s, c, login, "user_good"), "allow"))
	wantRedirect(t, s, final.Location, map[string]string{"connection_status": "connected", "supplier_user_id": "cust-fs-retry"})
	if n := count(t, s, `SELECT count(*) FROM webhook_deliveries`); n != 1 {
		t.Errorf("webhooks: %d, want one (link.connected)", n)
	}
	if n := count(t, s, `SELECT count(*) FROM webhook_deliveries WHERE event_type = 'link.connected'`); n != 1 {
		t.Errorf("link.connected webhooks: %d, want 1", n)
	}
	if n := count(t, s, `SELECT count(*) FROM link_events WHERE type IN ('failure_shown', 'retried')`); n != 2 {
		t.Errorf("failure_shown and retried events: %d, want 2", n)
	}
	// The old screen died with its state.
	if p := handlertest.Get(t, c, s.URL+failure); p.Status != http.StatusNotFound {
		t.Errorf("the failure screen after a retry: got %d, want 404", p.Status)
	}
}

// A user who leaves the failure screen without choosing: the lease sweeper
// ends the session at its deadline with the failure shown, one webhook.
func TestFailureScreenLeftAloneEndsWithTheShownFailure(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	hooks := handlertest.NewReceiver(t, nil)
	s.MustRegisterWebhook(t, s.APIKey, hooks)
	deniedToFailure(t, s, "cust-fs-left", "user_no_devices", "allow")
	if n, err := s.Store.FailAbandonedCallbacks(t.Context()); err != nil || n != 0 {
		t.Fatalf("sweep before the deadline: %d, %v; want nothing ended", n, err)
	}
	if _, err := s.Store.DB().Exec(`UPDATE link_sessions SET expires_at = now() - interval '1 second',
		callback_lease_until = now() - interval '1 second' WHERE held_reason IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Store.FailAbandonedCallbacks(t.Context()); err != nil || n != 1 {
		t.Fatalf("sweep after the deadline: %d, %v; want 1", n, err)
	}
	if n := count(t, s, `SELECT count(*) FROM link_sessions WHERE status = 'failed' AND failure_reason = 'no_devices'
		AND held_reason IS NULL AND supplier_user_id = 'cust-fs-left'`); n != 1 {
		t.Errorf("left sessions ended failed no_devices: %d, want 1", n)
	}
	if n := count(t, s, `SELECT count(*) FROM webhook_deliveries WHERE event_type = 'link.failed'`); n != 1 {
		t.Errorf("link.failed webhooks: %d, want 1", n)
	}
}
