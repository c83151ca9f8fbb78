package handlers_test

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"

	cdp "github.com/chromedp/chromedp"

	"noxportal/handlers/handlertest"
)

// A manufacturer account with two devices: after signing in the user sees
// both, selected; choosing none is refused with a clear error and changes
// nothing; choosing one links only that one — the mapping and the
// link.connected webhook carry it alone — and returns to the supplier with
// the documented query. On a laptop and on a phone.
func TestBrowserUserChoosesWhichDevicesToLink(t *testing.T) {
	eachWidth(t, func(t *testing.T, s *handlertest.Server, width int64) {
		hooks := handlertest.NewReceiver(t, nil)
		s.MustRegisterWebhook(t, s.APIKey, hooks)
		site := handlertest.StartSupplierSite(t)
		user := "multi-" + strconv.FormatInt(width, 10)
		linkURL, _ := browserLink(t, s, site, user, "en")
		b := consoleAt(t, width)
		b.Do(cdp.Navigate(linkURL), cdp.Click(cdp.CSS(`button[data-brand="sandbox-heatpump"]`)),
			signInAtManufacturer("user_multi"), cdp.WaitVisible(cdp.CSS(`form[data-form="devices"]`)))
		all := sandboxDeviceIDs("user_multi")
		got := b.Eval(`[...document.querySelectorAll('input[name="device"]')].map(i => i.value + (i.checked ? "+" : "-")).sort().join(",")`)
		if want := all[0] + "+," + all[1] + "+"; got != want {
			t.Fatalf("device choice: got %s, want both devices selected (%s)", got, want)
		}
		if got := b.Text(`h1`); got != "Choose the devices to link" {
			t.Errorf("title %q", got)
		}
		if got := b.Text(`.card p.muted`); !strings.Contains(got, "2 devices") {
			t.Errorf("intro %q, want it to count 2 devices", got)
		}
		if got := b.Eval(`document.querySelector('.flow-steps [aria-current="step"]').dataset.step`); got != "3" {
			t.Errorf("current step %q, want 3", got)
		}
		b.WantNoOverflow()
		b.Screenshot("flow-devices-" + strconv.FormatInt(width, 10))

		// The language switcher keeps the choice: Dutch, then back.
		b.Do(cdp.Click(cdp.CSS(`.flow-lang a[data-lang="nl"]`)), cdp.WaitVisible(cdp.CSS(`html[lang="nl"]`)),
			cdp.WaitVisible(cdp.CSS(`form[data-form="devices"]`)))
		if got := b.Text(`h1`); got != "Kies de apparaten om te koppelen" {
			t.Errorf("device choice in Dutch: title %q", got)
		}
		b.Do(cdp.Click(cdp.CSS(`.flow-lang a[data-lang="en"]`)), cdp.WaitVisible(cdp.CSS(`html[lang="en"]`)),
			cdp.WaitVisible(cdp.CSS(`form[data-form="devices"]`)))

		// None chosen: refused, nothing linked, the page stays.
		b.Do(cdp.Evaluate[cdp.Void](`document.querySelectorAll('input[name="device"]').forEach(i => { i.checked = false })`),
			cdp.Click(cdp.CSS(`button[data-action="link-devices"]`)), cdp.WaitVisible(cdp.CSS(`[data-error="devices"]`)))
		if got := b.Text(`[data-error="devices"]`); !strings.Contains(got, "at least one device") {
			t.Errorf("none chosen: got %q", got)
		}
		if got := b.Eval(`String(document.querySelectorAll('input[name="device"]:checked').length)`); got != "0" {
			t.Errorf("after an empty choice %s devices are selected again, want the empty choice kept", got)
		}
		if n := count(t, s, `SELECT count(*) FROM devices`); n != 0 {
			t.Errorf("devices after an empty choice: %d, want 0", n)
		}
		if n := count(t, s, `SELECT count(*) FROM link_sessions WHERE status = 'authorizing'`); n != 1 {
			t.Errorf("the session left authorizing after an empty choice")
		}
		b.WantNoOverflow()

		// One chosen: only that one is linked.
		choiceURL := b.Location()
		b.Do(cdp.Click(cdp.CSS(`input[name="device"][value="`+all[1]+`"]`)),
			cdp.Click(cdp.CSS(`button[data-action="link-devices"]`)), cdp.WaitVisible(cdp.ID("supplier-callback")))
		back, err := url.Parse(b.Location())
		if err != nil || back.Scheme+"://"+back.Host+back.Path != site.CallbackURL {
			t.Fatalf("after choosing: at %s, want the supplier's callback", b.Location())
		}
		q := back.Query()
		wantSupplierQuery(t, q, map[string]string{"connection_status": "connected", "supplier_user_id": user, "manufacturer": "sandbox-heatpump"})
		if got := devicesOf(t, s, q.Get("nox_user_id")); fmt.Sprint(got) != fmt.Sprint([]string{all[1]}) {
			t.Errorf("linked devices %v, want only %s", got, all[1])
		}
		ws := hooks.WaitFor(t, "link.connected", func(ws []handlertest.Webhook) bool {
			return len(handlertest.OfType(ws, "link.connected")) > 0
		})
		ids := handlertest.OfType(ws, "link.connected")[0].Data["device_ids"]
		if fmt.Sprint(ids) != fmt.Sprint([]any{all[1]}) {
			t.Errorf("link.connected device_ids %v, want only %s", ids, all[1])
		}
		if n := count(t, s, `SELECT count(*) FROM link_device_choices`); n != 0 {
			t.Errorf("the kept tokens outlived the choice: %d rows", n)
		}
		if n := count(t, s, `SELECT count(*) FROM link_events WHERE type = 'devices_found' AND detail = '2 device(s)'`); n != 1 {
			t.Errorf("devices_found events: %d, want 1", n)
		}
		// The choice cannot be made twice.
		b.Do(cdp.Navigate(choiceURL), cdp.WaitVisible(cdp.CSS(`h1`)))
		if got := b.Text(`h1`); got != "This choice is no longer open" {
			t.Errorf("the choice page after linking: %q", got)
		}
	})
}
