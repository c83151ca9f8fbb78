package handlers_test

import (
	"strconv"
	"strings"
	"testing"

	cdp "github.com/chromedp/chromedp"

	"noxportal/app"
	"noxportal/handlers/handlertest"
)

// An agent searches (HTMX swaps the results and pushes the URL), opens a
// customer, goes Back (HTMX restores the search), Forward and Back again:
// the browser reports no Content-Security-Policy violation or script error
// on any of it (NewBrowser fails the test on either), on a laptop and on a
// phone.
func TestBrowserConsoleBackAfterSearchKeepsTheCSP(t *testing.T) {
	eachWidth(t, func(t *testing.T, s *handlertest.Server, width int64) {
		for _, suid := range []string{"csp-1", "csp-2"} {
			linkCustomer(t, s, suid, "sandbox-heatpump", "user_good", "allow")
			linkCustomer(t, s, suid, "sandbox-heatpump", "user_good", "deny")
		}
		b := handlertest.NewOwnConsoleBrowser(t)
		signInAs(t, s, b, "agent@csp.test", app.RoleAgent)
		b.Resize(width)
		b.Do(cdp.Navigate(s.URL+"/console"), cdp.WaitVisible(cdp.CSS("#q")),
			cdp.SendKeys(cdp.CSS("#q"), "csp-"), cdp.WaitVisible(cdp.CSS(`a[data-user="csp-1"]`)))
		b.WaitURL("q=csp-")
		b.Do(cdp.Click(cdp.CSS(`a[data-user="csp-1"]`)), cdp.WaitVisible(cdp.CSS("#timeline")))
		b.Do(cdp.NavigateBack(), cdp.WaitVisible(cdp.CSS(`a[data-user="csp-2"]`)))
		b.WantNoOverflow()
		b.Do(cdp.NavigateForward(), cdp.WaitVisible(cdp.CSS("#timeline")), cdp.NavigateBack(), cdp.WaitVisible(cdp.CSS(`a[data-user="csp-1"]`)))
		if loc := b.Location(); !strings.Contains(loc, "q=csp-") {
			t.Errorf("after Back: at %s, want the search", loc)
		}
		b.WantNoOverflow()
	})
}

// noInlineStyle is true when htmx was configured (meta htmx-config) not to
// add its indicator styles and no <style> element or style attribute is on
// the page: under style-src 'self' either would be a CSP violation.
const noInlineStyle = `htmx.config.includeIndicatorStyles === false && document.querySelectorAll("style, [style]").length === 0`

// The three HTMX interactions that used to report style-src violations —
// a comfort save, the console after Back, a report filter change — report
// none (NewBrowser fails the test on any), and the cause, htmx's inline
// indicator styles, stays off: on a laptop and on a phone.
func TestBrowserHTMXSwapsKeepTheCSP(t *testing.T) {
	eachWidth(t, func(t *testing.T, s *handlertest.Server, width int64) {
		linkCustomer(t, s, "csp-swap", "sandbox-heatpump", "user_good", "allow")
		b := handlertest.NewOwnConsoleBrowser(t)
		b.Resize(width)
		want := func(where string) {
			t.Helper()
			if got := b.Eval(`String(` + noInlineStyle + `)`); got != "true" {
				t.Errorf("%s: inline styles on the page or htmx indicator styles on", where)
			}
		}

		// A customer saves comfort bounds twice (HTMX swaps the editor).
		signInAs(t, s, b, "customer@csp.test", app.RoleCustomer)
		b.Do(cdp.Navigate(s.URL+"/account"), cdp.WaitVisible(cdp.CSS("#comfort form")))
		for i, hi := range []string{"22", "23"} {
			b.Do(cdp.SetValue(cdp.CSS("#indoor_min_c"), "20"), cdp.SetValue(cdp.CSS("#indoor_max_c"), hi),
				cdp.Click(cdp.CSS(`button[data-action="save-comfort"]`)),
				cdp.WaitVisible(cdp.CSS(`[data-comfort-version="`+strconv.Itoa(i+1)+`"]`)))
		}
		want("comfort saved")

		// An agent searches, opens the customer and goes Back.
		agent := consoleAt(t, width)
		signInAs(t, s, agent, "agent@csp-swap.test", app.RoleAgent)
		agent.Do(cdp.Navigate(s.URL+"/console"), cdp.WaitVisible(cdp.CSS("#q")),
			cdp.SendKeys(cdp.CSS("#q"), "csp-swap"), cdp.WaitVisible(cdp.CSS(`a[data-user="csp-swap"]`)))
		agent.WaitURL("q=csp-swap")
		agent.Do(cdp.Click(cdp.CSS(`a[data-user="csp-swap"]`)), cdp.WaitVisible(cdp.CSS("#timeline")),
			cdp.NavigateBack(), cdp.WaitVisible(cdp.CSS(`a[data-user="csp-swap"]`)))
		if got := agent.Eval(`String(` + noInlineStyle + `)`); got != "true" {
			t.Errorf("console after Back: inline styles on the page or htmx indicator styles on")
		}

		// A manager changes the report's range and brand.
		manager := consoleAt(t, width)
		signInAs(t, s, manager, "manager@csp-swap.test", app.RoleManager)
		manager.Do(cdp.Navigate(s.URL+"/reports"), cdp.WaitVisible(cdp.CSS("#report-filters")))
		for _, f := range [][2]string{{"f-range", "7"}, {"f-brand", "sandbox-heatpump"}} {
			manager.Do(cdp.Evaluate[cdp.Void](`(() => { const el = document.getElementById('` + f[0] + `'); el.value = '` + f[1] +
				`'; el.dispatchEvent(new Event('change', {bubbles: true})); })()`))
			manager.WaitURL(strings.TrimPrefix(f[0], "f-") + "=" + f[1])
			manager.Do(cdp.Poll[cdp.Void](`!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')`))
		}
		if got := manager.Eval(`String(` + noInlineStyle + `)`); got != "true" {
			t.Errorf("report after filter changes: inline styles on the page or htmx indicator styles on")
		}
		manager.WantNoOverflow()
	})
}
