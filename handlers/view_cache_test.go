package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"noxportal/app"
	"noxportal/handlers/handlertest"
)

// Each instance keeps its last read of an opened link session for repeat
// views (db/session_view_cache.go). These tests run two instances on one
// database: a view on one instance must show what the other changed once
// Postgres's announcement of the change has arrived, and what the instance
// itself changed (or the clock ended) at once.

// on returns rawURL (a link or callback URL of any instance) on server s.
func on(s *handlertest.Server, rawURL string) string {
	_, rest, _ := strings.Cut(strings.TrimPrefix(rawURL, "http://"), "/")
	return s.URL + "/" + rest
}

// wantCached views linkURL twice with c on s (the first view may open the
// session) and checks that s now answers its views from the cache.
func wantCached(t *testing.T, s *handlertest.Server, c *http.Client, linkURL string) {
	t.Helper()
	for range 2 {
		if p := handlertest.Get(t, c, on(s, linkURL)); p.Status != http.StatusOK {
			t.Fatalf("view: got %d, want 200:\n%s", p.Status, p.Body)
		}
	}
	if !s.Store.SessionViewCached(app.HashToken(tokenOf(t, linkURL))) {
		t.Fatal("the repeat view was not cached")
	}
}

func TestCachedViewShowsATakeoverOnAnotherInstance(t *testing.T) {
	t.Parallel()
	a := handlertest.Start(t)
	b := a.Peer(t)
	first, second := a.Client(), a.Client()
	linkURL := a.MustCreateLink(t, "cust-takeover")["link_url"].(string)
	// The first browser chooses a brand (binding the link) and views the
	// brand page again on instance A, which caches it.
	selectBrand(t, a, first, openLink(t, first, on(a, linkURL)), "sandbox-heatpump")
	wantCached(t, a, first, linkURL)

	// The second browser takes the link over on instance B.
	inUse := handlertest.Get(t, second, on(b, linkURL))
	if inUse.Status != http.StatusConflict {
		t.Fatalf("second browser on B: got %d, want 409", inUse.Status)
	}
	action, vals := inUse.FormValues(t, "/connect/takeover")
	if p := handlertest.PostForm(t, second, b.URL+action, vals); p.Status != http.StatusSeeOther {
		t.Fatalf("takeover on B: got %d, want 303:\n%s", p.Status, p.Body)
	}
	a.AwaitViewDropped(t, tokenOf(t, linkURL))
	if p := handlertest.Get(t, first, on(a, linkURL)); p.Status != http.StatusConflict || !strings.Contains(p.Body, "in use in another browser") {
		t.Errorf("first browser on A after the takeover on B: got %d, want 409 and the in-use page:\n%s", p.Status, p.Body)
	}
}

func TestCachedViewShowsAFlowCompletedOnAnotherInstance(t *testing.T) {
	t.Parallel()
	a := handlertest.Start(t)
	b := a.Peer(t)
	user := a.Client()
	linkURL := a.MustCreateLink(t, "cust-elsewhere")["link_url"].(string)
	wantCached(t, a, user, linkURL)

	// The whole sign-in runs on instance B.
	callback := walkToCallback(t, b, user, on(b, linkURL), "sandbox-heatpump", "user_good", "allow")
	done := handlertest.Get(t, user, on(b, callback))
	wantRedirect(t, a, done.Location, map[string]string{"connection_status": "connected"})

	a.AwaitViewDropped(t, tokenOf(t, linkURL))
	p := handlertest.Get(t, user, on(a, linkURL))
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "already been used") || strings.Contains(p.Body, "/connect/brand\"") {
		t.Errorf("view on A after the flow ended on B: got %d, want the used page:\n%s", p.Status, p.Body)
	}
}

func TestCachedViewShowsThisInstancesChangeAtOnce(t *testing.T) {
	t.Parallel()
	a := handlertest.Start(t)
	user := a.Client()
	linkURL := a.MustCreateLink(t, "cust-cancel")["link_url"].(string)
	wantCached(t, a, user, linkURL)
	page := handlertest.Get(t, user, on(a, linkURL))
	action, vals := page.FormValues(t, "/connect/cancel")
	if p := handlertest.PostForm(t, user, a.URL+action, vals); p.Status != http.StatusSeeOther {
		t.Fatalf("cancel: got %d, want 303", p.Status)
	}
	// No waiting: the instance that made the change dropped its view when
	// the change committed.
	if p := handlertest.Get(t, user, on(a, linkURL)); p.Status != http.StatusOK || !strings.Contains(p.Body, "already been used") {
		t.Errorf("view right after the cancel: got %d, want the used page:\n%s", p.Status, p.Body)
	}
}

func TestCachedViewExpiresByTheClock(t *testing.T) {
	t.Parallel()
	a := handlertest.Start(t)
	b := a.Peer(t)
	user := a.Client()
	linkURL := a.MustCreateLink(t, "cust-clock")["link_url"].(string)
	handlertest.Get(t, user, on(a, linkURL))
	// The deadline 10 s from now (long enough for the views below on a
	// slow machine); the change drops the cached views, as any change does.
	if _, err := a.Store.DB().Exec(`UPDATE link_sessions SET expires_at = now() + interval '10 seconds' WHERE token_hash = $1`,
		app.HashToken(tokenOf(t, linkURL))); err != nil {
		t.Fatal(err)
	}
	a.AwaitViewDropped(t, tokenOf(t, linkURL))
	b.AwaitViewDropped(t, tokenOf(t, linkURL))
	wantCached(t, a, user, linkURL)
	wantCached(t, b, user, linkURL)
	// Wait for the database's clock to pass the deadline; no sweeper runs
	// in tests and nothing announces the deadline.
	for {
		var past bool
		if err := a.Store.DB().GetContext(context.Background(), &past,
			`SELECT now() > expires_at FROM link_sessions WHERE token_hash = $1`, app.HashToken(tokenOf(t, linkURL))); err != nil {
			t.Fatal(err)
		}
		if past {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, s := range []*handlertest.Server{a, b} {
		if p := handlertest.Get(t, user, on(s, linkURL)); p.Status != http.StatusGone {
			t.Errorf("view after the deadline on %s: got %d, want 410 (the expired page):\n%s", s.URL, p.Status, p.Body)
		}
	}
}
