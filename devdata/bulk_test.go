package devdata_test

import (
	"context"
	"testing"

	"noxportal/db/dbtest"
	"noxportal/devdata"
)

// schemaShape lists the indexes and constraints of the loaded tables.
const schemaShape = `
	SELECT string_agg(x, ',' ORDER BY x) FROM (
		SELECT indexrelid::regclass::text AS x FROM pg_index
		WHERE indrelid::regclass::text IN ('nox_users', 'supplier_mappings', 'devices', 'link_sessions', 'link_events')
		UNION ALL
		SELECT conname || ':' || convalidated FROM pg_constraint
		WHERE conrelid::regclass::text IN ('nox_users', 'supplier_mappings', 'devices', 'link_sessions', 'link_events',
			'manufacturer_grants', 'idempotency_keys')) s`

func TestBulkSeedLoadsConsistentHistoryAndRestoresTheSchema(t *testing.T) {
	ctx := context.Background()
	s := dbtest.MustStore(t)
	var before string
	if err := s.DB().GetContext(ctx, &before, schemaShape); err != nil {
		t.Fatal(err)
	}
	// The second load goes into non-empty tables (no truncate, no FREEZE).
	for run, o := range []devdata.BulkOptions{
		{Mappings: 300, Sessions: 4000, EventDays: 90, Seed: 1},
		{Mappings: 100, Sessions: 1000, Seed: 2},
	} {
		st, err := devdata.Bulk(ctx, s, o)
		if err != nil {
			t.Fatalf("run %d: %v", run+1, err)
		}
		if st.Mappings != int64(o.Mappings) || st.Sessions != int64(o.Sessions) || st.Devices < int64(o.Mappings) || st.Events == 0 {
			t.Errorf("run %d: stats %+v for %+v", run+1, st, o)
		}
	}
	var after string
	if err := s.DB().GetContext(ctx, &after, schemaShape); err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("indexes and constraints after the load:\n got %s\nwant %s", after, before)
	}
	checks := []struct {
		name, query string
		want        int
	}{
		{"mappings", `SELECT count(*) FROM supplier_mappings`, 400},
		{"sessions", `SELECT count(*) FROM link_sessions`, 5000},
		{"statuses seen", `SELECT count(DISTINCT status) FROM link_sessions WHERE status IN ('connected', 'failed', 'expired')`, 3},
		{"failure reasons seen", `SELECT count(DISTINCT failure_reason) FROM link_sessions
			WHERE failure_reason IN ('expired', 'expired_after_auth', 'access_denied', 'manufacturer_error', 'no_devices', 'cancelled')`, 6},
		{"languages seen", `SELECT count(DISTINCT language) FROM link_sessions`, 5},
		{"connected sessions whose nox user is not the mapping of their supplier user", `
			SELECT count(*) FROM link_sessions ls
			LEFT JOIN supplier_mappings m ON m.supplier_id = ls.supplier_id AND m.supplier_user_id = ls.supplier_user_id
			WHERE ls.status = 'connected' AND m.nox_user_id IS DISTINCT FROM ls.nox_user_id`, 0},
		{"timestamps out of order", `
			SELECT count(*) FROM link_sessions WHERE opened_at < created_at OR brand_selected_at < opened_at
			OR callback_at < authorizing_at OR finished_at < coalesce(callback_at, brand_selected_at, opened_at, created_at)
			OR expires_at <> created_at + interval '15 minutes'`, 0},
		{"sessions outside the last 90 days", `SELECT count(*) FROM link_sessions WHERE created_at < now() - interval '90 days 1 hour'`, 0},
		{"sessions of the last 6 days without a created event", `
			SELECT count(*) FROM link_sessions ls WHERE ls.created_at > now() - interval '6 days'
			AND NOT EXISTS (SELECT FROM link_events e WHERE e.session_id = ls.id AND e.type = 'created')`, 0},
		{"connected sessions of the last 6 days without a connected event", `
			SELECT count(*) FROM link_sessions ls WHERE ls.created_at > now() - interval '6 days' AND ls.status = 'connected'
			AND NOT EXISTS (SELECT FROM link_events e WHERE e.session_id = ls.id AND e.type = 'connected')`, 0},
		{"devices shared by two nox users", `
			SELECT least(count(*), 1) FROM (SELECT manufacturer_id, external_id FROM devices
			GROUP BY 1, 2 HAVING count(DISTINCT nox_user_id) > 1) d`, 1},
	}
	for _, c := range checks {
		var got int
		if err := s.DB().GetContext(ctx, &got, c.query); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, got, c.want)
		}
	}
}
