package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"noxportal/app"
	"noxportal/devdata"
	"noxportal/handlers/handlertest"
)

// testClocks are the instants the reports, console and dashboard tests
// run at, where a date is easy to get wrong: 23:30 UTC
// on the last day of a month (the report time zone, Europe/Amsterdam, is
// already in the next one), the day summer time starts, and 23:30 UTC on
// the day it ends.
var testClocks = []struct {
	name  string
	at    time.Time
	today string // the report day in Europe/Amsterdam
}{
	{"month boundary, 23:30 UTC", time.Date(2026, 11, 30, 23, 30, 0, 0, time.UTC), "2026-12-01"},
	{"DST starts", time.Date(2027, 3, 28, 12, 0, 0, 0, time.UTC), "2027-03-28"},
	{"DST ends, 23:30 UTC", time.Date(2026, 10, 25, 23, 30, 0, 0, time.UTC), "2026-10-26"},
}

// TestReportPeriodAndURLFollowTheClock runs the report at each of
// testClocks over a history dated by the same clock: the default and
// preset ranges end on the report day, a form that still carries the
// previous range's dates is answered with (and pushes) the URL of the
// report on screen, that URL reloaded shows the same numbers, and every
// count equals the sessions created on those days in the report time zone.
func TestReportPeriodAndURLFollowTheClock(t *testing.T) {
	t.Parallel()
	for _, clock := range testClocks {
		t.Run(clock.name, func(t *testing.T) {
			t.Parallel()
			s := handlertest.StartAt(t, clock.at)
			ctx := context.Background()
			if err := s.Store.UpsertSupplier(ctx, app.Supplier{ID: app.DevSupplierID, Name: app.DevSupplierName}); err != nil {
				t.Fatal(err)
			}
			if seeded, err := devdata.ReportHistory(ctx, s.Store, s.Now()); err != nil || !seeded {
				t.Fatalf("seed history: seeded=%v err=%v", seeded, err)
			}
			_, c := s.MustLogin(t, "manager@clock.test", app.RoleManager)
			loc, _ := time.LoadLocation("Europe/Amsterdam")
			today, _ := time.ParseInLocation("2006-01-02", clock.today, loc)
			day := func(back int) string { return today.AddDate(0, 0, -back).Format("2006-01-02") }

			p := handlertest.Get(t, c, s.URL+"/reports")
			if got := [2]string{fieldValue(p, "f-from"), fieldValue(p, "f-to")}; got != [2]string{day(29), day(0)} {
				t.Errorf("default period: got %v, want the 30 days %s to %s", got, day(29), day(0))
			}
			if n := trendBars(p); n != 30 {
				t.Errorf("trend bars of the default period: got %d, want 30", n)
			}
			checkCreated(t, s, p, day(29), day(0))

			// The form after choosing 7 days still holds the 30-day dates.
			stale := url.Values{"range": {"7"}, "from": {day(29)}, "to": {day(0)}, "brand": {"sandbox-thermostat"}}
			req, _ := http.NewRequest(http.MethodGet, s.URL+"/reports?"+stale.Encode(), nil)
			req.Header.Set("HX-Request", "true")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			frag := handlertest.ReadPage(t, resp)
			want := url.Values{"range": {"7"}, "from": {day(6)}, "to": {day(0)}, "brand": {"sandbox-thermostat"}}
			pushed := resp.Header.Get("HX-Push-Url")
			if pushed != "/reports?"+want.Encode() {
				t.Fatalf("pushed URL after choosing 7 days: got %q, want %q", pushed, "/reports?"+want.Encode())
			}
			if got := [2]string{fieldValue(frag, "f-from"), fieldValue(frag, "f-to")}; got != [2]string{day(6), day(0)} {
				t.Errorf("dates in the swapped form: got %v, want %s to %s", got, day(6), day(0))
			}
			reloaded := handlertest.Get(t, c, s.URL+pushed)
			if a, b := cellText(t, frag, "table-funnel", "data-step", "created", 1), cellText(t, reloaded, "table-funnel", "data-step", "created", 1); a != b {
				t.Errorf("sessions created: %s on screen, %s after reloading the pushed URL", a, b)
			}
			checkCreated(t, s, reloaded, day(6), day(0), "sandbox-thermostat")

			// A shared 7-day link keeps its days (as custom) once they no
			// longer end today; a custom range keeps its own days.
			shared := handlertest.Get(t, c, s.URL+"/reports?"+url.Values{"range": {"7"}, "from": {day(13)}, "to": {day(7)}}.Encode())
			if got := selectedRange(shared); got != "custom" {
				t.Errorf("range of a 7-day link that ended a week ago: got %q, want custom", got)
			}
			checkCreated(t, s, shared, day(13), day(7))
			custom := handlertest.Get(t, c, s.URL+"/reports?"+url.Values{"range": {"custom"}, "from": {day(40)}, "to": {day(0)}}.Encode())
			if n := trendBars(custom); n != 41 {
				t.Errorf("trend bars of a 41-day custom range: got %d, want 41", n)
			}
			checkCreated(t, s, custom, day(40), day(0))
		})
	}
}

// checkCreated compares the funnel's "created" count with the sessions
// created from..to (inclusive, Europe/Amsterdam days), of one brand when given.
func checkCreated(tb testing.TB, s *handlertest.Server, p handlertest.Page, from, to string, brand ...string) {
	tb.Helper()
	var want int
	q := `SELECT count(*) FROM link_sessions
		WHERE (created_at AT TIME ZONE 'Europe/Amsterdam')::date BETWEEN $1::date AND $2::date`
	args := []any{from, to}
	if len(brand) > 0 {
		q += ` AND manufacturer_id = $3`
		args = append(args, brand[0])
	}
	if err := s.Store.DB().Get(&want, q, args...); err != nil {
		tb.Fatal(err)
	}
	got := strings.NewReplacer(",", "", ".", "", "\u00a0", "", " ", "").Replace(cellText(tb, p, "table-funnel", "data-step", "created", 1))
	if got != strconv.Itoa(want) || want == 0 {
		tb.Errorf("sessions created %s to %s %v: report shows %q, the sessions table has %d", from, to, brand, got, want)
	}
}

func fieldValue(p handlertest.Page, id string) string {
	n := handlertest.Find(p.Doc, func(n *html.Node) bool { return handlertest.Attr(n, "id") == id })
	if n == nil {
		return ""
	}
	return handlertest.Attr(n, "value")
}

func selectedRange(p handlertest.Page) string {
	sel := handlertest.Find(p.Doc, func(n *html.Node) bool { return handlertest.Attr(n, "id") == "f-range" })
	if sel == nil {
		return ""
	}
	opt := handlertest.Find(sel, func(n *html.Node) bool { return n.Data == "option" && hasAttr(n, "selected") })
	if opt == nil {
		return ""
	}
	return handlertest.Attr(opt, "value")
}

func trendBars(p handlertest.Page) int {
	chart := handlertest.Find(p.Doc, func(n *html.Node) bool { return handlertest.Attr(n, "id") == "chart-trend" })
	if chart == nil {
		return -1
	}
	return len(handlertest.FindAll(chart, func(n *html.Node) bool {
		return n.Data == "rect" && handlertest.Attr(n, "class") == "bar-sessions"
	}))
}
