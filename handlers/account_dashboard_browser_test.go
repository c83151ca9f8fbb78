package handlers_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	cdp "github.com/chromedp/chromedp"

	"noxportal/app"
	"noxportal/handlers/handlertest"
)

// idBreaksOnlyAfterSeparators is JavaScript that measures where the text of
// the element sel wraps: it returns "lines:N" when every line ends after a
// separator (- _ . : /), else the character a line broke after.
const idBreaksOnlyAfterSeparators = `(() => {
	const el = document.querySelector(%q);
	if (!el) return "missing";
	const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
	const chars = [];
	for (let n = walk.nextNode(); n; n = walk.nextNode()) {
		for (let i = 0; i < n.length; i++) {
			const r = document.createRange(); r.setStart(n, i); r.setEnd(n, i + 1);
			const rect = r.getClientRects()[0];
			if (rect) chars.push([n.data[i], rect.top]);
		}
	}
	let lines = 1;
	for (let i = 1; i < chars.length; i++) {
		if (chars[i][1] > chars[i-1][1] + 2) {
			lines++;
			if (!"-_.:/".includes(chars[i-1][0])) return "broke after " + JSON.stringify(chars[i-1][0]) + " at " + i;
		}
	}
	return "lines:" + lines;
})()`

// focused evaluates js, which names the focused element, until it says want
// (HTMX moves the focus when the swap settles) or 3 seconds have passed,
// and returns its last answer.
func focused(b *handlertest.ConsoleBrowser, js, want string) string {
	var got string
	for i := 0; i < 30; i++ {
		if got = b.Eval(js); got == want {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return got
}

// A customer with a browser in New York connects a manufacturer account
// with two devices, reads their times in their own zone, chooses another
// zone in the settings, disconnects a device, saves comfort bounds with the
// keyboard focus where the outcome is, continues a connection left
// half-way and finds support — on a laptop and on a phone.
func TestBrowserCustomerDashboardSpeaksTheCustomersLanguage(t *testing.T) {
	eachWidth(t, func(t *testing.T, s *handlertest.Server, width int64) {
		ctx := context.Background()
		email := "zone-" + strconv.FormatInt(width, 10) + "@example.test"
		u := s.MustPortalUser(t, email, app.RoleCustomer)
		b := handlertest.NewConsoleBrowser(t)
		b.SetTimeZone("America/New_York")
		b.Resize(width)
		b.Do(cdp.Navigate(s.URL+"/login"), cdp.WaitVisible(cdp.CSS("#email")),
			cdp.SendKeys(cdp.CSS("#email"), email), cdp.SendKeys(cdp.CSS("#password"), handlertest.TestPassword),
			cdp.Click(cdp.CSS(`form[action="/login"] button[type="submit"]`)), cdp.WaitVisible(cdp.CSS(`.empty-state`)))

		// Two devices in one manufacturer account: the banner counts them.
		b.Do(cdp.Click(cdp.CSS(`button[data-action="connect"]`)),
			cdp.WaitVisible(cdp.CSS(`button[data-brand="sandbox-heatpump"]`)),
			cdp.Click(cdp.CSS(`button[data-brand="sandbox-heatpump"]`)),
			signInAtManufacturer("user_multi"),
			keepAllDevices(),
			cdp.WaitVisible(cdp.CSS(`[data-status="connected"]`)))
		if got := b.Text(`[data-banner]`); !strings.Contains(got, "2 Sandbox Heat Pumps devices are connected") {
			t.Errorf("banner after connecting two devices: got %q", got)
		}
		if got := b.Text(`[data-meta="connected_since"] time`); !strings.HasSuffix(got, "EST") && !strings.HasSuffix(got, "EDT") {
			t.Errorf("connected since %q, want New York time", got)
		}
		var stored string
		if err := s.Store.DB().GetContext(ctx, &stored, `SELECT time_zone FROM portal_users WHERE id = $1`, u.ID); err != nil || stored != "America/New_York" {
			t.Errorf("stored zone %q (%v), want the browser's America/New_York", stored, err)
		}
		b.WantNoOverflow()

		// A long device id wraps between its parts only.
		long := "hp-4F2A9C7E_0017_4B8E-9D33-5C1E2A7B90FF.zone-main:circuit-2"
		if _, err := s.Store.DB().ExecContext(ctx, `INSERT INTO devices (nox_user_id, manufacturer_id, external_id, name, model, status, connected_at)
			VALUES ($1, 'sandbox-heatpump', $2, 'Attic', 'HP-9', 'connected', now() - interval '1 day')`, u.NoxUserID, long); err != nil {
			t.Fatal(err)
		}
		b.Do(cdp.Navigate(s.URL+"/account"), cdp.WaitVisible(cdp.CSS(`[data-device="`+long+`"]`)))
		got := b.Eval(strings.Replace(idBreaksOnlyAfterSeparators, "%q", strconv.Quote(`[data-device="`+long+`"] .id-breaks code`), 1))
		if !strings.HasPrefix(got, "lines:") || (width == 375 && got == "lines:1") {
			t.Errorf("device id at %d px: %s, want it wrapped after separators only", width, got)
		}
		b.WantNoOverflow()
		b.Screenshot("dashboard-details-" + strconv.FormatInt(width, 10))

		// A disconnected device says when it was disconnected, not "connected since".
		var first string
		if err := s.Store.DB().GetContext(ctx, &first, `SELECT external_id FROM devices WHERE nox_user_id = $1 AND external_id <> $2 ORDER BY external_id LIMIT 1`,
			u.NoxUserID, long); err != nil {
			t.Fatal(err)
		}
		card := `[data-device="` + first + `"]`
		b.Do(cdp.Click(cdp.CSS(card+` a[data-action="disconnect"]`)),
			cdp.WaitVisible(cdp.CSS(`button[data-action="confirm-disconnect"]`)),
			cdp.Click(cdp.CSS(`button[data-action="confirm-disconnect"]`)),
			cdp.WaitVisible(cdp.CSS(card+` [data-status="disconnected"]`)),
			cdp.WaitVisible(cdp.CSS(card+` [data-meta="disconnected_on"]`)))
		if n := b.Eval(`String(document.querySelectorAll('` + card + ` [data-meta="connected_since"]').length)`); n != "0" {
			t.Errorf("a disconnected device still says connected since (%s)", n)
		}

		// After an HTMX save the focus is on what the save says.
		b.Do(cdp.SetValue(cdp.CSS(`#indoor_min_c`), "21.8"), cdp.SetValue(cdp.CSS(`#indoor_max_c`), "22"),
			cdp.Click(cdp.CSS(`button[data-action="save-comfort"]`)), cdp.WaitVisible(cdp.CSS(`[data-error="indoor_max_c"]`)))
		if id := focused(b, `document.activeElement.id`, "indoor_max_c"); id != "indoor_max_c" {
			t.Errorf("focus after a refused save: %q, want the field in error", id)
		}
		b.Do(cdp.SetValue(cdp.CSS(`#indoor_max_c`), "23"),
			cdp.Click(cdp.CSS(`button[data-action="save-comfort"]`)), cdp.WaitVisible(cdp.CSS(`[data-comfort="saved"]`)))
		if got := focused(b, `document.activeElement.getAttribute("data-comfort") || document.activeElement.tagName`, "saved"); got != "saved" {
			t.Errorf("focus after saving: %q, want the saved notice", got)
		}

		// The customer chooses a zone; it wins over the browser's.
		b.Do(cdp.Click(cdp.CSS(`a[href="/account/settings"]`)), cdp.WaitVisible(cdp.CSS(`#time_zone`)))
		b.WantNoOverflow()
		if got := b.Text(`[data-zone]`); !strings.Contains(got, "America/New_York") {
			t.Errorf("settings before choosing: %q, want the browser's zone", got)
		}
		b.Do(cdp.SetValue(cdp.CSS(`#time_zone`), "Asia/Tokyo"), cdp.Click(cdp.CSS(`button[data-action="save-settings"]`)),
			cdp.WaitVisible(cdp.CSS(`[data-settings="saved"]`)))
		if got := focused(b, `document.activeElement.getAttribute("data-settings") || document.activeElement.tagName`, "saved"); got != "saved" {
			t.Errorf("focus after saving the zone: %q, want the saved notice", got)
		}
		if loc := b.Location(); !strings.HasSuffix(loc, "/account/settings") {
			t.Errorf("the zone save left the page: %s", loc)
		}
		b.Screenshot("settings-" + strconv.FormatInt(width, 10))
		b.Do(cdp.Navigate(s.URL+"/account"), cdp.WaitVisible(cdp.CSS(`[data-meta="connected_since"]`)))
		if got := b.Text(`[data-meta="connected_since"] time`); !strings.HasSuffix(got, "JST") {
			t.Errorf("connected since %q after choosing Tokyo, want JST", got)
		}

		// A connection left half-way can be continued or cancelled.
		b.Do(cdp.Click(cdp.CSS(`button[data-action="connect"]`)), cdp.WaitVisible(cdp.CSS(`button[data-brand="sandbox-heatpump"]`)),
			cdp.Navigate(s.URL+"/account"), cdp.WaitVisible(cdp.CSS(`button[data-action="continue-link"]`)),
			cdp.WaitVisible(cdp.CSS(`button[data-action="cancel-link"]`)))
		b.WantNoOverflow()
		b.Do(cdp.Click(cdp.CSS(`button[data-action="continue-link"]`)), cdp.WaitVisible(cdp.CSS(`button[data-brand="sandbox-heatpump"]`)))
		if loc := b.Location(); !strings.Contains(loc, "/connect?token=") {
			t.Errorf("continue opened %s, want the hosted flow", loc)
		}

		// An error banner leads to a page that says how to reach support.
		b.Do(cdp.Navigate(s.URL+"/account?done=access_denied&brand=sandbox-heatpump"),
			cdp.WaitVisible(cdp.CSS(`[data-action="contact-support"]`)),
			cdp.Click(cdp.CSS(`[data-action="contact-support"]`)), cdp.WaitVisible(cdp.CSS(`[data-support-email]`)))
		if href := b.Eval(`document.querySelector("[data-support-email]").getAttribute("href")`); !strings.HasPrefix(href, "mailto:support@nox.example?subject=") {
			t.Errorf("support link %q, want a mailto with a subject", href)
		}
		if got := b.Text(`main`); !strings.Contains(got, email) {
			t.Errorf("help page does not name the account %s to quote", email)
		}
		b.WantNoOverflow()
	})
}
