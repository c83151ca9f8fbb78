package handlers_test

import (
	"strconv"
	"strings"
	"testing"

	cdp "github.com/chromedp/chromedp"

	"noxportal/handlers/handlertest"
)

// The sandbox supplier's login and terms pages are the supplier's: its name
// heads them, and neither NOX Energy's header nor its footer ("we never
// see your manufacturer password") is there while the user types the
// supplier's password — on a laptop and on a phone.
func TestBrowserSandboxSupplierPagesLookLikeTheSupplier(t *testing.T) {
	eachWidth(t, func(t *testing.T, s *handlertest.Server, width int64) {
		mfr := handlertest.StartManufacturerApp(t)
		link := s.MustCreateSupplierLink(t, "look-"+strconv.FormatInt(width, 10), mfr.CallbackURL, "HP-L1")
		b := consoleAt(t, width)
		tile := `button[data-supplier="` + s.Config.Sandbox.Supplier.ID + `"]`
		// The selector lists its suppliers from the start (a sandbox
		// manufacturer's link only the sandbox supplier): click the tile as
		// served. Typing a search first swaps the list under the click.
		b.Do(cdp.Navigate(link["link_url"].(string)), cdp.WaitVisible(cdp.CSS(tile)),
			cdp.Click(cdp.CSS(tile)), cdp.WaitVisible(cdp.CSS(`#password`)))
		look := func(page string) {
			t.Helper()
			if got := b.Text(`header.topbar`); !strings.Contains(got, s.Config.Sandbox.Supplier.Name) || strings.Contains(got, "NOX") {
				t.Errorf("%s: header %q, want the supplier's name and not NOX Energy's", page, got)
			}
			if n := b.Eval(`String(document.querySelectorAll("footer.footer").length)`); n != "0" {
				t.Errorf("%s: NOX Energy's footer is on the supplier's page", page)
			}
			b.WantNoOverflow()
		}
		look("login")
		b.Do(cdp.SendKeys(cdp.CSS(`#username`), "user_good"), cdp.SendKeys(cdp.CSS(`#password`), "pass_good"),
			cdp.Click(cdp.CSS(`form[action="/sandbox-supplier/login"] button[type="submit"]`)), cdp.WaitVisible(cdp.CSS(`#accept_terms`)))
		look("terms")
	})
}
