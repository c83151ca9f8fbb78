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

// The device choice belongs to the browser that signed in: another browser
// is refused, a device the account does not have is refused with the
// choice kept, and neither changes anything; the user's own cancel ends the
// session as cancelled and drops the kept tokens.
func TestDeviceChoiceRefusesOtherBrowsersAndForeignDevices(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	c := s.Client()
	linkURL := s.MustCreateLink(t, "cust-choice")["link_url"].(string)
	cb := handlertest.Get(t, c, walkToCallback(t, s, c, linkURL, "sandbox-heatpump", "user_multi", "allow"))
	choice := s.Local(cb.Location)
	if cb.Status != http.StatusSeeOther || !strings.HasPrefix(choice, "/connect/devices?choice=") {
		t.Fatalf("callback of a two-device account: got %d to %q, want 303 to the device choice", cb.Status, cb.Location)
	}
	page := handlertest.Get(t, c, s.URL+choice)
	if page.Status != http.StatusOK || page.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("device choice page: got %d (Cache-Control %q), want 200, no-store", page.Status, page.Header.Get("Cache-Control"))
	}
	_, vals := page.FormValues(t, "/connect/devices")

	other := handlertest.Get(t, s.Client(), s.URL+choice)
	if other.Status != http.StatusForbidden {
		t.Errorf("another browser opening the choice: got %d, want 403", other.Status)
	}
	foreign := url.Values{"_csrf": {vals.Get("_csrf")}, "choice": {vals.Get("choice")}, "action": {"link"},
		"device": {sandboxDeviceIDs("user_multi")[0], "SBX-SOMEONE-ELSES-1"}}
	if p := handlertest.PostForm(t, c, s.URL+"/connect/devices", foreign); p.Status != http.StatusUnprocessableEntity {
		t.Errorf("a device the account does not have: got %d, want 422", p.Status)
	}
	if n := count(t, s, `SELECT count(*) FROM devices`); n != 0 {
		t.Errorf("devices after refused choices: %d, want 0", n)
	}
	cancel := url.Values{"_csrf": {vals.Get("_csrf")}, "choice": {vals.Get("choice")}, "action": {"cancel"}}
	done := handlertest.PostForm(t, c, s.URL+"/connect/devices", cancel)
	wantRedirect(t, s, done.Location, map[string]string{"connection_status": "failed", "error": "cancelled"})
	if n := count(t, s, `SELECT count(*) FROM link_device_choices`); n != 0 {
		t.Errorf("kept tokens after the cancel: %d rows, want 0", n)
	}
	if again := handlertest.Get(t, c, s.URL+choice); again.Status != http.StatusNotFound {
		t.Errorf("the choice after the cancel: got %d, want 404", again.Status)
	}
}

// A user who signs in and leaves the device choice does not leave the
// session open for ever: at the deadline the expiry sweep ends it as
// expired after sign-in, drops the kept tokens and tells the supplier
// once.
func TestAbandonedDeviceChoiceEndsAtTheDeadline(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	rec := handlertest.NewReceiver(t, nil)
	s.MustRegisterWebhook(t, s.APIKey, rec)
	c := s.Client()
	link := s.MustCreateLink(t, "cust-left-choice")
	linkURL := link["link_url"].(string)
	cb := handlertest.Get(t, c, walkToCallback(t, s, c, linkURL, "sandbox-heatpump", "user_multi", "allow"))
	if !strings.HasPrefix(s.Local(cb.Location), "/connect/devices?choice=") {
		t.Fatalf("callback of a two-device account: got %d to %q, want the device choice", cb.Status, cb.Location)
	}
	s.ExpireLinkSession(t, link["link_token"].(string))
	if n, err := s.Store.SweepExpiredSessions(context.Background()); err != nil || n != 1 {
		t.Fatalf("expiry sweep: ended %d (%v), want the abandoned choice", n, err)
	}
	if n := count(t, s, `SELECT count(*) FROM link_sessions WHERE status = 'expired' AND failure_reason = 'expired_after_auth'`); n != 1 {
		t.Errorf("sessions expired after sign-in: %d, want 1", n)
	}
	if n := count(t, s, `SELECT count(*) FROM link_device_choices`); n != 0 {
		t.Errorf("kept tokens after the sweep: %d rows, want 0", n)
	}
	got := rec.WaitFor(t, "link.expired", func(ws []handlertest.Webhook) bool {
		return len(handlertest.OfType(ws, app.EventLinkExpired)) == 1
	})
	if n := len(got); n != 1 {
		t.Errorf("webhooks: %d, want only link.expired", n)
	}
}
