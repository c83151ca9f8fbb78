package handlers_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"noxportal/app"
	"noxportal/handlers/handlertest"
)

type css = chromedp.CSS

// signInAtManufacturer signs in at the sandbox manufacturer's login page
// and allows access.
func signInAtManufacturer(username string) chromedp.Action[chromedp.Void] {
	return answerAtManufacturer(username, "allow")
}

// answerAtManufacturer signs in at the sandbox manufacturer's login page
// and answers the consent with decision ("allow" or "deny").
func answerAtManufacturer(username, decision string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitVisible(css(`#username`)),
		chromedp.SendKeys(css(`#username`), username),
		chromedp.SendKeys(css(`#password`), "pass_good"),
		chromedp.Click(css(`form[action$="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(css(`button[value="`+decision+`"]`)),
		chromedp.Click(css(`button[value="`+decision+`"]`)),
	)
}

// keepAllDevices answers the device choice of an account with several
// devices as offered: all of them.
func keepAllDevices() chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitVisible(css(`button[data-action="link-devices"]`)),
		chromedp.Click(css(`button[data-action="link-devices"]`)),
	)
}

func TestBrowserCustomerManagesDevicesOnTheDashboard(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	u := s.MustPortalUser(t, "browser@example.test", app.RoleCustomer)
	ctx := handlertest.NewBrowser(t)
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("%s: %v (at %s)", step, err, loc)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(css(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return v
	}

	do("open the dashboard signed out", chromedp.Navigate(s.URL+"/account"), chromedp.WaitVisible(css(`#email`)))
	handlertest.Screenshot(t, ctx, "login-375", 375, 812)
	do("log in",
		chromedp.EmulateViewport(1280, 900),
		chromedp.SendKeys(css(`#email`), "browser@example.test"),
		chromedp.SendKeys(css(`#password`), handlertest.TestPassword),
		chromedp.Click(css(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(css(`.empty-state`)),
	)
	handlertest.Screenshot(t, ctx, "dashboard-empty-1280", 1280, 900)

	do("connect a device through the sandbox manufacturer",
		chromedp.Click(css(`button[data-action="connect"]`)),
		chromedp.WaitVisible(css(`button[data-brand="sandbox-heatpump"]`)),
		chromedp.Click(css(`button[data-brand="sandbox-heatpump"]`)),
		signInAtManufacturer("user_multi"),
		keepAllDevices(),
		chromedp.WaitVisible(css(`[data-status="connected"]`)),
	)
	if got := text(`[data-banner]`); !strings.Contains(got, "2 Sandbox Heat Pumps devices are connected") {
		t.Errorf("banner after connecting: got %q", got)
	}
	handlertest.Screenshot(t, ctx, "dashboard-1280", 1280, 900)
	handlertest.Screenshot(t, ctx, "dashboard-375", 375, 812)
	do("back to desktop", chromedp.EmulateViewport(1280, 900))

	// The manufacturer revoked access: the device needs relinking.
	if _, err := s.Store.DB().Exec(`UPDATE devices SET status = 'relink_required' WHERE nox_user_id = $1`, u.NoxUserID); err != nil {
		t.Fatal(err)
	}
	do("reconnect goes straight to the manufacturer login",
		chromedp.Navigate(s.URL+"/account"),
		chromedp.WaitVisible(css(`[data-status="relink_required"]`)),
	)
	handlertest.Screenshot(t, ctx, "dashboard-relink-1280", 1280, 900)
	do("reconnect",
		chromedp.Click(css(`button[data-action="reconnect"]`)),
		chromedp.WaitVisible(css(`#username`)),
	)
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.Contains(loc, "/sandbox/sandbox-heatpump/authorize") {
		t.Errorf("reconnect opened %s, want the heat pump manufacturer's login", loc)
	}
	do("finish reconnecting",
		signInAtManufacturer("user_multi"),
		keepAllDevices(),
		chromedp.WaitVisible(css(`[data-banner="success"]`)),
		chromedp.WaitNotPresent(css(`[data-status="relink_required"]`)),
	)

	do("disconnect asks for confirmation inline",
		chromedp.Click(css(`a[data-action="disconnect"]`)),
		chromedp.WaitVisible(css(`button[data-action="confirm-disconnect"]`)),
	)
	handlertest.Screenshot(t, ctx, "dashboard-confirm-375", 375, 812)
	do("back to desktop", chromedp.EmulateViewport(1280, 900))
	do("confirm the disconnect",
		chromedp.Click(css(`button[data-action="confirm-disconnect"]`)),
		chromedp.WaitVisible(css(`[data-status="disconnected"]`)),
	)
	if got := text(`[data-banner]`); !strings.Contains(got, "disconnected") {
		t.Errorf("banner after disconnecting: got %q", got)
	}

	do("a comfort bound too close to the other is explained inline",
		chromedp.EmulateViewport(1280, 900),
		chromedp.WaitVisible(css(`#comfort form`)),
		chromedp.SetValue(css(`#indoor_min_c`), "21.8"),
		chromedp.SetValue(css(`#indoor_max_c`), "22"),
		chromedp.Click(css(`button[data-action="save-comfort"]`)),
		chromedp.WaitVisible(css(`[data-error="indoor_max_c"]`)),
	)
	if got := text(`[data-error="indoor_max_c"]`); !strings.Contains(got, "at least 0.5 °C above the minimum") {
		t.Errorf("inline comfort error: got %q", got)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); strings.Contains(loc, "/account/comfort") {
		t.Errorf("the comfort form left the dashboard: at %s, want an inline (HTMX) answer", loc)
	}
	handlertest.Screenshot(t, ctx, "dashboard-comfort-invalid-1280", 1280, 900)
	do("fix it and save",
		chromedp.EmulateViewport(1280, 900),
		chromedp.SetValue(css(`#indoor_max_c`), "23"),
		chromedp.SetValue(css(`#hot_water_min_c`), "45"),
		chromedp.SetValue(css(`#hot_water_max_c`), "55"),
		chromedp.Click(css(`button[data-action="save-comfort"]`)),
		chromedp.WaitVisible(css(`[data-comfort="saved"]`)),
		chromedp.WaitNotPresent(css(`[data-error]`)),
	)
	if got := text(`[data-comfort-version]`); !strings.Contains(got, "Version 1, last set by you") {
		t.Errorf("comfort after saving: got %q, want version 1 set by you", got)
	}
	handlertest.Screenshot(t, ctx, "dashboard-comfort-saved-1280", 1280, 900)
	handlertest.Screenshot(t, ctx, "dashboard-comfort-saved-375", 375, 812)
	do("back to desktop", chromedp.EmulateViewport(1280, 900))

	do("switch language",
		chromedp.Click(css(`.lang-menu summary`)),
		chromedp.WaitVisible(css(`a[data-lang="nl"]`)),
		chromedp.Click(css(`a[data-lang="nl"]`)),
		chromedp.WaitVisible(css(`html[lang="nl"]`)),
	)
	if got := text(`h1`); got != "Mijn apparaten" {
		t.Errorf("title in Dutch: got %q, want %q", got, "Mijn apparaten")
	}
	do("the language is remembered", chromedp.Navigate(s.URL+"/account"), chromedp.WaitVisible(css(`html[lang="nl"]`)))
	handlertest.Screenshot(t, ctx, "dashboard-nl-375", 375, 812)
}
