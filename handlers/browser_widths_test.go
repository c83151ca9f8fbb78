package handlers_test

import (
	"strconv"
	"testing"

	cdp "github.com/chromedp/chromedp"

	"noxportal/handlers/handlertest"
)

// browserWidths are the widths every browser test of the portal runs at:
// a laptop and a phone.
var browserWidths = []int64{1280, 375}

// eachWidth runs check at every one of browserWidths, in parallel, each
// with a server of its own.
func eachWidth(t *testing.T, check func(t *testing.T, s *handlertest.Server, width int64)) {
	t.Parallel()
	for _, width := range browserWidths {
		t.Run(strconv.FormatInt(width, 10), func(t *testing.T) {
			t.Parallel()
			check(t, handlertest.Start(t), width)
		})
	}
}

// consoleAt opens a tab of the shared browser at width; like every test
// browser it fails the test on a CSP violation or a script error.
func consoleAt(t *testing.T, width int64) *handlertest.ConsoleBrowser {
	b := handlertest.NewConsoleBrowser(t)
	b.Resize(width)
	return b
}

// signInAs creates a portal account with role and signs the tab in as it.
func signInAs(t *testing.T, s *handlertest.Server, b *handlertest.ConsoleBrowser, email, role string) {
	t.Helper()
	s.MustPortalUser(t, email, role)
	b.Do(cdp.Navigate(s.URL+"/login"), cdp.WaitVisible(cdp.CSS("#email")),
		cdp.SendKeys(cdp.CSS("#email"), email), cdp.SendKeys(cdp.CSS("#password"), handlertest.TestPassword),
		cdp.Click(cdp.CSS(`form[action="/login"] button[type="submit"]`)), cdp.WaitVisible(cdp.CSS(".user-menu")))
}
