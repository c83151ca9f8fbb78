package db_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"noxportal/app"
	"noxportal/db/dbtest"
)

// waitFor waits up to 10 s for cond.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10 s: %s", what)
		}
	}
}

// TestViewCacheFollowsTheListener: without a listener nothing is cached;
// with one, a repeat view is cached, a change made outside the store (as
// by another instance) drops it when its announcement arrives, and the
// cache goes off and empty when the listener stops.
func TestViewCacheFollowsTheListener(t *testing.T) {
	s, url := dbtest.MustStoreURL(t)
	ctx := context.Background()
	if err := s.SyncManufacturers(ctx, []app.ManufacturerConfig{{ID: brand, Name: "Sandbox Heat Pumps", Kind: "heat_pump"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpsertSupplier(ctx, app.Supplier{ID: "supplier_test", Name: "Test Energy", RedirectURIs: []string{"https://s.example/cb"}}); err != nil {
		t.Fatal(err)
	}
	_, token := mustCreate(t, s, "cust-cache", time.Hour)
	view := func() app.LinkSession {
		t.Helper()
		sess, _, err := s.OpenLinkSession(ctx, token, browser)
		if err != nil {
			t.Fatal(err)
		}
		return sess
	}
	view()
	view()
	if s.SessionViewCached(app.HashToken(token)) {
		t.Fatal("cached without a listener")
	}

	lctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.ListenSessionChanges(lctx, url, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	waitFor(t, "the listener listens", s.SessionViewsCaching)
	view()
	if !s.SessionViewCached(app.HashToken(token)) {
		t.Fatal("a repeat view with the listener on was not cached")
	}
	// Another instance changes the language.
	other := dbtest.MustStoreOn(t, url)
	sess := view()
	if err := other.SetLinkSessionLanguage(ctx, sess.ID, "de"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the announcement drops the view", func() bool { return !s.SessionViewCached(app.HashToken(token)) })
	if got := view().Language; got != "de" {
		t.Errorf("language after the other instance's change: got %q, want de", got)
	}
	// This instance's own change drops it at once.
	view()
	if err := s.SetLinkSessionLanguage(ctx, sess.ID, "fr"); err != nil {
		t.Fatal(err)
	}
	if got := view().Language; got != "fr" {
		t.Errorf("language right after this instance's change: got %q, want fr", got)
	}
	view()
	stop()
	<-done
	if s.SessionViewsCaching() || s.SessionViewCached(app.HashToken(token)) {
		t.Error("the cache stayed on after the listener stopped")
	}
}
