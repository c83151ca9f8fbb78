package db_test

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	"noxportal/app"
	"noxportal/db"
)

// sessionPlaces returns, per session id, the partition each row of it is in.
func sessionPlaces(t *testing.T, s *db.Store, ids ...string) map[string][]string {
	t.Helper()
	var rows []struct {
		ID   string `db:"id"`
		Part string `db:"part"`
	}
	if err := s.DB().Select(&rows, `SELECT id, tableoid::regclass::text AS part FROM link_sessions WHERE id = ANY($1) ORDER BY 1, 2`,
		pq.Array(ids)); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, r := range rows {
		out[r.ID] = append(out[r.ID], r.Part)
	}
	return out
}

// readersView is what each reader of a session answers: the API (session
// by id, a user with their sessions, an idempotent replay), the hosted flow
// (by token, the used page), the console (a customer's timelines, a
// session's timeline, the queue), the customer's own link and the reports.
type readersView struct {
	ByID, ByToken, Opened app.LinkSession
	User                  app.SupplierUser
	Mapping               app.Mapping
	Timeline              app.SessionTimeline
	Queue                 []app.QueueRow
	Funnel                app.FunnelReport
	Replay                app.LinkSession
	ReplayToken           string
}

func readAll(t *testing.T, s *db.Store, sess app.LinkSession, token string, idem *app.NewLinkSession) readersView {
	t.Helper()
	ctx := context.Background()
	var v readersView
	var err error
	if v.ByID, err = s.GetLinkSession(ctx, sess.ID); err != nil {
		t.Fatalf("by id: %v", err)
	}
	if v.ByToken, err = s.LinkSessionByToken(ctx, token); err != nil {
		t.Fatalf("by token: %v", err)
	}
	if v.Opened, _, err = s.OpenLinkSession(ctx, token, browser); err != nil {
		t.Fatalf("open: %v", err)
	}
	if v.User, err = s.SupplierUser(ctx, "supplier_test", sess.SupplierUserID); err != nil {
		t.Fatalf("supplier user: %v", err)
	}
	if v.Mapping, err = s.GetMapping(ctx, "supplier_test", sess.SupplierUserID); err != nil {
		t.Fatalf("console mapping: %v", err)
	}
	if v.Timeline, err = s.SessionTimeline(ctx, sess.ID); err != nil {
		t.Fatalf("timeline: %v", err)
	}
	if v.Queue, _, err = s.FailedSessions(ctx, app.QueueFilter{}, nil, 50); err != nil {
		t.Fatalf("queue: %v", err)
	}
	day := time.Now().UTC().Truncate(24 * time.Hour)
	if v.Funnel, err = s.ReportFunnel(ctx, app.ReportFilter{From: day.AddDate(0, 0, -2), To: day.AddDate(0, 0, 2)}); err != nil {
		t.Fatalf("reports: %v", err)
	}
	if idem != nil {
		var replayed bool
		if v.Replay, v.ReplayToken, replayed, err = s.CreateLinkSession(ctx, *idem); err != nil || !replayed {
			t.Fatalf("idempotent replay: replayed %v (%v)", replayed, err)
		}
	}
	return v
}

// TestFinishedSessionsMoveAndStayReadable finishes sessions every way a
// session ends, moves them out of the open partition and checks that every
// reader answers exactly as before, that steps on them are refused as
// before, and that the unfinished session stays where it is.
func TestFinishedSessionsMoveAndStayReadable(t *testing.T) {
	s := mustStore(t)
	ctx := context.Background()

	// connected, through the whole flow 1, created under an idempotency key.
	idem := app.NewLinkSession{Kind: app.KindSupplierLink, SupplierID: "supplier_test", SupplierUserID: "cust-done",
		RedirectURI: "https://s.example/cb", Language: "en", Initiator: app.InitiatorAPI, TTL: time.Hour,
		IdempotencyKey: "key-1", RequestHash: app.HashToken("request-1")}
	done, doneToken, _, err := s.CreateLinkSession(ctx, idem)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.OpenLinkSession(ctx, doneToken, browser); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartAuthorization(ctx, done.ID, browser, brand, "state-done", "verifier"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ClaimCallback(ctx, brand, "state-done", true, browser, time.Minute); err != nil {
		t.Fatal(err)
	}
	if done, err = s.CompleteConnection(ctx, connection(done, "dev-1")); err != nil || done.Status != app.StatusConnected {
		t.Fatalf("connect: %s (%v)", done.Status, err)
	}
	// failed: cancelled by its user.
	failed, failedToken := mustCreate(t, s, "cust-failed", time.Hour)
	if _, _, err := s.OpenLinkSession(ctx, failedToken, browser); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartAuthorization(ctx, failed.ID, browser, brand, "state-failed", "verifier"); err != nil {
		t.Fatal(err)
	}
	if failed, err = s.CancelLink(ctx, failed.ID, browser); err != nil || failed.Status != app.StatusFailed {
		t.Fatalf("cancel: %s (%v)", failed.Status, err)
	}
	// expired: by the sweeper.
	expired, expiredToken := mustCreate(t, s, "cust-expired", time.Millisecond)
	time.Sleep(5 * time.Millisecond)
	if n, err := s.SweepExpiredSessions(ctx); err != nil || n != 1 {
		t.Fatalf("sweep: %d (%v)", n, err)
	}
	// open: stays in the open partition.
	open, openToken := mustCreate(t, s, "cust-open", time.Hour)

	// Opened before anything is read, so reading it changes nothing.
	if _, _, err := s.OpenLinkSession(ctx, openToken, browser); err != nil {
		t.Fatal(err)
	}
	type session struct {
		sess  app.LinkSession
		token string
		idem  *app.NewLinkSession
	}
	sessions := []session{{done, doneToken, &idem}, {failed, failedToken, nil}, {expired, expiredToken, nil}, {open, openToken, nil}}
	if _, err := s.FoldReports(ctx); err != nil {
		t.Fatal(err)
	}
	before := map[string]readersView{}
	for _, c := range sessions {
		before[c.sess.ID] = readAll(t, s, c.sess, c.token, c.idem)
	}
	deltas := count(t, s, `SELECT count(*) FROM report_deltas`)

	// Nothing finished long enough ago: nothing moves.
	if n, err := s.MoveFinishedSessions(ctx, time.Now().Add(-db.FinishedSessionsStayOpen)); err != nil || n != 0 {
		t.Fatalf("moved %d sessions finished just now (%v), want none", n, err)
	}
	if n, err := s.MoveFinishedSessions(ctx, time.Now().Add(time.Hour)); err != nil || n != 3 {
		t.Fatalf("moved %d sessions (%v), want the 3 finished", n, err)
	}
	month := "link_sessions_p" + time.Now().UTC().Format("200601")
	places := sessionPlaces(t, s, done.ID, failed.ID, expired.ID, open.ID)
	for id, want := range map[string]string{done.ID: month, failed.ID: month, expired.ID: month, open.ID: "link_sessions_open"} {
		if got := places[id]; len(got) != 1 || got[0] != want {
			t.Errorf("%s is in %v, want %s alone", id, got, want)
		}
	}
	if got := count(t, s, `SELECT count(*) FROM report_deltas`); got != deltas {
		t.Errorf("the move wrote %d report deltas, want none", got-deltas)
	}

	for _, c := range sessions {
		if after := readAll(t, s, c.sess, c.token, c.idem); !reflect.DeepEqual(after, before[c.sess.ID]) {
			t.Errorf("%s (%s) reads differently after the move:\n got %+v\nwant %+v", c.sess.ID, c.sess.Status, after, before[c.sess.ID])
		}
	}
	// Steps on moved sessions are refused as on any finished session.
	if _, err := s.TakeOverLink(ctx, doneToken, app.HashToken("browser-2")); app.ErrorCode(err) != app.ECONFLICT {
		t.Errorf("takeover of a moved connected session: %v, want ECONFLICT", err)
	}
	if _, _, err := s.ClaimCallback(ctx, brand, "state-done", true, browser, time.Minute); app.ErrorCode(err) != app.ECONFLICT ||
		app.ErrorReason(err) != app.ReasonAlreadyUsed {
		t.Errorf("replayed callback of a moved session: %v, want ECONFLICT already_used", err)
	}
	if got, err := s.FailLinkSession(ctx, expired.ID, "cancelled", ""); err != nil || got.Status != app.StatusExpired {
		t.Errorf("failing a moved expired session: %s (%v), want it left expired", got.Status, err)
	}
	// The unfinished session still moves through its steps and, once
	// finished and moved, is read the same.
	if _, err := s.FailLinkSession(ctx, open.ID, "cancelled", ""); err != nil {
		t.Fatal(err)
	}
	if n, err := s.MoveFinishedSessions(ctx, time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Errorf("moved %d (%v), want the session finished last", n, err)
	}
	if got, err := s.LinkSessionByToken(ctx, openToken); err != nil || got.Status != app.StatusFailed {
		t.Errorf("moved cancelled session: %s (%v)", got.Status, err)
	}
	if n := count(t, s, `SELECT count(*) FROM link_sessions_open WHERE finished_at IS NOT NULL`); n != 0 {
		t.Errorf("%d finished sessions left in the open partition", n)
	}
}

// TestMoverKilledMidMoveLosesNothing kills the connection of a move while
// it holds the rows it is moving (it waits for a month partition another
// transaction has locked): every session is still in exactly one place,
// the reports are untouched, and the next run moves them all.
func TestMoverKilledMidMoveLosesNothing(t *testing.T) {
	s := mustStore(t)
	ctx := context.Background()
	var ids []string
	for i := range 40 {
		sess, _ := mustCreate(t, s, "cust-"+string(rune('a'+i%26))+strings.Repeat("x", i/26), time.Hour)
		if _, err := s.FailLinkSession(ctx, sess.ID, "cancelled", ""); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sess.ID)
	}
	if _, err := s.FoldReports(ctx); err != nil {
		t.Fatal(err)
	}
	day := time.Now().UTC().Truncate(24 * time.Hour)
	filter := app.ReportFilter{From: day.AddDate(0, 0, -2), To: day.AddDate(0, 0, 2)}
	report, err := s.ReportFunnel(ctx, filter)
	if err != nil {
		t.Fatal(err)
	}
	deltas := count(t, s, `SELECT count(*) FROM report_deltas`)

	month := "link_sessions_p" + time.Now().UTC().Format("200601")
	blocker, err := s.DB().Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Rollback()
	if _, err := blocker.Exec(`LOCK TABLE ` + month + ` IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var moveErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, moveErr = s.MoveFinishedSessions(ctx, time.Now().Add(time.Hour))
	}()
	// The mover's backend waits for the month's lock, inside its
	// transaction: kill it there, as a process dying mid-move would.
	var pid int
	for deadline := time.Now().Add(20 * time.Second); ; {
		err := s.DB().Get(&pid, `SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%history_month%' LIMIT 1`)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the mover never waited for the month partition: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := s.DB().Exec(`SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if moveErr == nil {
		t.Fatal("the killed move returned no error")
	}
	if err := blocker.Rollback(); err != nil {
		t.Fatal(err)
	}

	places := sessionPlaces(t, s, ids...)
	for _, id := range ids {
		if got := places[id]; len(got) != 1 || got[0] != "link_sessions_open" {
			t.Errorf("after the killed move %s is in %v, want the open partition alone", id, got)
		}
	}
	if got := count(t, s, `SELECT count(*) FROM report_deltas`); got != deltas {
		t.Errorf("report deltas: %d, want %d", got, deltas)
	}
	if n, err := s.MoveFinishedSessions(ctx, time.Now().Add(time.Hour)); err != nil || n != len(ids) {
		t.Fatalf("the next run moved %d (%v), want %d", n, err, len(ids))
	}
	places = sessionPlaces(t, s, ids...)
	for _, id := range ids {
		if got := places[id]; len(got) != 1 || got[0] != month {
			t.Errorf("after the next run %s is in %v, want %s alone", id, got, month)
		}
	}
	if after, err := s.ReportFunnel(ctx, filter); err != nil || !reflect.DeepEqual(after, report) {
		t.Errorf("reports after the moves: %+v (%v), want %+v", after, err, report)
	}
	if got := count(t, s, `SELECT count(*) FROM link_events WHERE session_id = ANY($1)`, pq.Array(ids)); got != 2*len(ids) {
		t.Errorf("%d events of the moved sessions, want %d", got, 2*len(ids))
	}
}

// TestStepWaitingForTheMoverFindsTheMovedSession has a step wait for the
// row lock of a session the mover is moving: when the move commits,
// Postgres refuses the step's lock (the row left the partition), and the
// step runs again and answers from the session in its month.
func TestStepWaitingForTheMoverFindsTheMovedSession(t *testing.T) {
	s := mustStore(t)
	ctx := context.Background()
	sess, token := mustCreate(t, s, "cust-1", time.Hour)
	if _, err := s.FailLinkSession(ctx, sess.ID, "cancelled", ""); err != nil {
		t.Fatal(err)
	}
	mover, err := s.DB().Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer mover.Rollback()
	for _, q := range []string{`SET LOCAL noxportal.skip_report_rollups = on`,
		`UPDATE link_sessions SET history_month = date_trunc('month', created_at AT TIME ZONE 'UTC')::date
		 WHERE history_month = 'infinity' AND id = '` + sess.ID + `'`} {
		if _, err := mover.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.TakeOverLink(ctx, token, app.HashToken("browser-2"))
		done <- err
	}()
	for deadline := time.Now().Add(20 * time.Second); ; {
		if count(t, s, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the step never waited for the moving row")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := mover.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; app.ErrorCode(err) != app.ECONFLICT {
		t.Errorf("takeover of a session moved while it waited: %v, want ECONFLICT (the session is finished)", err)
	}
}
