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
	for _, width := range browserWidths {
		t.Run(strconv.FormatInt(width, 10), func(t *testing.T) {
			s := handlertest.Start(t)
			for _, suid := range []string{"csp-1", "csp-2"} {
				linkCustomer(t, s, suid, "sandbox-heatpump", "user_good", "allow")
				linkCustomer(t, s, suid, "sandbox-heatpump", "user_good", "deny")
			}
			b := handlertest.NewConsoleBrowser(t)
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
}
