package db_test

import (
	"context"
	"fmt"
	"math/rand"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"noxportal/app"
	"noxportal/db"
	"noxportal/db/dbtest"
	"noxportal/devdata"
)

var reportBrands = []app.ManufacturerConfig{
	{ID: "brand-a", Name: "Alpha Heat", Kind: "heat_pump"},
	{ID: "brand-b", Name: "Beta Therm", Kind: "thermostat"},
	{ID: "brand-c", Name: "Gamma Charge", Kind: "charger"},
}

func mustReportStore(t *testing.T, suppliers ...string) *db.Store {
	t.Helper()
	s := dbtest.MustStore(t)
	ctx := context.Background()
	if err := s.SyncManufacturers(ctx, reportBrands); err != nil {
		t.Fatal(err)
	}
	for _, id := range suppliers {
		if err := s.UpsertSupplier(ctx, app.Supplier{ID: id, Name: "Supplier " + id, RedirectURIs: []string{"https://s.example/cb"}}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// rollupRow is one row of report_daily or report_connect_times, keyed as a string.
type rollupRow struct {
	Key  string
	Vals [4]int64
}

func rollupRows(t *testing.T, s *db.Store) (daily, times []rollupRow) {
	t.Helper()
	mustFoldAll(t, s)
	rows, err := s.DB().Query(`SELECT rolled, day, supplier_id, brand, kind, language, outcome, sessions, opened, brand_selected, authorizing
		FROM report_daily WHERE sessions <> 0 OR opened <> 0 OR brand_selected <> 0 OR authorizing <> 0`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r rollupRow
		var day time.Time
		var rolled int
		var sup, br, kind, lang, out string
		if err := rows.Scan(&rolled, &day, &sup, &br, &kind, &lang, &out, &r.Vals[0], &r.Vals[1], &r.Vals[2], &r.Vals[3]); err != nil {
			t.Fatal(err)
		}
		r.Key = fmt.Sprintf("%d|%s|%s|%s|%s|%s|%s", rolled, day.Format("2006-01-02"), sup, br, kind, lang, out)
		daily = append(daily, r)
	}
	rows, err = s.DB().Query(`SELECT rolled, day, supplier_id, brand, kind, language, bucket, sessions FROM report_connect_times WHERE sessions <> 0`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r rollupRow
		var day time.Time
		var rolled, bucket int
		var sup, br, kind, lang string
		if err := rows.Scan(&rolled, &day, &sup, &br, &kind, &lang, &bucket, &r.Vals[0]); err != nil {
			t.Fatal(err)
		}
		r.Key = fmt.Sprintf("%d|%s|%s|%s|%s|%s|%d", rolled, day.Format("2006-01-02"), sup, br, kind, lang, bucket)
		times = append(times, r)
	}
	sortRows(daily)
	sortRows(times)
	return daily, times
}

// mustFoldAll folds until nothing is pending. The fold's horizon is the
// oldest transaction running anywhere on the server (other tests' too), so
// it may take a few rounds.
func mustFoldAll(t *testing.T, s *db.Store) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := s.FoldReports(context.Background()); err != nil {
			t.Fatal(err)
		}
		var pending, deltas int
		if err := s.DB().Get(&pending, `SELECT (SELECT count(*) FROM report_pending) + (SELECT count(*) FROM report_device_deltas)`); err != nil {
			t.Fatal(err)
		}
		if err := s.DB().Get(&deltas, `SELECT count(*) FROM report_deltas`); err != nil {
			t.Fatal(err)
		}
		if pending == 0 && deltas == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d changes still pending (%d deltas) after folding for 30 s", pending, deltas)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func sortRows(rs []rollupRow) { sort.Slice(rs, func(i, j int) bool { return rs[i].Key < rs[j].Key }) }

// rawAggregation aggregates link_sessions in Go, independently of the SQL
// that maintains the rollups.
func rawAggregation(t *testing.T, s *db.Store, loc *time.Location) (daily, times []rollupRow) {
	t.Helper()
	rows, err := s.DB().Query(`SELECT created_at, coalesce(supplier_id, ''), coalesce(manufacturer_id, ''), kind, language, status,
		coalesce(failure_reason, ''), opened_at, brand_selected_at, authorizing_at, finished_at FROM link_sessions`)
	if err != nil {
		t.Fatal(err)
	}
	d, c := map[string]*[4]int64{}, map[string]*[4]int64{}
	for rows.Next() {
		var created time.Time
		var opened, brandAt, authAt, finished *time.Time
		var sup, br, kind, lang, status, reason string
		if err := rows.Scan(&created, &sup, &br, &kind, &lang, &status, &reason, &opened, &brandAt, &authAt, &finished); err != nil {
			t.Fatal(err)
		}
		outcome := app.OutcomePending
		switch status {
		case "connected":
			outcome = app.OutcomeConnected
		case "failed", "expired":
			outcome = reason
		}
		day := created.In(loc).Format("2006-01-02")
		// Every level: rolled is the bitmask of the dimensions summed
		// away (8 supplier, 4 brand, 2 flow, 1 language), stored as ''.
		for rolled := 0; rolled < 16; rolled++ {
			dims := [4]string{sup, br, kind, lang}
			for i := range dims {
				if rolled&(8>>i) != 0 {
					dims[i] = ""
				}
			}
			k := fmt.Sprintf("%d|%s|%s|%s|%s|%s|%s", rolled, day, dims[0], dims[1], dims[2], dims[3], outcome)
			if d[k] == nil {
				d[k] = &[4]int64{}
			}
			d[k][0]++
			for i, at := range []*time.Time{opened, brandAt, authAt} {
				if at != nil {
					d[k][i+1]++
				}
			}
			if status == "connected" {
				from := created
				if opened != nil {
					from = *opened
				}
				k := fmt.Sprintf("%d|%s|%s|%s|%s|%s|%d", rolled, day, dims[0], dims[1], dims[2], dims[3], app.ConnectBucket(finished.Sub(from)))
				if c[k] == nil {
					c[k] = &[4]int64{}
				}
				c[k][0]++
			}
		}
	}
	for k, v := range d {
		daily = append(daily, rollupRow{k, *v})
	}
	for k, v := range c {
		times = append(times, rollupRow{k, *v})
	}
	sortRows(daily)
	sortRows(times)
	return daily, times
}

func assertRollupsMatchRaw(t *testing.T, s *db.Store, loc *time.Location, when string) {
	t.Helper()
	gotD, gotT := rollupRows(t, s)
	wantD, wantT := rawAggregation(t, s, loc)
	if !reflect.DeepEqual(gotD, wantD) {
		t.Errorf("%s: report_daily differs from raw aggregation:\ngot  %v\nwant %v", when, gotD, wantD)
	}
	if !reflect.DeepEqual(gotT, wantT) {
		t.Errorf("%s: report_connect_times differs from raw aggregation:\ngot  %v\nwant %v", when, gotT, wantT)
	}
	if len(wantD) == 0 {
		t.Fatalf("%s: no sessions to compare", when)
	}
}

// reportSnapshot renders every report under each of the 16 combinations of
// the supplier, brand, flow and language filters.
func reportSnapshot(t *testing.T, s *db.Store, loc *time.Location) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	for mask := 0; mask < 16; mask++ {
		f := app.ReportFilter{From: time.Date(2026, 3, 26, 0, 0, 0, 0, loc), To: time.Date(2026, 4, 1, 0, 0, 0, 0, loc)}
		if mask&8 != 0 {
			f.SupplierID = "sup_a"
		}
		if mask&4 != 0 {
			f.Brand = "brand-c"
		}
		if mask&2 != 0 {
			f.Kind = "supplier_link"
		}
		if mask&1 != 0 {
			f.Language = "nl"
		}
		funnel, err := s.ReportFunnel(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		brands, err := s.ReportBreakdown(ctx, f, db.ByBrand)
		if err != nil {
			t.Fatal(err)
		}
		suppliers, err := s.ReportBreakdown(ctx, f, db.BySupplier)
		if err != nil {
			t.Fatal(err)
		}
		trend, err := s.ReportTrend(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d: %+v %+v %+v %+v", mask, funnel, brands, suppliers, trend))
	}
	if !strings.Contains(out[0], "Connected:") {
		t.Fatalf("snapshot without a funnel: %s", out[0])
	}
	return out
}

// TestRollupsEqualRawAggregationAfterRandomOutcomes walks sessions through
// random paths of the real store methods (open, brand, callback, connect,
// fail, cancel, expire by the sweeper, change of brand, back-dated creation)
// and checks the trigger-maintained rollups, then a rebuild, against an
// aggregation of the raw sessions.
func TestRollupsEqualRawAggregationAfterRandomOutcomes(t *testing.T) {
	s := mustReportStore(t, "sup_a", "sup_b")
	ctx := context.Background()
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewSource(seed))
	loc, _ := time.LoadLocation("Europe/Amsterdam")
	pick := func(xs ...string) string { return xs[rnd.Intn(len(xs))] }
	browser := app.HashToken("browser")

	for i := 0; i < 160; i++ {
		n := app.NewLinkSession{
			Kind: app.SessionKind(pick("supplier_link", "supplier_link", "supplier_select")), SupplierID: pick("sup_a", "sup_b"),
			SupplierUserID: fmt.Sprintf("u%d", i), RedirectURI: "https://s.example/cb", Language: pick(app.Languages...),
			Initiator: "api", ManufacturerID: pick("", "", "brand-c"), TTL: 15 * time.Minute,
		}
		if n.Kind == app.KindSupplierSelect {
			// Flow 2 starts at a manufacturer, which names its user.
			n.Initiator, n.ManufacturerID, n.ManufacturerUserID = app.InitiatorManufacturer, "brand-c", fmt.Sprintf("m%d", i)
		}
		sess, token, _, err := s.CreateLinkSession(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		// Spread creation over days around a DST change.
		if _, err := s.DB().Exec(`UPDATE link_sessions SET created_at = timestamptz '2026-03-27 12:00Z' + $2 * interval '1 minute'
			WHERE id = $1`, sess.ID, rnd.Intn(4*24*60)); err != nil {
			t.Fatal(err)
		}
		steps := rnd.Intn(7)
		if n.Kind == app.KindSupplierSelect && steps > 1 {
			// Flow 2 continues at a supplier's login, not at a brand;
			// here it is opened and then fails.
			steps = 1
		}
		if steps == 0 {
			continue
		}
		if _, _, err := s.OpenLinkSession(ctx, token, browser); err != nil {
			t.Fatal(err)
		}
		if steps == 1 {
			if _, err := s.FailLinkSession(ctx, sess.ID, pick(app.ReasonCancelled, app.ReasonManufacturerDown), ""); err != nil {
				t.Fatal(err)
			}
			continue
		}
		state := app.RandomToken(16)
		if _, err := s.StartAuthorization(ctx, sess.ID, browser, pick("brand-a", "brand-b", "brand-c"), state, "verifier"); err != nil {
			t.Fatal(err)
		}
		if steps == 2 && rnd.Intn(2) == 0 {
			// The user comes back and picks another brand.
			state = app.RandomToken(16)
			if _, err := s.StartAuthorization(ctx, sess.ID, browser, pick("brand-a", "brand-b"), state, "verifier"); err != nil {
				t.Fatal(err)
			}
		}
		if steps <= 3 {
			if steps == 3 {
				if _, err := s.DB().Exec(`UPDATE link_sessions SET expires_at = now() - interval '1 second' WHERE id = $1`, sess.ID); err != nil {
					t.Fatal(err)
				}
			}
			continue
		}
		cur, _ := s.GetLinkSession(ctx, sess.ID)
		granted := steps != 4
		if _, _, err := s.ClaimCallback(ctx, cur.Brand(), state, granted, browser, time.Minute); err != nil {
			t.Fatal(err)
		}
		if !granted {
			if _, err := s.FailLinkSession(ctx, sess.ID, app.ReasonAccessDenied, ""); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if steps == 5 {
			if _, err := s.FailLinkSession(ctx, sess.ID, pick(app.ReasonManufacturerError, app.ReasonNoDevices), ""); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if _, err := s.DB().Exec(`UPDATE link_sessions SET opened_at = opened_at - $2 * interval '1 second' WHERE id = $1`,
			sess.ID, rnd.Intn(5000)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CompleteConnection(ctx, app.Connection{SessionID: sess.ID, ManufacturerID: cur.Brand(),
			Devices: []app.DeviceInfo{{ID: fmt.Sprintf("dev-%d", i), Name: "Device"}}, Tokens: app.OAuthTokens{AccessToken: "a"}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.SweepExpiredSessions(ctx); err != nil {
		t.Fatal(err)
	}
	// Nothing is folded yet: the reports read the pending changes, at full
	// detail. After the fold they read the rollup level of each filter.
	pending := reportSnapshot(t, s, loc)
	assertRollupsMatchRaw(t, s, loc, "after the flow")
	if folded := reportSnapshot(t, s, loc); !reflect.DeepEqual(folded, pending) {
		t.Errorf("reports differ once folded:\nfolded  %v\npending %v", folded, pending)
	}

	if _, err := s.DB().Exec(`TRUNCATE report_daily, report_connect_times`); err != nil {
		t.Fatal(err)
	}
	res, err := s.RebuildReports(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sessions != 160 {
		t.Errorf("rebuild counted %d sessions, want 160", res.Sessions)
	}
	assertRollupsMatchRaw(t, s, loc, "after rebuild")

	if _, err := s.DB().Exec(`DELETE FROM link_events; DELETE FROM link_sessions WHERE id IN (SELECT id FROM link_sessions LIMIT 40)`); err != nil {
		t.Fatal(err)
	}
	assertRollupsMatchRaw(t, s, loc, "after deleting sessions")
}

// handSession is one session of a hand-built data set: created at created,
// reaching the steps whose offsets (seconds after creation) are set.
type handSession struct {
	supplier, brand, kind, lang, status, reason string
	created                                     string
	opened, brandAt, authAt, finished           int // seconds after created; -1: not reached
}

func mustInsertSessions(t *testing.T, s *db.Store, ss []handSession) {
	t.Helper()
	for i, h := range ss {
		at := func(off int) any {
			if off < 0 {
				return nil
			}
			return off
		}
		var reason any
		if h.reason != "" {
			reason = h.reason
		}
		var brand any
		if h.brand != "" {
			brand = h.brand
		}
		var nox any
		if h.status == "connected" {
			nox = fmt.Sprintf("nox_hand_%d", i)
			if _, err := s.DB().Exec(`INSERT INTO nox_users (id) VALUES ($1)`, nox); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.DB().Exec(`
			INSERT INTO link_sessions (id, token_hash, kind, supplier_id, redirect_uri, language, initiator, status, failure_reason,
				manufacturer_id, nox_user_id, created_at, opened_at, brand_selected_at, authorizing_at, finished_at, expires_at,
				manufacturer_user_id)
			VALUES ($1, sha256(convert_to($1::text, 'UTF8')), $2, $3, 'https://s.example/cb', $4, 'api', $5, $6, $7, $8, $9::timestamptz,
				$9::timestamptz + $10 * interval '1 second', $9::timestamptz + $11 * interval '1 second',
				$9::timestamptz + $12 * interval '1 second', $9::timestamptz + $13 * interval '1 second',
				$9::timestamptz + interval '15 minutes', CASE WHEN $2 = 'supplier_select' THEN 'mfr_user' ELSE '' END)`,
			fmt.Sprintf("ls_hand_%d", i), h.kind, h.supplier, h.lang, h.status, reason, brand, nox, h.created,
			at(h.opened), at(h.brandAt), at(h.authAt), at(h.finished)); err != nil {
			t.Fatalf("insert session %d: %v", i, err)
		}
	}
}

func day(t *testing.T, s string) time.Time {
	t.Helper()
	loc, _ := time.LoadLocation("Europe/Amsterdam")
	d, err := app.ReportDate(s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestReportFunnelCountsEachStepAndFailureReason checks the funnel,
// breakdowns and trend on a hand-built data set.
func TestReportFunnelCountsEachStepAndFailureReason(t *testing.T) {
	s := mustReportStore(t, "sup_a", "sup_b")
	ctx := context.Background()
	L, S := "supplier_link", "supplier_select"
	mustInsertSessions(t, s, []handSession{
		// sup_a, brand-a: 3 connected in 40s, 100s, 700s after opening.
		{"sup_a", "brand-a", L, "nl", "connected", "", "2026-05-04 08:00Z", 10, 20, 21, 50},
		{"sup_a", "brand-a", L, "nl", "connected", "", "2026-05-04 09:00Z", 0, 30, 31, 100},
		{"sup_a", "brand-a", L, "en", "connected", "", "2026-05-05 09:00Z", 100, 200, 201, 800},
		{"sup_a", "brand-a", L, "nl", "failed", "access_denied", "2026-05-05 10:00Z", 5, 10, 11, 60},
		{"sup_a", "brand-b", S, "de", "failed", "access_denied", "2026-05-05 10:00Z", 5, 10, 11, 60},
		{"sup_a", "brand-b", S, "de", "expired", "expired_after_auth", "2026-05-06 10:00Z", 5, 10, 11, 900},
		{"sup_b", "brand-b", L, "nl", "failed", "manufacturer_error", "2026-05-06 11:00Z", 5, 10, 11, 60},
		{"sup_b", "", L, "nl", "expired", "expired", "2026-05-06 11:00Z", 5, -1, -1, 900},
		{"sup_b", "", L, "fr", "expired", "expired", "2026-05-07 11:00Z", -1, -1, -1, 900},
		{"sup_b", "", L, "fr", "created", "", "2026-05-07 12:00Z", -1, -1, -1, -1},
		// Outside the range.
		{"sup_a", "brand-a", L, "nl", "connected", "", "2026-05-08 09:00Z", 0, 30, 31, 100},
	})
	f := app.ReportFilter{From: day(t, "2026-05-04"), To: day(t, "2026-05-07")}
	got, err := s.ReportFunnel(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	want := app.FunnelReport{Created: 10, Opened: 8, BrandSelected: 7, Authorizing: 7, Connected: 3, Pending: 1,
		Failures: []app.ReasonCount{{Reason: "access_denied", Sessions: 2}, {Reason: "expired", Sessions: 2},
			{Reason: "expired_after_auth", Sessions: 1}, {Reason: "manufacturer_error", Sessions: 1}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("funnel:\ngot  %+v\nwant %+v", got, want)
	}

	filtered := f
	filtered.SupplierID, filtered.Kind = "sup_a", S
	got, err = s.ReportFunnel(ctx, filtered)
	if err != nil {
		t.Fatal(err)
	}
	if got.Created != 2 || got.Connected != 0 || got.FailedTotal() != 2 {
		t.Errorf("funnel of sup_a, flow 2: got %+v, want 2 created, 0 connected, 2 failed", got)
	}

	brands, err := s.ReportBreakdown(ctx, f, db.ByBrand)
	if err != nil {
		t.Fatal(err)
	}
	type line struct {
		key            string
		sessions, conn int64
		top            string
	}
	var lines []line
	for _, b := range brands {
		lines = append(lines, line{b.Key, b.Sessions, b.Connected, b.TopFailure().Reason})
	}
	wantLines := []line{{"", 3, 0, "expired"}, {"brand-a", 4, 3, "access_denied"}, {"brand-b", 3, 0, "access_denied"}}
	if !reflect.DeepEqual(lines, wantLines) {
		t.Errorf("by brand:\ngot  %+v\nwant %+v", lines, wantLines)
	}
	a := brands[1]
	if a.Name != "Alpha Heat" {
		t.Errorf("brand-a name: got %q, want Alpha Heat", a.Name)
	}
	// Times 40s (bucket 30-45), 100s (90-120), 700s (600-900): the median is in 90-120.
	if m, ok := a.Median(); !ok || m < 90*time.Second || m > 120*time.Second {
		t.Errorf("brand-a median: got %v, want within [90s, 120s]", m)
	}
	if p, ok := a.P90(); !ok || p < 600*time.Second || p > 900*time.Second {
		t.Errorf("brand-a p90: got %v, want within [600s, 900s]", p)
	}

	sups, err := s.ReportBreakdown(ctx, f, db.BySupplier)
	if err != nil {
		t.Fatal(err)
	}
	if len(sups) != 2 || sups[0].Key != "sup_a" || sups[0].Sessions != 6 || sups[0].Connected != 3 || sups[1].Sessions != 4 {
		t.Errorf("by supplier: got %+v, want sup_a 6 sessions 3 connected, sup_b 4 sessions", sups)
	}

	trend, err := s.ReportTrend(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	var perDay []string
	for _, p := range trend {
		perDay = append(perDay, fmt.Sprintf("%s %d/%d", p.Day.Format("01-02"), p.Connected, p.Sessions))
	}
	if wantDays := []string{"05-04 2/2", "05-05 1/3", "05-06 0/3", "05-07 0/2"}; !reflect.DeepEqual(perDay, wantDays) {
		t.Errorf("trend: got %v, want %v", perDay, wantDays)
	}
}

// TestReportDaysFollowTheReportTimeZoneAcrossDST checks that sessions are
// counted on their calendar day in Europe/Amsterdam on the days the clocks
// change, and that switching the time zone rebuilds the rollups.
func TestReportDaysFollowTheReportTimeZoneAcrossDST(t *testing.T) {
	s := mustReportStore(t, "sup_a")
	ctx := context.Background()
	L := "supplier_link"
	mk := func(at string) handSession {
		return handSession{"sup_a", "", L, "nl", "expired", "expired", at, -1, -1, -1, 900}
	}
	mustInsertSessions(t, s, []handSession{
		mk("2026-03-28 22:59Z"), // 23:59 CET, Mar 28
		mk("2026-03-28 23:00Z"), // 00:00 CET, Mar 29 (a 23-hour day)
		mk("2026-03-29 21:59Z"), // 23:59 CEST, Mar 29
		mk("2026-03-29 22:00Z"), // 00:00 CEST, Mar 30
		mk("2026-10-24 22:00Z"), // 00:00 CEST, Oct 25 (a 25-hour day)
		mk("2026-10-25 01:30Z"), // 02:30 CET, Oct 25 (the second 02:30)
		mk("2026-10-25 22:59Z"), // 23:59 CET, Oct 25
		mk("2026-10-25 23:00Z"), // 00:00 CET, Oct 26
	})
	count := func() map[string]int64 {
		t.Helper()
		var rows []struct {
			Day time.Time `db:"day"`
			N   int64     `db:"n"`
		}
		mustFoldAll(t, s)
		if err := s.DB().Select(&rows, `SELECT day, sum(sessions) AS n FROM report_daily WHERE rolled = 15 GROUP BY day`); err != nil {
			t.Fatal(err)
		}
		out := map[string]int64{}
		for _, r := range rows {
			out[r.Day.Format("01-02")] = r.N
		}
		return out
	}
	want := map[string]int64{"03-28": 1, "03-29": 2, "03-30": 1, "10-25": 3, "10-26": 1}
	if got := count(); !reflect.DeepEqual(got, want) {
		t.Errorf("Amsterdam days: got %v, want %v", got, want)
	}
	trend, err := s.ReportTrend(ctx, app.ReportFilter{From: day(t, "2026-03-28"), To: day(t, "2026-03-30")})
	if err != nil {
		t.Fatal(err)
	}
	if len(trend) != 3 || trend[1].Sessions != 2 || trend[1].Day.Format("2006-01-02") != "2026-03-29" {
		t.Errorf("trend over the spring change: got %+v, want 3 days with 2 sessions on 2026-03-29", trend)
	}

	rebuilt, err := s.ConfigureReports(ctx, "UTC")
	if err != nil || !rebuilt {
		t.Fatalf("switch to UTC: rebuilt=%v err=%v, want a rebuild", rebuilt, err)
	}
	want = map[string]int64{"03-28": 2, "03-29": 2, "10-24": 1, "10-25": 3}
	if got := count(); !reflect.DeepEqual(got, want) {
		t.Errorf("UTC days: got %v, want %v", got, want)
	}
	if rebuilt, err := s.ConfigureReports(ctx, "UTC"); err != nil || rebuilt {
		t.Errorf("same time zone again: rebuilt=%v err=%v, want no rebuild", rebuilt, err)
	}
}

// TestDeviceRollupTracksActiveDevicesAndRelinks checks the device rollup
// follows status changes and that a rebuild reconciles its running total.
func TestDeviceRollupTracksActiveDevicesAndRelinks(t *testing.T) {
	s := mustReportStore(t)
	ctx := context.Background()
	if _, err := s.DB().Exec(`
		INSERT INTO nox_users (id) VALUES ('nox_1');
		INSERT INTO devices (nox_user_id, manufacturer_id, external_id, status, connected_at)
		SELECT 'nox_1', 'brand-a', 'd' || g, 'connected', now() FROM generate_series(1, 5) g;
		UPDATE devices SET status = 'relink_required' WHERE external_id IN ('d1', 'd2');
		UPDATE devices SET status = 'connected' WHERE external_id = 'd1';
		UPDATE devices SET status = 'disconnected' WHERE external_id = 'd3';`); err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation("Europe/Amsterdam")
	today := app.DayOf(time.Now(), loc)
	f := app.ReportFilter{From: today.AddDate(0, 0, -1), To: today, Brand: "brand-a"}
	pts, err := s.ReportDevices(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	last := pts[len(pts)-1]
	if last.Active != 3 || last.RelinkNeeded != 2 || last.RelinkDone != 1 {
		t.Errorf("today: got %+v, want 3 active, 2 relinks needed, 1 done", last)
	}
	// Devices changed with the rollup switched off are reconciled by a rebuild.
	if _, err := s.DB().Exec(`BEGIN; SET LOCAL noxportal.skip_report_rollups = 'on';
		DELETE FROM devices WHERE external_id = 'd4'; COMMIT;`); err != nil {
		t.Fatal(err)
	}
	res, err := s.RebuildReports(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.DeviceCorrection != -1 {
		t.Errorf("device correction: got %d, want -1", res.DeviceCorrection)
	}
	pts, _ = s.ReportDevices(ctx, f)
	if got := pts[len(pts)-1].Active; got != 2 {
		t.Errorf("active after rebuild: got %d, want 2", got)
	}
}

// TestReportHistorySeedIsCountedWithoutARebuild seeds the development
// history (which counts its sessions through the rollup triggers instead of
// rebuilding the rollups of the whole database) and checks every rollup
// level against an aggregation of the raw sessions.
func TestReportHistorySeedIsCountedWithoutARebuild(t *testing.T) {
	s := mustReportStore(t)
	ctx := context.Background()
	if err := devdata.Dev(ctx, s); err != nil {
		t.Fatal(err)
	}
	seeded, err := devdata.ReportHistory(ctx, s, time.Now())
	if err != nil || !seeded {
		t.Fatalf("seed report history: seeded=%v err=%v", seeded, err)
	}
	loc, _ := time.LoadLocation("Europe/Amsterdam")
	assertRollupsMatchRaw(t, s, loc, "after the history seed")
	if seeded, err := devdata.ReportHistory(ctx, s, time.Now()); err != nil || seeded {
		t.Errorf("second seed: seeded=%v err=%v, want nothing done", seeded, err)
	}
}

// TestRebuildWhileSessionsAreWritten rebuilds the rollups while link
// sessions are being created and changed: the writes are not blocked, and
// once their pending changes are folded the rollups equal an aggregation of
// the raw sessions at every level.
func TestRebuildWhileSessionsAreWritten(t *testing.T) {
	s := mustReportStore(t, "sup_a")
	ctx := context.Background()
	// Enough history for the rebuild to take a while.
	if _, err := s.DB().Exec(`
		INSERT INTO link_sessions (id, token_hash, kind, supplier_id, supplier_user_id, redirect_uri, language, initiator,
			status, failure_reason, finished_at, expires_at, created_at)
		SELECT 'ls_hist_' || g, sha256(convert_to('hist-' || g, 'UTF8')), 'supplier_link', 'sup_a', 'h' || g,
			'https://s.example/cb', (ARRAY['en','nl','de'])[1 + g % 3], 'api', 'expired', 'expired',
			now() - (g % 90) * interval '1 day' + interval '15 minutes', now() - (g % 90) * interval '1 day' + interval '15 minutes',
			now() - (g % 90) * interval '1 day'
		FROM generate_series(1, 30000) g`); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var written atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				sess, _, _, err := s.CreateLinkSession(ctx, app.NewLinkSession{Kind: app.KindSupplierLink, SupplierID: "sup_a",
					SupplierUserID: fmt.Sprintf("w%d-%d", w, i), RedirectURI: "https://s.example/cb", Language: "fr",
					Initiator: app.InitiatorAPI, TTL: time.Minute})
				if err != nil {
					t.Error(err)
					return
				}
				if i%2 == 0 {
					if _, err := s.FailLinkSession(ctx, sess.ID, app.ReasonCancelled, ""); err != nil {
						t.Error(err)
						return
					}
				}
				written.Add(1)
			}
		}(w)
	}
	time.Sleep(50 * time.Millisecond)
	before := written.Load()
	res, err := s.RebuildReports(ctx)
	during := written.Load() - before
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if res.Sessions < 30000 {
		t.Errorf("rebuild counted %d sessions, want at least the 30000 of the history", res.Sessions)
	}
	t.Logf("%d sessions written while the rebuild ran", during)
	if during == 0 {
		t.Errorf("no session was written while the rebuild ran: writes were blocked")
	}
	loc, _ := time.LoadLocation("Europe/Amsterdam")
	assertRollupsMatchRaw(t, s, loc, "after a rebuild under writes")
}
