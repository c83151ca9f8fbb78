package db_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"noxportal/app"
	"noxportal/db/dbtest"
)

// requestLogPartitions returns the day partitions of api_requests, by name.
func requestLogPartitions(t *testing.T, q interface {
	Select(dest any, query string, args ...any) error
}) []string {
	t.Helper()
	var names []string
	if err := q.Select(&names, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'api_requests'::regclass AND c.relname <> 'api_requests_default' ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	return names
}

func TestRequestLogKeepsDayPartitionsForFourteenDays(t *testing.T) {
	s := dbtest.MustStore(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	if err := s.MaintainRequestLog(ctx, now); err != nil {
		t.Fatal(err)
	}
	want := []string{"api_requests_p20261130", "api_requests_p20261201", "api_requests_p20261202", "api_requests_p20261203"}
	if got := requestLogPartitions(t, s.DB()); !slices.Equal(got, want) {
		t.Fatalf("partitions: got %v, want %v", got, want)
	}
	// A row for a day without its partition yet lands in the default
	// partition and moves into the day's partition once it is made.
	later := now.AddDate(0, 0, 5)
	run := func(rows ...app.APIRequest) {
		t.Helper()
		lctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); s.RunRequestLog(lctx, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
		for _, r := range rows {
			s.RecordAPIRequest(r)
		}
		stop()
		<-done
	}
	run(app.APIRequest{At: later, SupplierID: "sup_a", KeyID: 1, Method: "POST", Route: "/users/:supplier_user_id/link", Status: 200},
		app.APIRequest{At: now, SupplierID: "sup_a", KeyID: 1, Method: "GET", Route: "/users/:supplier_user_id", Status: 404})
	var inDefault int
	if err := s.DB().Get(&inDefault, `SELECT count(*) FROM api_requests_default`); err != nil || inDefault != 1 {
		t.Fatalf("rows in the default partition: got %d (%v), want 1", inDefault, err)
	}
	if err := s.MaintainRequestLog(ctx, later); err != nil {
		t.Fatal(err)
	}
	var moved int
	if err := s.DB().Get(&moved, `SELECT count(*) FROM api_requests_p20261206`); err != nil || moved != 1 {
		t.Errorf("rows moved to the day's partition: got %d (%v), want 1", moved, err)
	}
	if err := s.DB().Get(&inDefault, `SELECT count(*) FROM api_requests_default`); err != nil || inDefault != 0 {
		t.Errorf("rows left in the default partition: got %d (%v), want 0", inDefault, err)
	}
	// Fifteen days on, 1 December's partition is gone with its row.
	if err := s.MaintainRequestLog(ctx, now.AddDate(0, 0, 15)); err != nil {
		t.Fatal(err)
	}
	for _, p := range requestLogPartitions(t, s.DB()) {
		if p <= "api_requests_p20261201" {
			t.Errorf("partition %s outlived the 14 days", p)
		}
	}
	var total int
	if err := s.DB().Get(&total, `SELECT count(*) FROM api_requests WHERE created_at < $1`, now.AddDate(0, 0, 1)); err != nil || total != 0 {
		t.Errorf("rows older than 14 days: got %d (%v), want 0", total, err)
	}
}
