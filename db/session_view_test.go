package db_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"noxportal/app"
)

// TestOpenLinkSessionReadsWhatTheMappedReadReads: a view's session, scanned
// field by field, equals the session read through the column mapping, in
// every state with nullable fields set or not (opened, authorizing,
// connected with a nox user, failed with a reason), before and after the
// finished sessions move into their months.
func TestOpenLinkSessionReadsWhatTheMappedReadReads(t *testing.T) {
	s := mustStore(t)
	ctx := context.Background()
	_, openedToken := mustCreate(t, s, "cust-opened", time.Hour)
	authz, authzToken := mustCreate(t, s, "cust-authz", time.Hour)
	done, doneToken := mustCreate(t, s, "cust-done", time.Hour)
	failed, failedToken := mustCreate(t, s, "cust-failed", time.Hour)
	for _, tok := range []string{openedToken, authzToken, doneToken, failedToken} {
		if _, _, err := s.OpenLinkSession(ctx, tok, browser); err != nil {
			t.Fatal(err)
		}
	}
	for _, sess := range []app.LinkSession{authz, done, failed} {
		if _, err := s.StartAuthorization(ctx, sess.ID, browser, brand, "state-"+sess.ID, "verifier"); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.ClaimCallback(ctx, brand, "state-"+done.ID, true, browser, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompleteConnection(ctx, connection(done, "dev-1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FailLinkSession(ctx, failed.ID, app.ReasonAccessDenied, "denied"); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		for _, tok := range []string{openedToken, authzToken, doneToken, failedToken} {
			viewed, elsewhere, err := s.OpenLinkSession(ctx, tok, browser)
			if err != nil {
				t.Fatal(err)
			}
			mapped, err := s.LinkSessionByToken(ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			if elsewhere || !reflect.DeepEqual(viewed, mapped) {
				t.Errorf("%s, %s: viewed (elsewhere %v)\n%+v\nmapped\n%+v", when, mapped.Status, elsewhere, viewed, mapped)
			}
		}
	}
	check("open partition")
	if n, err := s.MoveFinishedSessions(ctx, time.Now().Add(time.Hour)); err != nil || n != 2 {
		t.Fatalf("moved %d (%v), want the connected and the failed session", n, err)
	}
	check("finished moved")
	var withReason, withUser int
	if err := s.DB().Get(&withReason, `SELECT count(*) FROM link_sessions WHERE failure_reason IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	if err := s.DB().Get(&withUser, `SELECT count(*) FROM link_sessions WHERE nox_user_id IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	if withReason != 1 || withUser != 1 {
		t.Errorf("%d sessions with a failure reason and %d with a nox user, want 1 and 1 (the fields compared must be set)", withReason, withUser)
	}
}
