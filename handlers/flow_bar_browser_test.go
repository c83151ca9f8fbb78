package handlers_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
	"testing"

	cdp "github.com/chromedp/chromedp"

	"noxportal/app"
	"noxportal/handlers/handlertest"
)

// A user of a supplier's link sees where they are (brand → sign in →
// done), switches to Dutch without losing the link or the step, names a
// brand that is not listed (a name too short is refused), links a device
// and, opening the link again, sees the last step done; a manager finds
// the asked-for brand counted for that supplier — on a laptop and on a
// phone.
func TestBrowserHostedFlowStepsLanguageAndMissingBrand(t *testing.T) {
	eachWidth(t, func(t *testing.T, s *handlertest.Server, width int64) {
		ctx := context.Background()
		site := handlertest.StartSupplierSite(t)
		linkURL, token := browserLink(t, s, site, "flowbar-"+strconv.FormatInt(width, 10), "en")
		b := consoleAt(t, width)
		b.Do(cdp.Navigate(linkURL), cdp.WaitVisible(cdp.CSS(`button[data-brand="sandbox-heatpump"]`)))
		if got := b.Eval(`document.querySelector('.flow-steps [aria-current="step"]').dataset.step`); got != "1" {
			t.Errorf("brand page: current step %q, want 1", got)
		}
		b.WantNoOverflow()

		b.Do(cdp.Click(cdp.CSS(`.flow-lang a[data-lang="nl"]`)), cdp.WaitVisible(cdp.CSS(`html[lang="nl"]`)),
			cdp.WaitVisible(cdp.CSS(`button[data-brand="sandbox-heatpump"]`)))
		if loc := b.Location(); !strings.Contains(loc, "token="+token) {
			t.Errorf("after switching language: at %s, want the same link", loc)
		}
		if got := b.Text(`.flow-steps [data-step="2"]`); !strings.Contains(got, "Inloggen") {
			t.Errorf("steps in Dutch: got %q", got)
		}
		var lang string
		if err := s.Store.DB().GetContext(ctx, &lang, `SELECT language FROM link_sessions WHERE supplier_user_id = $1`,
			"flowbar-"+strconv.FormatInt(width, 10)); err != nil || lang != "nl" {
			t.Errorf("session language %q (%v), want nl kept for the next pages", lang, err)
		}
		b.Screenshot("flow-brands-nl-" + strconv.FormatInt(width, 10))

		b.Do(cdp.Click(cdp.CSS(`[data-action="brand-not-listed"]`)), cdp.WaitVisible(cdp.CSS(`#brand-name`)),
			cdp.SendKeys(cdp.CSS(`#brand-name`), "x"), cdp.Click(cdp.CSS(`button[data-action="send-brand-request"]`)),
			cdp.WaitVisible(cdp.CSS(`[data-error="brand_name"]`)))
		b.Do(cdp.SetValue(cdp.CSS(`#brand-name`), "  Vaillant   aroTHERM "), cdp.Click(cdp.CSS(`button[data-action="send-brand-request"]`)),
			cdp.WaitVisible(cdp.CSS(`[data-brand-request="saved"]`)))
		if got := b.Text(`[data-brand-request="saved"]`); !strings.Contains(got, "Vaillant aroTHERM") {
			t.Errorf("thanks: got %q", got)
		}
		if loc := b.Location(); !strings.Contains(loc, "/connect?token=") {
			t.Errorf("the request left the brand page: %s", loc)
		}
		b.WantNoOverflow()

		b.Do(cdp.Click(cdp.CSS(`button[data-brand="sandbox-heatpump"]`)), signInAtManufacturer("user_good"),
			cdp.WaitVisible(cdp.CSS(`#supplier-callback`)))
		b.Do(cdp.Navigate(linkURL), cdp.WaitVisible(cdp.CSS(`.flow-steps`)))
		if got := b.Eval(`document.querySelector('.flow-steps [aria-current="step"]').dataset.step`); got != "3" {
			t.Errorf("opened again after linking: current step %q, want 3 (done)", got)
		}
		if got := b.Eval(`document.documentElement.lang`); got != "nl" {
			t.Errorf("the page after linking is in %q, want the chosen nl", got)
		}
		b.WantNoOverflow()

		manager := consoleAt(t, width)
		signInAs(t, s, manager, "manager@flowbar.test", app.RoleManager)
		manager.Do(cdp.Navigate(s.URL+"/reports"), cdp.WaitVisible(cdp.CSS(`#table-asked`)))
		row := manager.Eval(`[...document.querySelectorAll('#table-asked tr[data-asked-supplier="` + s.SupplierID + `"] > *')].map(c => c.textContent).join("|")`)
		if !strings.Contains(row, "Test Energy") || !strings.Contains(row, "Vaillant aroTHERM") || !strings.HasSuffix(row, "|1") {
			t.Errorf("brands asked for: row %q, want Test Energy, Vaillant aroTHERM, 1", row)
		}
		// The same table as a CSV file, downloaded with the manager's cookie.
		csvText := manager.Fetch(manager.Eval(`document.querySelector('a[data-export="asked"]').href`))
		recs, err := csv.NewReader(strings.NewReader(csvText)).ReadAll()
		if err != nil {
			t.Fatalf("asked-for CSV does not parse: %v\n%s", err, csvText)
		}
		want := [][]string{{"Supplier", "Identifier", "Brand", "Requests"}, {"Test Energy", s.SupplierID, "Vaillant aroTHERM", "1"}}
		if fmt.Sprint(recs) != fmt.Sprint(want) {
			t.Errorf("asked-for CSV: got %q, want %q", recs, want)
		}
		manager.WantNoOverflow()
	})
}
