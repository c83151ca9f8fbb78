package db_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"

	"noxportal/app"
	"noxportal/db"
	"noxportal/db/dbtest"
	"noxportal/migrations"
)

// monthOf returns the first instant (UTC) of the month k months after t's.
func monthOf(t time.Time, k int) time.Time {
	return time.Date(t.UTC().Year(), t.UTC().Month()+time.Month(k), 1, 0, 0, 0, 0, time.UTC)
}

// partitionsOf returns the partitions of a table, by name.
func partitionsOf(t *testing.T, q sqlx.Queryer, table string) []string {
	t.Helper()
	var names []string
	if err := sqlx.Select(q, &names, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = $1::regclass ORDER BY 1`, table); err != nil {
		t.Fatal(err)
	}
	return names
}

// historySums are the count and a checksum of every row of each history
// table, over the columns the tables had before they were partitioned.
func historySums(t *testing.T, q sqlx.Queryer) map[string]string {
	t.Helper()
	out := map[string]string{}
	for table, cols := range map[string]string{
		// The brand_selected status left with migration 00141: a session
		// resting in it (none should) is carried over as opened.
		"link_sessions": `id, token_hash, kind, supplier_id, supplier_user_id, redirect_uri, language, initiator,
			CASE WHEN status = 'brand_selected' THEN 'opened' ELSE status END, failure_reason, manufacturer_id, brand_preselected,
			nox_user_id, state_hash, pkce_verifier_enc, browser_hash, created_at, opened_at, brand_selected_at, authorizing_at,
			callback_at, finished_at, expires_at, portal_user_id, manufacturer_user_id, device_ids, callback_lease_until, created_xid`,
		"link_events":        "id, session_id, type, detail, created_at",
		"webhook_deliveries": "id, endpoint_id, event_id, event_type, body, status, attempts, next_attempt_at, leased_until, last_code, last_error, replay_of, created_at, finished_at",
		"webhook_attempts":   "id, delivery_id, attempt, outcome, status_code, latency_ms, error, signature, created_at",
		"report_deltas":      "day, supplier_id, brand, kind, language, outcome, bucket, sessions, opened, brand_selected, authorizing, created_xid",
	} {
		var sum string
		if err := sqlx.Get(q, &sum, `SELECT count(*) || ':' || coalesce(md5(string_agg(r::text, '|' ORDER BY r::text)), '')
			FROM (SELECT `+cols+` FROM `+table+`) r`); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		out[table] = sum
	}
	return out
}

// seedHistory writes sessions, their events, webhook deliveries with
// attempts (and a replay) and report deltas spread over the eight months
// up to now, with plain SQL that works before and after partitioning.
func seedHistory(t *testing.T, q sqlx.Execer, now time.Time, partitioned bool) {
	t.Helper()
	// After partitioning an attempt names its delivery's creation time too.
	attemptCol, attemptVal := "", ""
	if partitioned {
		attemptCol, attemptVal = ", delivery_created_at", ", d.created_at"
	}
	script := `
		INSERT INTO suppliers (id, name) VALUES ('sup_hist', 'History Energy') ON CONFLICT DO NOTHING;
		INSERT INTO link_sessions (id, token_hash, kind, supplier_id, supplier_user_id, redirect_uri, language, initiator,
			created_at, expires_at)
		SELECT 'ls_hist_' || i, sha256(('tok-' || i)::bytea), 'supplier_link', 'sup_hist', 'u' || (i % 50), 'https://h.example/cb',
			'en', 'api', $1::timestamptz - make_interval(hours => i), $1::timestamptz - make_interval(hours => i) + interval '30 minutes'
		FROM generate_series(1, 5800) i;
		UPDATE link_sessions SET status = 'failed', failure_reason = 'cancelled', finished_at = created_at + interval '5 minutes'
		WHERE id LIKE 'ls_hist_%' AND substring(id FROM 9)::int % 10 <> 0;
		INSERT INTO link_events (session_id, type, detail, created_at)
		SELECT s.id, e.type, 'api', s.created_at + e.after
		FROM link_sessions s, (VALUES ('created', interval '0'), ('opened', interval '2 minutes')) e(type, after)
		WHERE s.id LIKE 'ls_hist_%';
		INSERT INTO webhook_endpoints (supplier_id, url, secret_enc) VALUES ('sup_hist', 'https://h.example/hooks', '\x00')
		ON CONFLICT DO NOTHING;
		INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, body, status, attempts, created_at, finished_at, last_code)
		SELECT 'whd_hist_' || i, e.id, 'evt_hist_' || i, 'link.connected', convert_to('{"n":' || i || '}', 'UTF8'),
			CASE WHEN i = 800 THEN 'pending' ELSE 'succeeded' END, 2,
			$1::timestamptz - make_interval(hours => i * 3),
			CASE WHEN i = 800 THEN NULL ELSE $1::timestamptz - make_interval(hours => i * 3) + interval '1 minute' END,
			CASE WHEN i = 800 THEN NULL ELSE 200 END
		FROM generate_series(1, 1900) i, webhook_endpoints e WHERE e.supplier_id = 'sup_hist';
		INSERT INTO webhook_attempts (delivery_id, attempt, outcome, status_code, latency_ms, error, created_at` + attemptCol + `)
		SELECT d.id, a, CASE WHEN a = 1 THEN 'retry' ELSE 'succeeded' END, CASE WHEN a = 1 THEN 503 ELSE 200 END, 10 * a,
			CASE WHEN a = 1 THEN 'HTTP 503' ELSE '' END, d.created_at + make_interval(secs => a)` + attemptVal + `
		FROM webhook_deliveries d, generate_series(1, 2) a WHERE d.id LIKE 'whd_hist_%' AND d.status = 'succeeded';
		INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, body, replay_of, created_at)
		SELECT 'whd_hist_replay', endpoint_id, event_id, event_type, body, id, $1::timestamptz FROM webhook_deliveries
		WHERE id = 'whd_hist_1800';
		INSERT INTO report_deltas (day, supplier_id, brand, kind, language, outcome, bucket, sessions, opened, brand_selected,
			authorizing, created_xid)
		SELECT current_date - i, 'sup_hist', 'brand_' || (i % 3), 'supplier_link', 'en', 'pending', NULL, 1, 0, 0, 0,
			CASE WHEN i % 2 = 0 THEN NULL ELSE pg_current_xact_id() END
		FROM generate_series(1, 40) i`
	for _, st := range strings.Split(script, ";\n") {
		var args []any
		if strings.Contains(st, "$1") {
			args = append(args, now)
		}
		if _, err := q.Exec(st, args...); err != nil {
			t.Fatalf("%s: %v", st, err)
		}
	}
}

// TestMigrationMovesHistoryIntoMonthPartitions migrates a database of the
// version before partitioning, holding eight months of history, and
// checks that every row is still there, unchanged, in its month's
// partition, and that ids carry on from where they were.
func TestMigrationMovesHistoryIntoMonthPartitions(t *testing.T) {
	ctx := context.Background()
	admin, err := sqlx.Open("postgres", dbtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name := "t_hist_" + strings.ToLower(fmt.Sprint(time.Now().UnixNano()))
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`) })
	u := strings.Replace(dbtest.AdminURL(), "/postgres?", "/"+name+"?", 1)
	d, err := db.Open(ctx, u, 4, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	// Every migration but the partitioning ones (history, then link
	// sessions): the previous version (whatever came after them in number
	// is already applied, as on a database that gets them out of order).
	// A later migration that alters link_sessions was written against the
	// partitioned table, so it comes after them (later).
	before := fstest.MapFS{}
	names, _ := fs.Glob(migrations.FS, "*.sql")
	later := map[string]bool{}
	for _, n := range names {
		if strings.HasPrefix(n, "00140_") || strings.HasPrefix(n, "00141_") {
			continue
		}
		if b, _ := fs.ReadFile(migrations.FS, n); n > "00141_" && strings.Contains(string(b), "ALTER TABLE link_sessions") {
			later[n] = true
			continue
		}
		b, _ := fs.ReadFile(migrations.FS, n)
		before[n] = &fstest.MapFile{Data: b}
	}
	p, err := goose.NewProvider(goose.DialectPostgres, d.DB, before)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	var kind string
	if err := d.Get(&kind, `SELECT relkind::text FROM pg_class WHERE oid = 'link_events'::regclass`); err != nil || kind != "r" {
		t.Fatalf("before the migration link_events is %q (%v), want a plain table", kind, err)
	}
	now := time.Now()
	seedHistory(t, d, now, false)
	if _, err := d.Exec(`UPDATE link_sessions SET status = 'brand_selected', brand_selected_at = created_at WHERE id = 'ls_hist_20'`); err != nil {
		t.Fatal(err)
	}
	var maxEvent int64
	if err := d.Get(&maxEvent, `SELECT max(id) FROM link_events`); err != nil {
		t.Fatal(err)
	}
	want := historySums(t, d)

	applied, err := db.Migrate(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 2+len(later) || !strings.Contains(applied[0], "00140_") || !strings.Contains(applied[1], "00141_") {
		t.Fatalf("applied %v, want the two partitioning migrations and then %v", applied, later)
	}
	if got := historySums(t, d); !maps(got, want) {
		t.Errorf("history after the migration differs:\n got %v\nwant %v", got, want)
	}
	for _, table := range []string{"link_sessions", "link_events", "webhook_deliveries", "webhook_attempts", "report_deltas"} {
		if err := d.Get(&kind, `SELECT relkind::text FROM pg_class WHERE oid = $1::regclass`, table); err != nil || kind != "p" {
			t.Errorf("%s is %q (%v), want partitioned", table, kind, err)
		}
		var inDefault int
		if err := d.Get(&inDefault, `SELECT count(*) FROM `+table+`_default`); err != nil || inDefault != 0 {
			t.Errorf("%s: %d rows (%v) left in the default partition", table, inDefault, err)
		}
		parts := partitionsOf(t, d, table)
		from := -7 // the months of the seed
		if table == "report_deltas" {
			from = -1 // pending deltas are stamped with the migration's time
		}
		for k := from; k <= db.HistoryMonthsAhead; k++ {
			if p := table + "_p" + monthOf(now, k).Format("200601"); !slices.Contains(parts, p) {
				t.Errorf("%s: no partition %s (have %v)", table, p, parts)
			}
		}
	}
	// Each row sits in the partition of its month.
	var misplaced int
	if err := d.Get(&misplaced, `
		SELECT (SELECT count(*) FROM link_events WHERE tableoid::regclass::text <> 'link_events_p' || to_char(created_at AT TIME ZONE 'UTC', 'YYYYMM'))
		     + (SELECT count(*) FROM link_sessions WHERE tableoid::regclass::text <> CASE WHEN finished_at IS NULL THEN 'link_sessions_open'
		        ELSE 'link_sessions_p' || to_char(created_at AT TIME ZONE 'UTC', 'YYYYMM') END)
		     + (SELECT count(*) FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
		        WHERE a.delivery_created_at <> d.created_at
		           OR a.tableoid::regclass::text <> 'webhook_attempts_p' || to_char(d.created_at AT TIME ZONE 'UTC', 'YYYYMM'))`); err != nil || misplaced != 0 {
		t.Errorf("%d rows (%v) outside their month's partition", misplaced, err)
	}
	var next int64
	if err := d.Get(&next, `INSERT INTO link_events (session_id, type) VALUES ('ls_hist_1', 'opened') RETURNING id`); err != nil || next <= maxEvent {
		t.Errorf("a new event got id %d (%v), want past %d", next, err, maxEvent)
	}
	// The foreign keys hold: an attempt of an unknown delivery is refused,
	// and deleting the endpoint takes its deliveries and attempts along.
	if _, err := d.Exec(`INSERT INTO webhook_attempts (delivery_id, delivery_created_at, attempt, outcome, latency_ms)
		VALUES ('whd_none', now(), 1, 'retry', 1)`); err == nil {
		t.Error("an attempt of an unknown delivery was stored")
	}
	if _, err := d.Exec(`DELETE FROM webhook_endpoints WHERE supplier_id = 'sup_hist'`); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := d.Get(&left, `SELECT (SELECT count(*) FROM webhook_deliveries) + (SELECT count(*) FROM webhook_attempts)`); err != nil || left != 0 {
		t.Errorf("%d deliveries and attempts (%v) outlived their endpoint", left, err)
	}
}

func maps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestHistoryMonthsAreMadeAheadAndDroppedPastRetention runs the history
// maintenance over months of history: months ahead are made, a row a
// default partition caught moves to its month, and only the months past
// their retention leave.
func TestHistoryMonthsAreMadeAheadAndDroppedPastRetention(t *testing.T) {
	s := dbtest.MustStore(t)
	ctx := context.Background()
	now := time.Now()
	seedHistory(t, s.DB(), now, true)
	m := func(k int) string { return monthOf(now, k).Format("200601") }
	// An event five months ahead lands in the default partition.
	if _, err := s.DB().Exec(`INSERT INTO link_events (session_id, type, created_at) VALUES ('ls_hist_1', 'opened', $1)`,
		monthOf(now, 5).Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Month -3 keeps one delivery finished a day ago; month -4 one pending.
	if _, err := s.DB().Exec(`UPDATE webhook_deliveries SET finished_at = now() - interval '1 day'
		WHERE id = (SELECT id FROM webhook_deliveries WHERE created_at >= $1 AND created_at < $2 AND status = 'succeeded' LIMIT 1)`,
		monthOf(now, -3), monthOf(now, -2)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(`UPDATE webhook_deliveries SET status = 'pending', finished_at = NULL
		WHERE id = (SELECT id FROM webhook_deliveries WHERE created_at >= $1 AND created_at < $2 AND status = 'succeeded' LIMIT 1)`,
		monthOf(now, -4), monthOf(now, -3)); err != nil {
		t.Fatal(err)
	}
	// Report deltas: month -3 still holds one the fold has not taken,
	// month -2 was emptied by the fold.
	if _, err := s.DB().Exec(`SELECT history_ensure_month($1::date)`, monthOf(now, -2)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(`INSERT INTO report_deltas (day, supplier_id, brand, kind, language, outcome, sessions, opened,
		brand_selected, authorizing, created_at) VALUES (current_date, 'sup_hist', 'b', 'supplier_link', 'en', 'pending', 1, 0, 0, 0, $1)`,
		monthOf(now, -3).Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	// Nine sessions in ten are finished: they move into their months.
	if _, err := s.MoveFinishedSessions(ctx, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	retention := db.HistoryRetention{LinkEvents: 100 * 24 * time.Hour, LinkSessions: 100 * 24 * time.Hour, Webhooks: 30 * 24 * time.Hour}
	ch, err := s.MaintainHistory(ctx, now, retention)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Made == 0 {
		t.Error("no partition made for the month the default partition caught")
	}
	for _, table := range []string{"link_sessions", "link_events", "webhook_deliveries", "webhook_attempts", "report_deltas"} {
		parts := partitionsOf(t, s.DB(), table)
		for k := 0; k <= db.HistoryMonthsAhead; k++ {
			if !slices.Contains(parts, table+"_p"+m(k)) {
				t.Errorf("%s: no partition for month %+d (have %v)", table, k, parts)
			}
		}
	}
	if n := count(t, s, `SELECT count(*) FROM link_events_p`+m(5)); n != 1 {
		t.Errorf("the event of month +5 is in its partition %d times, want once", n)
	}
	if n := count(t, s, `SELECT count(*) FROM link_events_default`); n != 0 {
		t.Errorf("%d rows left in link_events_default", n)
	}
	dropped := map[string]bool{}
	for _, p := range ch.Dropped {
		dropped[p] = true
	}
	for p, want := range map[string]bool{
		// link events: months that ended more than 100 days ago go.
		"link_events_p" + m(-5): true, "link_events_p" + m(-3): false, "link_events_p" + m(-1): false,
		// finished link sessions likewise; the open partition stays.
		"link_sessions_p" + m(-5): true, "link_sessions_p" + m(-3): false, "link_sessions_p" + m(-1): false,
		// webhooks: month -5 goes with its attempts; -4 (a pending
		// delivery), -3 (a delivery finished yesterday) and -1 (recent) stay.
		"webhook_deliveries_p" + m(-5): true, "webhook_attempts_p" + m(-5): true,
		"webhook_deliveries_p" + m(-4): false, "webhook_attempts_p" + m(-4): false,
		"webhook_deliveries_p" + m(-3): false, "webhook_attempts_p" + m(-3): false,
		"webhook_deliveries_p" + m(-1): false,
		// report deltas: an empty past month goes, one still holding deltas
		// stays; the month before this one is always kept (it is made ahead).
		"report_deltas_p" + m(-3): false, "report_deltas_p" + m(-2): true, "report_deltas_p" + m(-1): false,
		"report_deltas_p" + m(0): false,
	} {
		if dropped[p] != want {
			t.Errorf("%s: dropped %v, want %v (dropped %v)", p, dropped[p], want, ch.Dropped)
		}
	}
	// A replay outlives its original's month and still names it.
	var replayOf string
	if err := s.DB().Get(&replayOf, `SELECT replay_of FROM webhook_deliveries WHERE id = 'whd_hist_replay'`); err != nil || replayOf != "whd_hist_1800" {
		t.Errorf("replay: replay_of %q (%v)", replayOf, err)
	}
	if n := count(t, s, `SELECT count(*) FROM webhook_deliveries WHERE id = 'whd_hist_1800'`); n != 0 {
		t.Errorf("the original of month -8 is still there")
	}
	if n := count(t, s, `SELECT count(*) FROM link_sessions WHERE finished_at IS NULL`); n != 580 {
		t.Errorf("%d unfinished sessions left, want all 580", n)
	}
	if !slices.Contains(partitionsOf(t, s.DB(), "link_sessions"), "link_sessions_open") {
		t.Error("the open partition was dropped")
	}
	// Another run changes nothing.
	again, err := s.MaintainHistory(ctx, now, retention)
	if err != nil || again.Made != 0 || len(again.Dropped) != 0 {
		t.Errorf("second run: %+v (%v), want nothing to do", again, err)
	}
}

// planNodes returns the node types and relations of an EXPLAIN (FORMAT
// JSON) plan, depth first.
func planNodes(t *testing.T, s *db.Store, query string, args ...any) []string {
	t.Helper()
	var raw string
	if err := s.DB().Get(&raw, `EXPLAIN (FORMAT JSON) `+query, args...); err != nil {
		t.Fatal(err)
	}
	var plans []struct{ Plan map[string]any }
	if err := json.Unmarshal([]byte(raw), &plans); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(n map[string]any)
	walk = func(n map[string]any) {
		s := fmt.Sprint(n["Node Type"])
		if r, ok := n["Relation Name"]; ok {
			s += " " + fmt.Sprint(r)
		}
		if i, ok := n["Index Name"]; ok {
			s += " " + fmt.Sprint(i)
		}
		out = append(out, s)
		if kids, ok := n["Plans"].([]any); ok {
			for _, k := range kids {
				walk(k.(map[string]any))
			}
		}
	}
	walk(plans[0].Plan)
	return out
}

// TestTokenLookupIsOneIndexProbeWithMonthsOfHistory plans the hot lookups
// over eight months of history: a link token is one probe of the sessions'
// token index, and a delivery's attempt log reads one month's partition.
func TestTokenLookupIsOneIndexProbeWithMonthsOfHistory(t *testing.T) {
	s := dbtest.MustStore(t)
	ctx := context.Background()
	now := time.Now()
	seedHistory(t, s.DB(), now, true)
	if _, err := s.MaintainHistory(ctx, now, db.HistoryRetention{}); err != nil {
		t.Fatal(err)
	}
	// Nine sessions in ten are finished: they move into their months.
	if n, err := s.MoveFinishedSessions(ctx, now.Add(time.Hour)); err != nil || n != 5220 {
		t.Fatalf("moved %d finished sessions (%v), want 5220", n, err)
	}
	if _, err := s.DB().Exec(`ANALYZE link_sessions, link_events, webhook_deliveries, webhook_attempts`); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"link_sessions", "link_events"} {
		if n := len(partitionsOf(t, s.DB(), table)); n < 10 {
			t.Fatalf("%s has %d partitions, want months of history", table, n)
		}
	}
	if n := count(t, s, `SELECT count(*) FROM link_sessions_open`); n != 580 {
		t.Errorf("the open partition holds %d sessions, want the 580 unfinished", n)
	}
	// The server looks a token up in the open partition first: one probe
	// of its token index, whatever the months of history.
	got := planNodes(t, s, `SELECT id, status FROM link_sessions_open WHERE token_hash = sha256('tok-4000'::bytea)`)
	if want := []string{"Index Scan link_sessions_open link_sessions_open_token_hash_history_month_key"}; !slices.Equal(got, want) {
		t.Errorf("token lookup plan: %v, want %v", got, want)
	}
	open, err := s.LinkSessionByToken(ctx, "tok-4000")
	if err != nil || open.ID != "ls_hist_4000" || open.Status != app.StatusCreated {
		t.Errorf("open session by token: %s %s (%v), want ls_hist_4000 created", open.ID, open.Status, err)
	}
	// A finished session's token (an old link opened again) misses it and
	// takes one probe of each month's token index: never a scan of a
	// partition of more than a page (which the planner reads whole).
	got = planNodes(t, s, `SELECT id, status FROM link_sessions WHERE token_hash = sha256('tok-4001'::bytea)`)
	for _, n := range got[1:] {
		if strings.HasPrefix(n, "Seq Scan ") &&
			count(t, s, `SELECT relpages FROM pg_class WHERE oid = $1::regclass`, strings.TrimPrefix(n, "Seq Scan ")) <= 1 {
			continue
		}
		if !strings.HasPrefix(n, "Index Scan link_sessions_") || !strings.HasSuffix(n, "_token_hash_history_month_key") {
			t.Errorf("finished token lookup plan: %v, want an index probe per partition", got)
			break
		}
	}
	done, err := s.LinkSessionByToken(ctx, "tok-4001")
	if err != nil || done.ID != "ls_hist_4001" || done.Status != app.StatusFailed {
		t.Errorf("finished session by token: %s %s (%v), want ls_hist_4001 failed", done.ID, done.Status, err)
	}
	var created time.Time
	if err := s.DB().Get(&created, `SELECT created_at FROM webhook_deliveries WHERE id = 'whd_hist_1000'`); err != nil {
		t.Fatal(err)
	}
	got = planNodes(t, s, `SELECT attempt FROM webhook_attempts WHERE delivery_id = 'whd_hist_1000' AND delivery_created_at = $1`, created)
	month := "webhook_attempts_p" + created.UTC().Format("200601")
	for _, n := range got {
		if strings.HasPrefix(n, "Append") || (strings.Contains(n, "webhook_attempts") && !strings.Contains(n, month)) {
			t.Errorf("attempt log plan: %v, want scans of %s alone", got, month)
			break
		}
	}
	// A session's timeline reads the months from the session's creation on.
	var sessCreated time.Time
	if err := s.DB().Get(&sessCreated, `SELECT created_at FROM link_sessions WHERE id = 'ls_hist_100'`); err != nil {
		t.Fatal(err)
	}
	events, err := dbtest.SessionEvents(ctx, s, "ls_hist_100")
	if err != nil || len(events) != 2 {
		t.Errorf("timeline: %d events (%v), want 2", len(events), err)
	}
	var raw string
	if err := s.DB().Get(&raw, `EXPLAIN (ANALYZE, FORMAT JSON) SELECT id FROM link_events WHERE session_id = 'ls_hist_100'
		AND created_at >= (SELECT created_at - interval '1 day' FROM link_sessions WHERE id = 'ls_hist_100')`); err != nil {
		t.Fatal(err)
	}
	read := 0
	for _, m := range regexp.MustCompile(`"Relation Name": "link_events_p(\d{6})",[^}]*?"Actual Loops": (\d+)`).FindAllStringSubmatch(raw, -1) {
		month, _ := time.Parse("200601", m[1])
		if m[2] != "0" {
			read++
			if month.AddDate(0, 1, 0).Before(sessCreated.Add(-24 * time.Hour)) {
				t.Errorf("the timeline of a session of %s read the partition of %s", sessCreated.Format("2006-01"), m[1])
			}
		}
	}
	if read == 0 || read > db.HistoryMonthsAhead+2 {
		t.Errorf("the timeline read %d month partitions, want the session's month and the ones after it", read)
	}
	d, err := s.WebhookDelivery(ctx, nil, "whd_hist_1000")
	if err != nil || len(d.Log) != 2 {
		t.Errorf("delivery log: %d attempts (%v), want 2", len(d.Log), err)
	}
}
