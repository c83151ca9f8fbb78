package handlers_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"noxportal/app"
	"noxportal/handlers/handlertest"
)

// browserLink creates a link session for supplierUserID that returns to
// site in lang, and returns its link_url and link_token.
func browserLink(t *testing.T, s *handlertest.Server, site handlertest.SupplierSite, supplierUserID, lang string) (linkURL, token string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"redirect_uri": site.CallbackURL, "language": lang})
	r := s.API(t, "POST", "/users/"+supplierUserID+"/link", s.APIKey, string(body))
	if r.Status != 200 {
		t.Fatalf("create link: got %d %s, want 200", r.Status, r.Raw)
	}
	linkURL, _ = r.Data()["link_url"].(string)
	token, _ = r.Data()["link_token"].(string)
	return linkURL, token
}

// browserDo runs browser actions and fails the test with what the page shows when
// one of them fails.
func browserDo(t *testing.T, ctx context.Context, step string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("%s: %v (page %s)", step, err, loc)
	}
}

// brandTiles returns the names on the brand tiles shown right now.
func brandTiles(t *testing.T, ctx context.Context) []string {
	t.Helper()
	names, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("#brand-list .brand-name")].map(e => e.textContent.trim())`))
	if err != nil {
		t.Fatalf("read brand tiles: %v", err)
	}
	return names
}

// waitBrandTiles waits until the brand list shows exactly want.
func waitBrandTiles(t *testing.T, ctx context.Context, want []string) {
	t.Helper()
	wantJSON, _ := json.Marshal(want)
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](
		`JSON.stringify([...document.querySelectorAll("#brand-list .brand-name")].map(e => e.textContent.trim())) === `+"`"+string(wantJSON)+"`",
		chromedp.WithPollingTimeout(5*time.Second)))
	if err != nil {
		t.Fatalf("brand tiles: got %q, want %q (%v)", brandTiles(t, ctx), want, err)
	}
}

// browserSignIn picks brandID on the brand page and signs in at its sandbox login,
// leaving the browser on the consent page.
func browserSignIn(t *testing.T, ctx context.Context, brandID, username, password string) {
	t.Helper()
	browserDo(t, ctx, "select brand "+brandID,
		chromedp.Click(chromedp.CSS(`#brand-list button[data-brand="`+brandID+`"]`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
	)
	browserDo(t, ctx, "sign in as "+username,
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), username),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), password),
		chromedp.Click(chromedp.CSS(`form[action$="/login"] button[type="submit"]`)),
	)
}

// browserDecide clicks the consent button ("allow" or "deny", then Return
// on the failure screen) and returns the query that site received.
func browserDecide(t *testing.T, ctx context.Context, site handlertest.SupplierSite, decision string) url.Values {
	t.Helper()
	if decision == "deny" {
		// A denial shows the failure screen first; Return goes back.
		browserDo(t, ctx, decision,
			chromedp.Click(chromedp.CSS(`button[name="decision"][value="deny"]`), chromedp.NodeVisible),
			chromedp.WaitVisible(chromedp.CSS(`[data-failure="access_denied"]`)),
			chromedp.Click(chromedp.CSS(`button[data-action="return"]`)),
			chromedp.WaitVisible(chromedp.ID("supplier-callback")),
		)
		return supplierQuery(t, ctx, site)
	}
	browserDo(t, ctx, decision,
		chromedp.Click(chromedp.CSS(`button[name="decision"][value="`+decision+`"]`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.ID("supplier-callback")),
	)
	return supplierQuery(t, ctx, site)
}

// supplierQuery returns the query of the page the browser is on, which must
// be site's callback.
func supplierQuery(t *testing.T, ctx context.Context, site handlertest.SupplierSite) url.Values {
	t.Helper()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != site.CallbackURL {
		t.Fatalf("browser landed on %s, want the supplier callback %s", loc, site.CallbackURL)
	}
	return u.Query()
}

func wantSupplierQuery(t *testing.T, q url.Values, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := q.Get(k); got != v {
			t.Errorf("redirect %s: got %q, want %q (query %s)", k, got, v, q.Encode())
		}
	}
}

func TestBrowserUserFiltersBrandsSignsInAllowsAndReturnsConnected(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	site := handlertest.StartSupplierSite(t)
	ctx := handlertest.NewBrowser(t)
	linkURL, _ := browserLink(t, s, site, "cust-browser-1", "en")

	browserDo(t, ctx, "open link", chromedp.Navigate(linkURL), chromedp.WaitVisible(chromedp.ID("brand-q")))
	if got := brandTiles(t, ctx); len(got) < 2 {
		t.Fatalf("brand page tiles: got %q, want several brands", got)
	}
	handlertest.Screenshot(t, ctx, "connect-brands-1280", 1280, 800)
	handlertest.Screenshot(t, ctx, "connect-brands-375", 375, 700)

	before, _ := chromedp.Run(ctx, chromedp.Location())
	browserDo(t, ctx, "search brands", chromedp.SendKeys(chromedp.ID("brand-q"), "heat"))
	waitBrandTiles(t, ctx, []string{"Sandbox Heat Pumps"})
	if after, _ := chromedp.Run(ctx, chromedp.Location()); after != before {
		t.Errorf("searching reloaded the page: went from %s to %s, want an in-place filter", before, after)
	}

	browserDo(t, ctx, "select brand",
		chromedp.Click(chromedp.CSS(`#brand-list button[data-brand="sandbox-heatpump"]`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
	)
	handlertest.Screenshot(t, ctx, "sandbox-login-375", 375, 700)
	browserDo(t, ctx, "sign in",
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), "user_good"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "pass_good"),
		chromedp.Click(chromedp.CSS(`form[action$="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[name="decision"][value="allow"]`)),
	)

	q := browserDecide(t, ctx, site, "allow")
	wantSupplierQuery(t, q, map[string]string{"connection_status": "connected", "supplier_user_id": "cust-browser-1",
		"manufacturer": "sandbox-heatpump"})
	noxUserID := q.Get("nox_user_id")
	if noxUserID == "" || q.Get("connected_at") == "" {
		t.Fatalf("redirect lacks nox_user_id or connected_at: %s", q.Encode())
	}
	u, err := s.Store.SupplierUser(context.Background(), s.SupplierID, "cust-browser-1")
	if err != nil {
		t.Fatal(err)
	}
	if u.NoxUserID == nil || *u.NoxUserID != noxUserID {
		t.Errorf("stored nox_user_id: got %v, want %s", u.NoxUserID, noxUserID)
	}
	if len(u.Devices) != 1 || u.Devices[0].ManufacturerID != "sandbox-heatpump" {
		t.Errorf("stored devices: got %+v, want one sandbox-heatpump device", u.Devices)
	}
}

func TestBrowserUserDeniesAndReturnsFailedAccessDenied(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	site := handlertest.StartSupplierSite(t)
	ctx := handlertest.NewBrowser(t)
	linkURL, token := browserLink(t, s, site, "cust-browser-2", "en")

	browserDo(t, ctx, "open link", chromedp.Navigate(linkURL), chromedp.WaitVisible(chromedp.ID("brand-q")))
	browserSignIn(t, ctx, "sandbox-heatpump", "user_good", "pass_good")
	q := browserDecide(t, ctx, site, "deny")
	wantSupplierQuery(t, q, map[string]string{"connection_status": "failed", "error": "access_denied"})
	if q.Get("nox_user_id") != "" {
		t.Errorf("denied redirect carries nox_user_id %q", q.Get("nox_user_id"))
	}
	sess, err := s.Store.LinkSessionByToken(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	if sess.Status != app.StatusFailed {
		t.Errorf("session status: got %s, want %s", sess.Status, app.StatusFailed)
	}
}

// TestBrowserAllowAfterSessionExpiredReturnsFailedExpired: the deadline
// passes while the user is on the manufacturer's consent page; allowing
// then records expired_after_auth and links nothing.
func TestBrowserAllowAfterSessionExpiredReturnsFailedExpired(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	site := handlertest.StartSupplierSite(t)
	ctx := handlertest.NewBrowser(t)
	linkURL, token := browserLink(t, s, site, "cust-browser-3", "en")

	browserDo(t, ctx, "open link", chromedp.Navigate(linkURL), chromedp.WaitVisible(chromedp.ID("brand-q")))
	browserSignIn(t, ctx, "sandbox-heatpump", "user_good", "pass_good")
	browserDo(t, ctx, "consent page", chromedp.WaitVisible(chromedp.CSS(`button[name="decision"][value="allow"]`)))
	s.ExpireLinkSession(t, token)

	q := browserDecide(t, ctx, site, "allow")
	wantSupplierQuery(t, q, map[string]string{"connection_status": "failed", "error": "expired"})
	sess, err := s.Store.LinkSessionByToken(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	if sess.Status != app.StatusExpired || sess.Reason() != app.ReasonExpiredAfterAuth {
		t.Errorf("session: got %s/%s, want %s/%s", sess.Status, sess.Reason(), app.StatusExpired, app.ReasonExpiredAfterAuth)
	}
	if sess.NoxUserID != nil {
		t.Errorf("expired session linked nox user %s", *sess.NoxUserID)
	}
}

func TestBrowserWrongPasswordStaysOnLoginWithError(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	site := handlertest.StartSupplierSite(t)
	ctx := handlertest.NewBrowser(t)
	linkURL, _ := browserLink(t, s, site, "cust-browser-4", "en")

	browserDo(t, ctx, "open link", chromedp.Navigate(linkURL), chromedp.WaitVisible(chromedp.ID("brand-q")))
	browserSignIn(t, ctx, "sandbox-heatpump", "user_good", "not-the-password")
	browserDo(t, ctx, "login error", chromedp.WaitVisible(chromedp.CSS(`.alert-error`)))
	msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`.alert-error`)))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(msg) == "" {
		t.Errorf("login error message is empty")
	}
	if _, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS(`input[name="password"]`), chromedp.NodeVisible)); err != nil {
		t.Errorf("password field not shown after a wrong password: %v", err)
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if !strings.HasPrefix(loc, s.URL+"/sandbox/") {
		t.Errorf("after a wrong password the browser is on %s, want the sandbox login", loc)
	}
	handlertest.Screenshot(t, ctx, "sandbox-login-error-375", 375, 700)
}

func TestBrowserBrandPageSpeaksTheSessionLanguage(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	site := handlertest.StartSupplierSite(t)
	ctx := handlertest.NewBrowser(t)
	linkURL, _ := browserLink(t, s, site, "cust-browser-5", "nl")

	browserDo(t, ctx, "open link", chromedp.Navigate(linkURL), chromedp.WaitVisible(chromedp.ID("brand-q")))
	lang, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("html"), "lang"))
	if err != nil {
		t.Fatal(err)
	}
	if lang.Value != "nl" {
		t.Errorf(`<html lang>: got %q, want "nl"`, lang.Value)
	}
	for sel, want := range map[string]string{
		"h1":             "Kies het merk van je apparaat",
		".eyebrow":       "Koppelen met Test Energy",
		".cancel button": "Annuleren en terug naar Test Energy",
		`[data-brand="sandbox-heatpump"] .brand-kind`: "Warmtepomp",
	} {
		got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		if !strings.EqualFold(strings.TrimSpace(got), want) {
			t.Errorf("%s: got %q, want %q", sel, got, want)
		}
	}
	placeholder, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("brand-q"), "placeholder"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "Zoek een merk…"; placeholder.Value != want {
		t.Errorf("search placeholder: got %q, want %q", placeholder.Value, want)
	}
	handlertest.Screenshot(t, ctx, "connect-brands-nl-375", 375, 700)
}

func TestBrowserCancelOnBrandPageReturnsFailedCancelled(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	site := handlertest.StartSupplierSite(t)
	ctx := handlertest.NewBrowser(t)
	linkURL, token := browserLink(t, s, site, "cust-browser-6", "en")

	browserDo(t, ctx, "open link", chromedp.Navigate(linkURL), chromedp.WaitVisible(chromedp.ID("brand-q")))
	browserDo(t, ctx, "cancel",
		chromedp.Click(chromedp.CSS(`form.cancel button[type="submit"]`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.ID("supplier-callback")),
	)
	wantSupplierQuery(t, supplierQuery(t, ctx, site), map[string]string{"connection_status": "failed", "error": "cancelled",
		"supplier_user_id": "cust-browser-6"})
	sess, err := s.Store.LinkSessionByToken(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	if sess.Status != app.StatusFailed || sess.Reason() != app.ReasonCancelled {
		t.Errorf("session: got %s/%s, want %s/%s", sess.Status, sess.Reason(), app.StatusFailed, app.ReasonCancelled)
	}
}

func TestBrowserExpiredLinkOffersReturnToSupplierWithFailedExpired(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	site := handlertest.StartSupplierSite(t)
	ctx := handlertest.NewBrowser(t)
	linkURL, token := browserLink(t, s, site, "cust-browser-7", "en")
	s.ExpireLinkSession(t, token) // its deadline passes before the user opens it

	browserDo(t, ctx, "open expired link", chromedp.Navigate(linkURL), chromedp.WaitVisible(chromedp.CSS(`a.button[href^="/connect/return"]`)))
	h1, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1")))
	if err != nil {
		t.Fatal(err)
	}
	if want := "This link has expired"; strings.TrimSpace(h1) != want {
		t.Errorf("expired link page title: got %q, want %q", h1, want)
	}
	handlertest.Screenshot(t, ctx, "connect-expired-375", 375, 700)
	browserDo(t, ctx, "return to supplier",
		chromedp.Click(chromedp.CSS(`a.button[href^="/connect/return"]`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.ID("supplier-callback")),
	)
	wantSupplierQuery(t, supplierQuery(t, ctx, site), map[string]string{"connection_status": "failed", "error": "expired",
		"supplier_user_id": "cust-browser-7"})
}
