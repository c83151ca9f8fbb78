package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"noxportal/app"
	"noxportal/db/dbtest"
	"noxportal/handlers/handlertest"
)

// returnToSupplier follows the expired page's "Return to Test Energy" link
// and checks it lands on the supplier with error=expired.
func returnToSupplier(t *testing.T, s *handlertest.Server, c *http.Client, p handlertest.Page, supplierUserID string) {
	t.Helper()
	a := handlertest.Find(p.Doc, func(n *html.Node) bool {
		return n.Data == "a" && handlertest.Text(n) == "Return to Test Energy"
	})
	if a == nil {
		t.Fatalf("expired page has no \"Return to Test Energy\" link:\n%s", p.Body)
	}
	back := handlertest.Get(t, c, s.URL+handlertest.Attr(a, "href"))
	if back.Status != http.StatusSeeOther {
		t.Fatalf("return link: got %d, want 303", back.Status)
	}
	wantRedirect(t, s, back.Location, map[string]string{"connection_status": "failed", "error": "expired", "supplier_user_id": supplierUserID})
}

func wantEnded(t *testing.T, s *handlertest.Server, token string, status app.SessionStatus, reason string) app.LinkSession {
	t.Helper()
	sess := sessionOf(t, s, token)
	if sess.Status != status || sess.Reason() != reason {
		t.Errorf("session: got %s/%s, want %s/%s", sess.Status, sess.Reason(), status, reason)
	}
	if sess.NoxUserID != nil {
		t.Errorf("session got nox user %s, want none", *sess.NoxUserID)
	}
	events, err := dbtest.SessionEvents(context.Background(), s.Store, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(events); n == 0 || events[n-1].Type != app.EventExpired {
		t.Errorf("events: got %+v, want the last one %q", events, app.EventExpired)
	}
	return sess
}

func TestLinksExpireAtEveryStep(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)

	t.Run("opening after the deadline", func(t *testing.T) {
		t.Parallel()
		c := s.Client()
		link := s.MustCreateLink(t, "cust-open")
		token := tokenOf(t, link["link_url"].(string))
		s.ExpireLinkSession(t, token)
		p := handlertest.Get(t, c, link["link_url"].(string))
		if p.Status != http.StatusGone {
			t.Fatalf("open: got %d, want 410", p.Status)
		}
		if !strings.Contains(handlertest.Text(p.Doc), "expired") {
			t.Errorf("page does not say the link expired:\n%s", p.Body)
		}
		wantEnded(t, s, token, app.StatusExpired, app.ReasonExpired)
		returnToSupplier(t, s, c, p, "cust-open")
	})

	t.Run("selecting a brand after the deadline", func(t *testing.T) {
		t.Parallel()
		c := s.Client()
		link := s.MustCreateLink(t, "cust-brand")
		token := tokenOf(t, link["link_url"].(string))
		page := openLink(t, c, link["link_url"].(string))
		s.ExpireLinkSession(t, token)
		action, vals := page.FormValues(t, "/connect/brand", "brand", "sandbox-heatpump")
		p := handlertest.PostForm(t, c, s.URL+action, vals)
		if p.Status != http.StatusGone || p.Location != "" {
			t.Fatalf("select brand: got %d to %q, want 410 and no redirect", p.Status, p.Location)
		}
		wantEnded(t, s, token, app.StatusExpired, app.ReasonExpired)
		returnToSupplier(t, s, c, p, "cust-brand")
	})

	t.Run("allowing at the manufacturer after the deadline", func(t *testing.T) {
		t.Parallel()
		c := s.Client()
		link := s.MustCreateLink(t, "cust-allow")
		token := tokenOf(t, link["link_url"].(string))
		consent := signIn(t, s, c, selectBrand(t, s, c, openLink(t, c, link["link_url"].(string)), "sandbox-heatpump"), "user_good")
		s.ExpireLinkSession(t, token)
		final := handlertest.Get(t, c, answerConsent(t, s, c, consent, "allow"))
		wantRedirect(t, s, final.Location, map[string]string{"connection_status": "failed", "error": "expired", "supplier_user_id": "cust-allow"})
		wantEnded(t, s, token, app.StatusExpired, app.ReasonExpiredAfterAuth)
		if n := count(t, s, `SELECT count(*) FROM supplier_mappings WHERE supplier_user_id = 'cust-allow'`); n != 0 {
			t.Errorf("mappings: got %d, want 0", n)
		}
	})

	t.Run("denying at the manufacturer after the deadline", func(t *testing.T) {
		t.Parallel()
		c := s.Client()
		link := s.MustCreateLink(t, "cust-deny")
		token := tokenOf(t, link["link_url"].(string))
		consent := signIn(t, s, c, selectBrand(t, s, c, openLink(t, c, link["link_url"].(string)), "sandbox-heatpump"), "user_good")
		s.ExpireLinkSession(t, token)
		final := handlertest.Get(t, c, answerConsent(t, s, c, consent, "deny"))
		wantRedirect(t, s, final.Location, map[string]string{"connection_status": "failed", "error": "expired"})
		wantEnded(t, s, token, app.StatusExpired, app.ReasonExpired)
	})

	t.Run("reopening the link after it expired at the manufacturer", func(t *testing.T) {
		t.Parallel()
		c := s.Client()
		link := s.MustCreateLink(t, "cust-reopen")
		token := tokenOf(t, link["link_url"].(string))
		consent := signIn(t, s, c, selectBrand(t, s, c, openLink(t, c, link["link_url"].(string)), "sandbox-heatpump"), "user_good")
		s.ExpireLinkSession(t, token)
		handlertest.Get(t, c, answerConsent(t, s, c, consent, "allow"))
		p := handlertest.Get(t, c, link["link_url"].(string))
		if p.Status != http.StatusGone {
			t.Fatalf("reopen: got %d, want 410", p.Status)
		}
		returnToSupplier(t, s, c, p, "cust-reopen")
	})
}

func TestCallbackAfterTheSweeperExpiredTheSessionRecordsExpiredAfterAuth(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	c := s.Client()
	link := s.MustCreateLink(t, "cust-1")
	token := tokenOf(t, link["link_url"].(string))
	consent := signIn(t, s, c, selectBrand(t, s, c, openLink(t, c, link["link_url"].(string)), "sandbox-heatpump"), "user_good")
	s.ExpireLinkSession(t, token)
	if n, err := s.Store.SweepExpiredSessions(context.Background()); err != nil || n != 1 {
		t.Fatalf("sweep: got %d (%v), want 1", n, err)
	}
	final := handlertest.Get(t, c, answerConsent(t, s, c, consent, "allow"))
	wantRedirect(t, s, final.Location, map[string]string{"connection_status": "failed", "error": "expired"})
	wantEnded(t, s, token, app.StatusExpired, app.ReasonExpiredAfterAuth)
	if n := count(t, s, `SELECT count(*) FROM nox_users`); n != 0 {
		t.Errorf("nox users: got %d, want 0", n)
	}
}

func TestSweeperExpiresOverdueSessions(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	c := s.Client()
	created := tokenOf(t, s.MustCreateLink(t, "cust-created")["link_url"].(string))
	openedLink := s.MustCreateLink(t, "cust-opened")["link_url"].(string)
	openLink(t, c, openedLink)
	authorizingLink := s.MustCreateLink(t, "cust-authorizing")["link_url"].(string)
	signIn(t, s, c, selectBrand(t, s, c, openLink(t, c, authorizingLink), "sandbox-heatpump"), "user_good")
	tokens := []string{created, tokenOf(t, openedLink), tokenOf(t, authorizingLink)}

	ctx := context.Background()
	if n, err := s.Store.SweepExpiredSessions(ctx); err != nil || n != 0 {
		t.Fatalf("sweep before the deadline: got %d (%v), want 0", n, err)
	}
	for _, tok := range tokens {
		s.ExpireLinkSession(t, tok)
	}
	if n, err := s.Store.SweepExpiredSessions(ctx); err != nil || n != len(tokens) {
		t.Fatalf("sweep: got %d (%v), want %d", n, err, len(tokens))
	}
	for _, tok := range tokens {
		wantEnded(t, s, tok, app.StatusExpired, app.ReasonExpired)
	}
	if n, err := s.Store.SweepExpiredSessions(ctx); err != nil || n != 0 {
		t.Errorf("second sweep: got %d (%v), want 0", n, err)
	}
}

// TestExpiredPageNamesTheLinksOwnLifetime checks that the expired page
// says how long this link was valid (the configured session TTL), in the
// session's language.
func TestExpiredPageNamesTheLinksOwnLifetime(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t, func(c *app.Config) { c.Link.SessionTTL = app.Duration(20 * time.Minute) })
	link := s.MustCreateLink(t, "cust-ttl")
	token := tokenOf(t, link["link_url"].(string))
	// Move the whole session 25 minutes into the past.
	if _, err := s.Store.DB().Exec(`UPDATE link_sessions SET created_at = created_at - interval '25 minutes',
		expires_at = expires_at - interval '25 minutes' WHERE token_hash = $1`, app.HashToken(token)); err != nil {
		t.Fatal(err)
	}
	p := handlertest.Get(t, s.Client(), link["link_url"].(string))
	if p.Status != http.StatusGone {
		t.Fatalf("open: got %d, want 410", p.Status)
	}
	if text := handlertest.Text(p.Doc); !strings.Contains(text, "valid for 20 minutes") || !strings.Contains(text, "Go back to Test Energy") {
		t.Errorf("expired page: want the 20-minute lifetime and the supplier, got:\n%s", text)
	}
}
