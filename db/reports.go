package db

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"noxportal/app"
)

// Every report query lives in this file and reads only the rollups
// (report_daily, report_connect_times, report_device_daily) plus what is
// not folded into them yet (report_pending: the sessions past the fold's
// watermark and the changes of folded ones; report_device_deltas). The two
// together equal an aggregation of link_sessions: see
// migrations/00130_report_fold_watermark.sql.

// ConfigureReports makes timezone the report time zone. When it differs
// from the one the rollups were built in, it rebuilds them in the same
// transaction (then vacuums them) and reports rebuilt=true.
func (s *Store) ConfigureReports(ctx context.Context, timezone string) (rebuilt bool, err error) {
	if _, err := app.ReportTimezone(timezone); err != nil {
		return false, err
	}
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		var current string
		if err := tx.GetContext(ctx, &current, `SELECT timezone FROM report_settings FOR UPDATE`); err != nil {
			return fmt.Errorf("db: report settings: %w", err)
		}
		if current == timezone {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE report_settings SET timezone = $1`, timezone); err != nil {
			return fmt.Errorf("db: set report time zone: %w", err)
		}
		rebuilt = true
		_, err := rebuildReports(ctx, tx, true)
		return err
	})
	if err == nil && rebuilt {
		err = s.vacuumReports(ctx)
	}
	return rebuilt, err
}

// ReportRebuild says what a rebuild produced.
type ReportRebuild struct {
	// Sessions is how many sessions the reports count afterwards: those
	// rebuilt plus those left to the fold.
	Sessions int64
	Rows     int64
	// DeviceCorrection is what was added to today's device rollup so the
	// running total equals the devices connected now (0 when it already did).
	DeviceCorrection int64
}

// RebuildReports recomputes the session rollups from link_sessions with one
// aggregation over the sessions, and reconciles the device rollup's running
// total with the devices connected now (the devices table has no history to
// rebuild the past from). Session writes go on meanwhile: the rebuild counts
// the sessions of its snapshot and drops only the pending changes that
// snapshot sees; later changes stay pending and are folded after it.
// Readers see the old rollups until it commits. It vacuums them afterwards.
func (s *Store) RebuildReports(ctx context.Context) (ReportRebuild, error) {
	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return ReportRebuild{}, fmt.Errorf("db: begin: %w", err)
	}
	defer tx.Rollback()
	out, err := rebuildReports(ctx, tx, false)
	if err != nil {
		return out, err
	}
	if err := tx.Commit(); err != nil {
		return out, fmt.Errorf("db: commit rebuild: %w", err)
	}
	return out, s.vacuumReports(ctx)
}

// vacuumReports vacuums and analyzes the rollups after a rebuild, so
// reports are answered by index-only scans and planned on fresh statistics.
func (s *Store) vacuumReports(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `VACUUM (ANALYZE) report_daily, report_connect_times, report_device_daily`); err != nil {
		return fmt.Errorf("db: vacuum report rollups: %w", err)
	}
	return nil
}

// rebuildReports rebuilds in tx. The rollups are locked before anything
// else, so in a REPEATABLE READ tx the snapshot is taken after any fold in
// flight has committed and no fold starts until tx ends. blockWrites also
// makes session and device writes wait (a change of time zone: the triggers
// of writes in flight would bucket their changes in the old one).
func rebuildReports(ctx context.Context, tx *sqlx.Tx, blockWrites bool) (ReportRebuild, error) {
	var out ReportRebuild
	steps := []string{
		`LOCK TABLE report_daily, report_connect_times, report_device_daily IN EXCLUSIVE MODE`,
		`SET LOCAL work_mem = '256MB'`,
	}
	if blockWrites {
		steps = append(steps, `LOCK TABLE link_sessions, devices IN SHARE MODE`)
	}
	// Pending session changes the snapshot sees are counted by the
	// recomputation; pending device changes are folded (the device
	// history is not recomputed).
	steps = append(steps,
		`DELETE FROM report_deltas`,
		`SELECT report_fold_devices()`,
		`DELETE FROM report_daily`,
		`DELETE FROM report_connect_times`)
	for _, q := range steps {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return out, fmt.Errorf("db: rebuild reports: %w", err)
		}
	}
	// One pass over the sessions feeds both rollups. The time zone is a
	// parameter rather than a join so the planner sees the real row count.
	// The rebuild counts the sessions below the fold's horizon in its
	// snapshot (all of them are in it) and moves the fold's watermark
	// there; the fold counts the rest.
	var tz, horizon string
	if err := tx.GetContext(ctx, &tz, `SELECT timezone FROM report_settings`); err != nil {
		return out, fmt.Errorf("db: report time zone: %w", err)
	}
	if err := tx.GetContext(ctx, &horizon, `
		UPDATE report_watermark SET folded_below = report_fold_horizon()
		RETURNING folded_below::text`); err != nil {
		return out, fmt.Errorf("db: move report watermark: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `
		CREATE TEMP TABLE report_rebuild ON COMMIT DROP AS
		SELECT (created_at AT TIME ZONE $1::text)::date AS day, coalesce(supplier_id, '') AS supplier_id,
			coalesce(manufacturer_id, '') AS brand, kind, language, report_outcome(status, failure_reason) AS outcome,
			CASE WHEN status = 'connected' THEN report_connect_bucket(extract(epoch FROM finished_at - coalesce(opened_at, created_at))) END AS bucket,
			count(*) AS sessions, count(opened_at) AS opened, count(brand_selected_at) AS brand_selected, count(authorizing_at) AS authorizing
		FROM link_sessions
		WHERE (created_xid IS NULL OR created_xid < $2::xid8) AND `+liveSessions+`
		GROUP BY 1, 2, 3, 4, 5, 6, 7`, tz, horizon); err != nil {
		return out, fmt.Errorf("db: aggregate sessions: %w", err)
	}
	// Every level at once: CUBE sums away each subset of the dimensions.
	res, err := tx.ExecContext(ctx, `
		INSERT INTO report_daily (rolled, day, supplier_id, brand, kind, language, outcome, sessions, opened, brand_selected, authorizing)
		SELECT GROUPING(supplier_id, brand, kind, language), day, coalesce(supplier_id, ''), coalesce(brand, ''),
			coalesce(kind, ''), coalesce(language, ''), outcome, sum(sessions), sum(opened), sum(brand_selected), sum(authorizing)
		FROM report_rebuild GROUP BY day, outcome, CUBE (supplier_id, brand, kind, language)`)
	if err != nil {
		return out, fmt.Errorf("db: rebuild report_daily: %w", err)
	}
	out.Rows, _ = res.RowsAffected()
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO report_connect_times (rolled, day, supplier_id, brand, kind, language, bucket, sessions)
		SELECT GROUPING(supplier_id, brand, kind, language), day, coalesce(supplier_id, ''), coalesce(brand, ''),
			coalesce(kind, ''), coalesce(language, ''), bucket, sum(sessions)
		FROM report_rebuild WHERE bucket IS NOT NULL GROUP BY day, bucket, CUBE (supplier_id, brand, kind, language)`); err != nil {
		return out, fmt.Errorf("db: rebuild report_connect_times: %w", err)
	}
	if err := tx.GetContext(ctx, &out.Sessions, `
		SELECT (SELECT coalesce(sum(sessions), 0) FROM report_daily WHERE rolled = 15)
			+ (SELECT count(*) FROM link_sessions WHERE created_xid >= $1::xid8 AND `+liveSessions+`)`, horizon); err != nil {
		return out, fmt.Errorf("db: count rebuilt sessions: %w", err)
	}
	// Per brand: connected devices now minus the rollup's running total.
	var fixes []struct {
		Brand string `db:"brand"`
		Diff  int64  `db:"diff"`
	}
	if err := tx.SelectContext(ctx, &fixes, `
		WITH now_on AS (SELECT manufacturer_id AS brand, count(*) AS n FROM devices WHERE status = 'connected' GROUP BY 1),
		     rolled AS (SELECT brand, sum(activated - deactivated) AS n FROM report_device_daily GROUP BY 1)
		SELECT coalesce(a.brand, r.brand) AS brand, coalesce(a.n, 0) - coalesce(r.n, 0) AS diff
		FROM now_on a FULL JOIN rolled r ON a.brand = r.brand
		WHERE coalesce(a.n, 0) <> coalesce(r.n, 0)`); err != nil {
		return out, fmt.Errorf("db: reconcile device rollup: %w", err)
	}
	for _, f := range fixes {
		up, down := max(f.Diff, 0), max(-f.Diff, 0)
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO report_device_daily AS t (day, brand, activated, deactivated)
			SELECT (now() AT TIME ZONE timezone)::date, $1, $2, $3 FROM report_settings
			ON CONFLICT (day, brand) DO UPDATE
			SET activated = t.activated + EXCLUDED.activated, deactivated = t.deactivated + EXCLUDED.deactivated`,
			f.Brand, up, down); err != nil {
			return out, fmt.Errorf("db: correct device rollup: %w", err)
		}
		out.DeviceCorrection += f.Diff
	}
	return out, nil
}

// liveSessions leaves test-mode sessions (those of a test twin) out of the
// rollups, as report_session_contributions and report_apply do
// (migrations/00182_test_mode.sql): no rollup counts them.
var liveSessions = app.LiveSupplierSQL("supplier_id")

// reportWhere is the WHERE clause of f over a rollup table (day range and
// the filters that apply to it) and its arguments.
func reportWhere(f app.ReportFilter, withDims bool) (string, []any) {
	args := []any{f.From.Format("2006-01-02"), f.To.Format("2006-01-02")}
	conds := []string{"day BETWEEN $1::date AND $2::date"}
	add := func(col, v string) {
		if v == "" {
			return
		}
		args = append(args, v)
		conds = append(conds, col+" = $"+strconv.Itoa(len(args)))
	}
	if withDims {
		add("supplier_id", f.SupplierID)
		add("kind", f.Kind)
		add("language", f.Language)
	}
	add("brand", f.Brand)
	return " WHERE " + strings.Join(conds, " AND "), args
}

// rollupDims are the dimensions of the session rollups in GROUPING order:
// the bit of dimension i in "rolled" is 8 >> i.
var rollupDims = [4]string{BySupplier, ByBrand, "kind", "language"}

const (
	reportSessionCols = "day, supplier_id, brand, kind, language, outcome, sessions, opened, brand_selected, authorizing"
	reportTimeCols    = "day, supplier_id, brand, kind, language, bucket, sessions"
)

// reportSessions is a FROM item with the session rollup rows f selects at
// the level that keeps f's filters and keep (ByBrand, BySupplier), plus
// what is not folded yet (always at full detail; summing it in gives the
// same totals), and its arguments.
func reportSessions(f app.ReportFilter, keep ...string) (string, []any) {
	return rollupSource(f, "report_daily", reportSessionCols, "", keep)
}

// reportTimes is reportSessions for the time-to-connect histograms.
func reportTimes(f app.ReportFilter, keep ...string) (string, []any) {
	return rollupSource(f, "report_connect_times", reportTimeCols, " AND bucket IS NOT NULL", keep)
}

// rollupSource reads cols from table at the level of f and keep, and from
// report_pending (where deltaCond also holds). The level is "rolled", the
// bitmask GROUPING(supplier_id, brand, kind, language) of the dimensions
// summed away; those are named too (as empty strings), so the key (or the
// by-supplier index) is used up to the day range.
func rollupSource(f app.ReportFilter, table, cols, deltaCond string, keep []string) (string, []any) {
	where, args := reportWhere(f, true)
	if app.IsTestSupplier(f.SupplierID) {
		return testModeSource(cols, where+deltaCond), args
	}
	used := map[string]bool{BySupplier: f.SupplierID != "", ByBrand: f.Brand != "", "kind": f.Kind != "", "language": f.Language != ""}
	for _, k := range keep {
		used[k] = true
	}
	rolled, level := 0, ""
	for i, dim := range rollupDims {
		if !used[dim] {
			rolled |= 8 >> i
			level += " AND " + dim + " = ''"
		}
	}
	return `(SELECT ` + cols + ` FROM ` + table + where + ` AND rolled = ` + strconv.Itoa(rolled) + level + `
		UNION ALL SELECT ` + cols + ` FROM report_pending` + where + deltaCond + `) r`, args
}

// testModeSource is rollupSource for a test twin's own funnel (the test
// view of its developer dashboard): no rollup counts test-mode sessions, so
// its rows are aggregated from the twin's link sessions directly, one row a
// session, in the shape of the rollups (where names the twin, so the
// supplier index finds them; test volumes are small).
func testModeSource(cols, where string) string {
	return `(SELECT ` + cols + ` FROM (
		SELECT (s.created_at AT TIME ZONE st.timezone)::date AS day, s.supplier_id, coalesce(s.manufacturer_id, '') AS brand,
			s.kind, s.language, report_outcome(s.status, s.failure_reason) AS outcome,
			CASE WHEN s.status = 'connected'
				THEN report_connect_bucket(extract(epoch FROM s.finished_at - coalesce(s.opened_at, s.created_at))) END AS bucket,
			1 AS sessions, (s.opened_at IS NOT NULL)::int AS opened, (s.brand_selected_at IS NOT NULL)::int AS brand_selected,
			(s.authorizing_at IS NOT NULL)::int AS authorizing
		FROM link_sessions s CROSS JOIN report_settings st) t` + where + `) r`
}

// reportDevices is the FROM item of the device rollup rows matching where,
// plus the device deltas not folded yet.
func reportDevices(where string) string {
	const cols = "day, brand, activated, deactivated, relink_needed, relink_done"
	return `(SELECT ` + cols + ` FROM report_device_daily` + where + `
		UNION ALL SELECT ` + cols + ` FROM report_device_deltas` + where + `) r`
}

// foldBatch caps the sessions one fold transaction counts (a backlog is
// folded in several short transactions, each committed with its watermark);
// the sessions of one transaction are never split, so a batch may be larger.
const foldBatch = 10000

// foldTimeout replaces the pool's statement and lock timeouts for one fold:
// a batch that cannot finish within a request's timeout would fail and be
// retried from the same watermark for ever, and a fold waits for a rebuild.
const foldTimeout = "10min"

// FoldReports counts the sessions past the fold's watermark and the pending
// changes into the rollups, in batches, and returns how many sessions and
// changes it counted; 0 when another fold is running (see
// migrations/00130_report_fold_watermark.sql). A fold that fails or dies
// commits nothing of its batch: the next one counts it again from the same
// watermark.
func (s *Store) FoldReports(ctx context.Context) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.inTx(ctx, func(tx *sqlx.Tx) error {
			if _, err := tx.ExecContext(ctx, `SET LOCAL statement_timeout = '`+foldTimeout+`'; SET LOCAL lock_timeout = '`+foldTimeout+`'`); err != nil {
				return err
			}
			return tx.GetContext(ctx, &n, `SELECT report_fold($1)`, foldBatch)
		})
		if err != nil {
			return total, fmt.Errorf("db: fold report rollups: %w", err)
		}
		if n < 0 {
			return total, nil
		}
		total += n
		if n < foldBatch {
			return total, nil
		}
	}
}

// ReportFunnel returns the funnel of the sessions f selects.
func (s *Store) ReportFunnel(ctx context.Context, f app.ReportFilter) (app.FunnelReport, error) {
	var out app.FunnelReport
	from, args := reportSessions(f)
	var rows []struct {
		Outcome       string `db:"outcome"`
		Sessions      int64  `db:"sessions"`
		Opened        int64  `db:"opened"`
		BrandSelected int64  `db:"brand_selected"`
		Authorizing   int64  `db:"authorizing"`
	}
	if err := s.db.SelectContext(ctx, &rows, `
		SELECT outcome, sum(sessions) AS sessions, sum(opened) AS opened, sum(brand_selected) AS brand_selected,
			sum(authorizing) AS authorizing
		FROM `+from+` GROUP BY outcome`, args...); err != nil {
		return out, fmt.Errorf("db: report funnel: %w", err)
	}
	for _, r := range rows {
		out.Created += r.Sessions
		out.Opened += r.Opened
		out.BrandSelected += r.BrandSelected
		out.Authorizing += r.Authorizing
		switch r.Outcome {
		case app.OutcomeConnected:
			out.Connected += r.Sessions
		case app.OutcomePending:
			out.Pending += r.Sessions
		default:
			if r.Sessions != 0 {
				out.Failures = append(out.Failures, app.ReasonCount{Reason: r.Outcome, Sessions: r.Sessions})
			}
		}
	}
	app.SortReasons(out.Failures)
	return out, nil
}

// Breakdown dimensions of ReportBreakdown.
const (
	ByBrand    = "brand"
	BySupplier = "supplier_id"
)

// ReportBreakdown returns one row per brand (by ByBrand) or supplier (by
// BySupplier) of the sessions f selects, named from manufacturers or
// suppliers ("" for sessions without one), in name order.
func (s *Store) ReportBreakdown(ctx context.Context, f app.ReportFilter, by string) ([]app.BreakdownRow, error) {
	if by != ByBrand && by != BySupplier {
		return nil, fmt.Errorf("db: report breakdown by %q", by)
	}
	from, args := reportSessions(f, by)
	var counts []struct {
		Key      string `db:"key"`
		Outcome  string `db:"outcome"`
		Sessions int64  `db:"sessions"`
	}
	if err := s.db.SelectContext(ctx, &counts, `
		SELECT `+by+` AS key, outcome, sum(sessions) AS sessions FROM `+from+`
		GROUP BY 1, 2 HAVING sum(sessions) <> 0`, args...); err != nil {
		return nil, fmt.Errorf("db: report breakdown: %w", err)
	}
	var times []struct {
		Key      string `db:"key"`
		Bucket   int    `db:"bucket"`
		Sessions int64  `db:"sessions"`
	}
	from, args = reportTimes(f, by)
	if err := s.db.SelectContext(ctx, &times, `
		SELECT `+by+` AS key, bucket, sum(sessions) AS sessions FROM `+from+`
		GROUP BY 1, 2`, args...); err != nil {
		return nil, fmt.Errorf("db: report connect times: %w", err)
	}
	names, err := s.reportNames(ctx, by)
	if err != nil {
		return nil, err
	}
	idx := map[string]int{}
	var out []app.BreakdownRow
	row := func(key string) *app.BreakdownRow {
		i, ok := idx[key]
		if !ok {
			i = len(out)
			idx[key] = i
			name := names[key]
			if name == "" {
				name = key
			}
			out = append(out, app.BreakdownRow{Key: key, Name: name})
		}
		return &out[i]
	}
	for _, c := range counts {
		r := row(c.Key)
		r.Sessions += c.Sessions
		switch c.Outcome {
		case app.OutcomeConnected:
			r.Connected += c.Sessions
		case app.OutcomePending:
		default:
			r.Failures = append(r.Failures, app.ReasonCount{Reason: c.Outcome, Sessions: c.Sessions})
		}
	}
	for _, t := range times {
		if t.Sessions != 0 {
			row(t.Key).Times.Add(t.Bucket, t.Sessions)
		}
	}
	for i := range out {
		app.SortReasons(out[i].Failures)
	}
	app.SortBreakdown(out, "name", false)
	return out, nil
}

func (s *Store) reportNames(ctx context.Context, by string) (map[string]string, error) {
	q := `SELECT id, name FROM manufacturers`
	if by == BySupplier {
		q = `SELECT id, name FROM suppliers`
	}
	var rows []struct {
		ID   string `db:"id"`
		Name string `db:"name"`
	}
	if err := s.db.SelectContext(ctx, &rows, q); err != nil {
		return nil, fmt.Errorf("db: report names: %w", err)
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.ID] = r.Name
	}
	return out, nil
}

// ReportTrend returns sessions and connected sessions per day of f, or per
// week (starting Monday) when f.Weekly(); periods without sessions are
// included with zeros.
func (s *Store) ReportTrend(ctx context.Context, f app.ReportFilter) ([]app.TrendPoint, error) {
	from, args := reportSessions(f)
	var rows []struct {
		Day       time.Time `db:"day"`
		Sessions  int64     `db:"sessions"`
		Connected int64     `db:"connected"`
	}
	if err := s.db.SelectContext(ctx, &rows, `
		SELECT `+periodExpr(f)+` AS day, sum(sessions) AS sessions,
			coalesce(sum(sessions) FILTER (WHERE outcome = 'connected'), 0) AS connected
		FROM `+from+` GROUP BY 1`, args...); err != nil {
		return nil, fmt.Errorf("db: report trend: %w", err)
	}
	byDay := map[string]app.TrendPoint{}
	for _, r := range rows {
		byDay[r.Day.Format("2006-01-02")] = app.TrendPoint{Sessions: r.Sessions, Connected: r.Connected}
	}
	var out []app.TrendPoint
	for _, d := range periods(f) {
		p := byDay[d.Format("2006-01-02")]
		p.Day = d
		out = append(out, p)
	}
	return out, nil
}

// ReportDevices returns, per day of f (or week when f.Weekly()), the
// connected devices at the end of it and the relinks needed and done in it.
// Only the brand filter applies: devices belong to nox users, not to one
// supplier, flow or language.
//
// A test twin's funnel (test mode) shows no devices: the device rollups are
// not kept per supplier, and live ones must not appear in a test view.
func (s *Store) ReportDevices(ctx context.Context, f app.ReportFilter) ([]app.DevicePoint, error) {
	if app.IsTestSupplier(f.SupplierID) {
		var out []app.DevicePoint
		for _, d := range periods(f) {
			out = append(out, app.DevicePoint{Day: d})
		}
		return out, nil
	}
	where, args := reportWhere(f, false)
	var base int64
	bwhere := strings.Replace(where, "day BETWEEN $1::date AND $2::date", "day < $1::date AND $2::date IS NOT NULL", 1)
	if err := s.db.GetContext(ctx, &base, `
		SELECT coalesce(sum(activated - deactivated), 0) FROM `+reportDevices(bwhere), args...); err != nil {
		return nil, fmt.Errorf("db: report devices before range: %w", err)
	}
	var rows []struct {
		Day    time.Time `db:"day"`
		Net    int64     `db:"net"`
		Needed int64     `db:"needed"`
		Done   int64     `db:"done"`
	}
	if err := s.db.SelectContext(ctx, &rows, `
		SELECT `+periodExpr(f)+` AS day, sum(activated - deactivated) AS net, sum(relink_needed) AS needed, sum(relink_done) AS done
		FROM `+reportDevices(where)+` GROUP BY 1`, args...); err != nil {
		return nil, fmt.Errorf("db: report devices: %w", err)
	}
	type agg struct{ net, needed, done int64 }
	byDay := map[string]agg{}
	for _, r := range rows {
		byDay[r.Day.Format("2006-01-02")] = agg{r.Net, r.Needed, r.Done}
	}
	var out []app.DevicePoint
	active := base
	for _, d := range periods(f) {
		a := byDay[d.Format("2006-01-02")]
		active += a.net
		out = append(out, app.DevicePoint{Day: d, Active: active, RelinkNeeded: a.needed, RelinkDone: a.done})
	}
	return out, nil
}

func periodExpr(f app.ReportFilter) string {
	if f.Weekly() {
		return `date_trunc('week', day)::date`
	}
	return `day`
}

// periods lists the first day of every period of f, in f.From's location.
func periods(f app.ReportFilter) []time.Time {
	start, step := f.From, 1
	if f.Weekly() {
		step = 7
		start = start.AddDate(0, 0, -((int(start.Weekday()) + 6) % 7))
	}
	var out []time.Time
	for d := start; !d.After(f.To); d = d.AddDate(0, 0, step) {
		out = append(out, d)
	}
	return out
}

// ReportOptions returns the suppliers and brands reports can be filtered on,
// in name order.
func (s *Store) ReportOptions(ctx context.Context) (suppliers, brands []app.ReportOption, err error) {
	if err := s.db.SelectContext(ctx, &suppliers, `SELECT id AS value, name FROM suppliers WHERE test_of IS NULL ORDER BY name, id`); err != nil {
		return nil, nil, fmt.Errorf("db: report suppliers: %w", err)
	}
	if err := s.db.SelectContext(ctx, &brands, `SELECT id AS value, name FROM manufacturers ORDER BY name, id`); err != nil {
		return nil, nil, fmt.Errorf("db: report brands: %w", err)
	}
	return suppliers, brands, nil
}
