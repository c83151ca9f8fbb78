package handlers_test

import (
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"noxportal/app"
	"noxportal/devdata"
	"noxportal/handlers/handlertest"
)

// TestBrowserManagerFiltersReportAndDownloadsCSV drives Chromium, on a
// clock at a month boundary (23:30 UTC, already the 1st in the report time
// zone) and on a DST change day: a manager signs in, opens the report over
// the history of that date, changes the range and the brand filter (HTMX
// swaps the report and pushes a URL that names exactly the report on
// screen), picks a start date, reloads the URL, and downloads the brand
// table as CSV with those filters.
func TestBrowserManagerFiltersReportAndDownloadsCSV(t *testing.T) {
	t.Parallel()
	for _, clock := range []time.Time{time.Date(2026, 11, 30, 23, 30, 0, 0, time.UTC), time.Date(2027, 3, 28, 12, 0, 0, 0, time.UTC)} {
		t.Run(clock.Format(time.RFC3339), func(t *testing.T) {
			t.Parallel()
			browseReports(t, clock)
		})
	}
}

func browseReports(t *testing.T, clock time.Time) {
	s := handlertest.StartAt(t, clock)
	ctx := context.Background()
	if err := s.Store.UpsertSupplier(ctx, app.Supplier{ID: app.DevSupplierID, Name: app.DevSupplierName}); err != nil {
		t.Fatal(err)
	}
	if seeded, err := devdata.ReportHistory(ctx, s.Store, s.Now()); err != nil || !seeded {
		t.Fatalf("seed history: seeded=%v err=%v", seeded, err)
	}
	s.MustPortalUser(t, "manager@reports.test", app.RoleManager)
	b := handlertest.NewBrowser(t)

	bars := `document.querySelectorAll('#chart-trend rect.bar-sessions:not(.swatch)').length`
	created := `document.querySelector('#table-funnel tr[data-step="created"] td').textContent`
	must := func(step string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	// settled: no HTMX request or swap in progress, so the swapped form
	// listens again, as it does by the time a person makes the next choice.
	settled := `!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')`
	// urlMatchesForm: the address bar names every field of the form on screen.
	urlMatchesForm := `(() => { const q = new URLSearchParams(location.search); const f = document.getElementById('report-filters');
		return ['range', 'from', 'to', 'supplier', 'brand', 'flow', 'language'].every(k => (q.get(k) || '') === (f.elements[k].value || '')); })()`
	must("sign in", chromedp.Do(b,
		chromedp.EmulateViewport(1360, 900),
		chromedp.Navigate(s.URL+"/login?next=/reports"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), "manager@reports.test"),
		chromedp.SendKeys(chromedp.CSS("#password"), handlertest.TestPassword),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#chart-trend")),
	))
	n, err := chromedp.Run(b, chromedp.Evaluate[int](bars))
	must("count bars", err)
	if n != 30 {
		t.Errorf("trend bars on the default 30-day report: got %d, want 30", n)
	}
	allBrands, err := chromedp.Run(b, chromedp.Evaluate[string](created))
	must("read funnel", err)
	t.Logf("screenshot: %s", handlertest.Screenshot(t, b, "reports", 1360, 900))

	// A 7-day range: HTMX swaps the report and pushes the URL.
	choose := func(id, value string) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](`(() => { const el = document.getElementById('` + id + `'); el.value = '` + value +
			`'; el.dispatchEvent(new Event('change', {bubbles: true})); })()`)
	}
	must("choose 7 days", chromedp.Do(b, choose("f-range", "7"),
		chromedp.Poll[chromedp.Void](bars+` === 7 && `+settled+` && `+urlMatchesForm, chromedp.WithPollingTimeout(20*time.Second))))
	here, err := chromedp.Run(b, chromedp.Location())
	must("location", err)
	if !strings.Contains(here, "range=7") {
		t.Errorf("URL after choosing 7 days: got %q, want range=7 in it", here)
	}
	week, err := chromedp.Run(b, chromedp.Evaluate[string](created))
	must("read funnel", err)

	must("choose a brand", chromedp.Do(b, choose("f-brand", "sandbox-thermostat"),
		chromedp.Poll[chromedp.Void](`location.search.includes('brand=sandbox-thermostat') && `+created+` !== '`+week+`' && `+settled+` && `+urlMatchesForm,
			chromedp.WithPollingTimeout(20*time.Second))))
	rows, err := chromedp.Run(b, chromedp.Evaluate[int](`document.querySelectorAll('#table-brands tbody tr').length`))
	must("brand rows", err)
	if rows != 1 {
		t.Errorf("brand table rows with one brand chosen: got %d, want 1", rows)
	}
	if week == allBrands {
		t.Errorf("funnel did not change from 30 to 7 days: both %s", week)
	}

	// Editing a date switches the range to custom (static/reports.js).
	loc, _ := time.LoadLocation("Europe/Amsterdam")
	from := app.DayOf(s.Now(), loc).AddDate(0, 0, -14).Format("2006-01-02")
	must("choose a start date", chromedp.Do(b, choose("f-from", from),
		chromedp.Poll[chromedp.Void](`location.search.includes('range=custom') && `+bars+` === 15 && `+settled+` && `+urlMatchesForm,
			chromedp.WithPollingTimeout(20*time.Second))))
	shown, err := chromedp.Run(b, chromedp.Evaluate[string](created))
	must("read funnel", err)
	here, err = chromedp.Run(b, chromedp.Location())
	must("location", err)
	must("reload", chromedp.Do(b, chromedp.Navigate(here), chromedp.WaitVisible(chromedp.CSS("#chart-trend"))))
	if again, err := chromedp.Run(b, chromedp.Evaluate[string](created)); err != nil || again != shown {
		t.Errorf("sessions created after reloading %s: got %q (%v), want %q as before", here, again, err, shown)
	}

	// Download the brand table as the browser does, with its cookie.
	csvText, err := chromedp.Run(b, chromedp.Evaluate[string](
		`fetch(document.querySelector('a[data-export="brands"]').href).then(r => r.text())`, chromedp.EvalAwaitPromise))
	must("download CSV", err)
	recs, err := csv.NewReader(strings.NewReader(csvText)).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v\n%s", err, csvText)
	}
	if len(recs) != 2 || recs[1][1] != "sandbox-thermostat" || recs[0][0] != "Brand" {
		t.Errorf("CSV of the brand table for the thermostat brand: got %v, want a header and one sandbox-thermostat row", recs)
	}
}
