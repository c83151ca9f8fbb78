package db_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"noxportal/app"
	"noxportal/db"
)

// TestFoldKilledMidBatchCountsEverythingOnce stops a fold in the middle of
// its batch — its backend terminated, or its statement cancelled — after it
// has taken the pending changes and started writing the rollups, then lets
// the folder run again: the rollups equal an aggregation of the raw
// sessions at every level, so nothing was counted twice or lost. While the
// fold hangs, a second folder (another instance) folds nothing and the
// reports stay exact.
func TestFoldKilledMidBatchCountsEverythingOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(t *testing.T, s *db.Store, pid int, cancel context.CancelFunc)
	}{
		{"backend terminated", func(t *testing.T, s *db.Store, pid int, _ context.CancelFunc) {
			var ok bool
			if err := s.DB().Get(&ok, `SELECT pg_terminate_backend($1)`, pid); err != nil || !ok {
				t.Fatalf("terminate the folding backend %d: ok=%v err=%v", pid, ok, err)
			}
		}},
		{"statement cancelled", func(t *testing.T, _ *db.Store, _ int, cancel context.CancelFunc) { cancel() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustReportStore(t, "sup_a", "sup_b")
			ctx := context.Background()
			loc, _ := time.LoadLocation("Europe/Amsterdam")
			today := app.DayOf(time.Now(), loc)
			create := func(from, to int) []app.LinkSession {
				t.Helper()
				var out []app.LinkSession
				for i := from; i < to; i++ {
					sess, _, _, err := s.CreateLinkSession(ctx, app.NewLinkSession{Kind: app.KindSupplierLink,
						SupplierID: []string{"sup_a", "sup_b"}[i%2], SupplierUserID: fmt.Sprintf("u%d", i),
						RedirectURI: "https://s.example/cb", Language: app.Languages[i%len(app.Languages)],
						Initiator: app.InitiatorAPI, TTL: 15 * time.Minute})
					if err != nil {
						t.Fatal(err)
					}
					out = append(out, sess)
				}
				return out
			}
			// Folded sessions, then changes to some of them (pending
			// changes) and new sessions (past the watermark).
			first := create(0, 60)
			mustFoldAll(t, s)
			for i, sess := range first[:30] {
				reason := []string{app.ReasonCancelled, app.ReasonManufacturerDown}[i%2]
				if _, err := s.FailLinkSession(ctx, sess.ID, reason, ""); err != nil {
					t.Fatal(err)
				}
			}
			create(60, 150)
			var watermark string
			if err := s.DB().Get(&watermark, `SELECT folded_below::text FROM report_watermark`); err != nil {
				t.Fatal(err)
			}

			// Hold a row every fold must write, so the fold stops halfway.
			hold, err := s.DB().BeginTxx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer hold.Rollback()
			if _, err := hold.Exec(`SELECT 1 FROM report_daily WHERE rolled = 15 FOR UPDATE`); err != nil {
				t.Fatal(err)
			}
			foldCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			folded := make(chan error, 1)
			go func() { _, err := s.FoldReports(foldCtx); folded <- err }()
			var pid int
			deadline := time.Now().Add(20 * time.Second)
			for pid == 0 {
				err := s.DB().Get(&pid, `SELECT pid FROM pg_stat_activity
					WHERE datname = current_database() AND pid <> pg_backend_pid()
						AND query LIKE 'SELECT report_fold(%' AND wait_event_type = 'Lock'`)
				if err != nil && time.Now().After(deadline) {
					var seen []string
					_ = s.DB().Select(&seen, `SELECT concat_ws(' | ', pid, state, wait_event_type, wait_event, query) FROM pg_stat_activity
						WHERE datname = current_database() AND pid <> pg_backend_pid()`)
					select {
					case err := <-folded:
						t.Logf("fold returned: %v", err)
					default:
					}
					t.Fatalf("the fold never waited on the held rollup row: %v; backends: %q", err, seen)
				}
				time.Sleep(10 * time.Millisecond)
			}

			// Mid-batch: another folder gets nothing to do, readers are exact.
			if n, err := s.FoldReports(ctx); err != nil || n != 0 {
				t.Errorf("second folder while one runs: n=%d err=%v, want 0 and no error", n, err)
			}
			var raw int64
			if err := s.DB().Get(&raw, `SELECT count(*) FROM link_sessions`); err != nil {
				t.Fatal(err)
			}
			funnel, err := s.ReportFunnel(ctx, app.ReportFilter{From: today, To: today})
			if err != nil {
				t.Fatal(err)
			}
			if funnel.Created != raw || funnel.Pending != raw-30 {
				t.Errorf("report while a fold hangs: created %d, pending %d; want %d, %d", funnel.Created, funnel.Pending, raw, raw-30)
			}

			tc.stop(t, s, pid, cancel)
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				var busy bool
				if err := s.DB().Get(&busy, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active')`, pid); err != nil {
					t.Fatal(err)
				}
				if !busy {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the stopped fold is still running")
				}
			}
			// Nothing of the stopped batch is kept (checked while the row is
			// still held, so no other fold can have committed since).
			var after string
			if err := s.DB().Get(&after, `SELECT folded_below::text FROM report_watermark`); err != nil {
				t.Fatal(err)
			}
			if after != watermark {
				t.Errorf("watermark after the stopped fold: %s, want it unchanged at %s", after, watermark)
			}
			var deltas int
			if err := s.DB().Get(&deltas, `SELECT count(*) FROM report_deltas`); err != nil {
				t.Fatal(err)
			}
			if deltas != 60 {
				t.Errorf("pending changes after the stopped fold: %d, want the 60 it had taken back", deltas)
			}
			if err := hold.Rollback(); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-folded:
				// database/sql may retry a statement whose connection was
				// closed; the retry is a restart like any other.
				t.Logf("stopped fold returned: %v", err)
			case <-time.After(20 * time.Second):
				t.Fatal("the stopped fold did not return")
			}

			// More writes, then the folder runs again from the watermark.
			create(150, 170)
			assertRollupsMatchRaw(t, s, loc, "after a fold stopped mid-batch and a restart")
			funnel, err = s.ReportFunnel(ctx, app.ReportFilter{From: today, To: today})
			if err != nil {
				t.Fatal(err)
			}
			if funnel.Created != 170 || funnel.Pending != 140 {
				t.Errorf("report after the restart: created %d, pending %d; want 170, 140", funnel.Created, funnel.Pending)
			}
		})
	}
}
