package handlers_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/chromedp/chromedp"

	"noxportal/handlers/handlertest"
)

// browserToSupplierTerms drives the browser from a flow-2 link_url through
// the supplier selector (searching for the supplier) to the sandbox
// supplier's terms page, signed in as user_good, taking screenshots named
// prefix-*. It returns the one-time state NOX gave the supplier.
func browserToSupplierTerms(t *testing.T, ctx context.Context, s *handlertest.Server, linkURL, shots string) string {
	t.Helper()
	sup := s.Config.Sandbox.Supplier.ID
	tile := `button[data-supplier="` + sup + `"]`
	if err := chromedp.Do(ctx,
		chromedp.Navigate(linkURL),
		chromedp.WaitVisible(`#supplier-q`),
		chromedp.SendKeys(`#supplier-q`, "zzz"),
		chromedp.WaitVisible(`#supplier-list .empty`),
		chromedp.SendKeys(`#supplier-q`, "\b\b\bsandbox"),
		chromedp.WaitVisible(tile),
	); err != nil {
		t.Fatalf("supplier selector: %v", err)
	}
	if shots != "" {
		handlertest.Screenshot(t, ctx, shots+"-supplier-selector", 1280, 900)
		handlertest.Screenshot(t, ctx, shots+"-supplier-selector-mobile", 390, 900)
	}
	if err := chromedp.Do(ctx, chromedp.Click(tile), chromedp.WaitVisible(`#username`)); err != nil {
		t.Fatalf("choose %s: %v", sup, err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(loc)
	if u.Path != "/sandbox-supplier/authorize" || u.Query().Get("state") == "" {
		t.Fatalf("supplier login page: at %s", loc)
	}
	if shots != "" {
		handlertest.Screenshot(t, ctx, shots+"-sandbox-supplier-login", 1280, 900)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(`#username`, "user_good"),
		chromedp.SendKeys(`#password`, "pass_good"),
		chromedp.Click(`form[action="/sandbox-supplier/login"] button[type="submit"]`),
		chromedp.WaitVisible(`#accept_terms`),
	); err != nil {
		t.Fatalf("sign in at the sandbox supplier: %v", err)
	}
	if shots != "" {
		handlertest.Screenshot(t, ctx, shots+"-sandbox-supplier-terms", 1280, 900)
	}
	return u.Query().Get("state")
}

// browserAcceptTerms accepts the terms and returns the query the browser
// arrives with at the manufacturer's app.
func browserAcceptTerms(t *testing.T, ctx context.Context) url.Values {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Click(`#accept_terms`),
		chromedp.Click(`button[value="accept"]`),
		chromedp.WaitVisible(`#manufacturer-back`),
	); err != nil {
		t.Fatalf("accept terms and return: %v", err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(loc)
	return u.Query()
}

func TestBrowserSupplierLinkFromManufacturerToSupplierAndBack(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	mfr := handlertest.StartManufacturerApp(t)
	ctx := handlertest.NewBrowser(t)
	link := s.MustCreateSupplierLink(t, "hp-browser", mfr.CallbackURL, "HP-B1")
	browserToSupplierTerms(t, ctx, s, link["link_url"].(string), "flow2")
	q := browserAcceptTerms(t, ctx)
	if q.Get("connection_status") != "connected" || q.Get("supplier_id") != s.Config.Sandbox.Supplier.ID ||
		q.Get("manufacturer_user_id") != "hp-browser" || q.Get("nox_user_id") == "" {
		t.Errorf("back at the manufacturer with %v, want connected with supplier_id and nox_user_id", q)
	}
	r := s.API(t, "GET", "/users/SE-1001", s.Config.Sandbox.Supplier.APIKey, "")
	if r.Data()["nox_user_id"] != q.Get("nox_user_id") {
		t.Errorf("the supplier sees nox user %v, want %s", r.Data()["nox_user_id"], q.Get("nox_user_id"))
	}
}

func TestBrowserSupplierLinkAfterDeadlineReturnsFailed(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	mfr := handlertest.StartManufacturerApp(t)
	ctx := handlertest.NewBrowser(t)
	link := s.MustCreateSupplierLink(t, "hp-slow", mfr.CallbackURL, "HP-S1")
	browserToSupplierTerms(t, ctx, s, link["link_url"].(string), "")
	s.ExpireLinkSession(t, link["link_token"].(string))
	q := browserAcceptTerms(t, ctx)
	if q.Get("connection_status") != "failed" || q.Get("error") != "expired" || q.Get("nox_user_id") != "" {
		t.Errorf("back at the manufacturer with %v, want connection_status=failed error=expired", q)
	}
	if r := s.API(t, "GET", "/users/SE-1001", s.Config.Sandbox.Supplier.APIKey, ""); r.Status != 404 {
		t.Errorf("a login after the deadline mapped the user: %d %s", r.Status, r.Raw)
	}
}

func TestBrowserWrongSupplierCannotClaimTheLogin(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	mfr := handlertest.StartManufacturerApp(t)
	ctx := handlertest.NewBrowser(t)
	link := s.MustCreateSupplierLink(t, "hp-wrong", mfr.CallbackURL, "HP-W1")
	state := browserToSupplierTerms(t, ctx, s, link["link_url"].(string), "")
	r := s.API(t, "POST", "/post-login-redirect", s.APIKey, `{"state":"`+state+`","supplier_user_id":"cust-9"}`)
	if r.Status != 403 || r.ErrorCode() != "wrong_supplier" {
		t.Fatalf("another supplier reports the login: got %d %s, want 403 wrong_supplier", r.Status, r.Raw)
	}
	if r := s.API(t, "GET", "/users/cust-9", s.APIKey, ""); r.Status != 404 {
		t.Errorf("the wrong supplier got a user: %d %s", r.Status, r.Raw)
	}
	q := browserAcceptTerms(t, ctx)
	if q.Get("connection_status") != "connected" || q.Get("supplier_id") != s.Config.Sandbox.Supplier.ID {
		t.Errorf("the chosen supplier still connects: got %v", q)
	}
}

func TestBrowserSupplierSelectorSpeaksTheSessionLanguage(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	ctx := handlertest.NewBrowser(t)
	for _, lang := range []string{"nl", "de", "fr", "es"} {
		r := s.API(t, "POST", "/manufacturer/link-sessions", s.ManufacturerKey,
			`{"manufacturer_user_id":"hp-`+lang+`","redirect_uri":"`+s.ManufacturerRedirectURI+`","language":"`+lang+`"}`)
		var h1 string
		err := chromedp.Do(ctx, chromedp.Navigate(r.Data()["link_url"].(string)), chromedp.WaitVisible(`#supplier-list`))
		if err == nil {
			h1, err = chromedp.Run(ctx, chromedp.Text(`h1`))
		}
		if err != nil {
			t.Fatalf("%s: %v", lang, err)
		}
		if h1 == "" || h1 == "Choose your energy supplier" {
			t.Errorf("%s: heading %q, want a translation", lang, h1)
		}
		if lang == "de" {
			handlertest.Screenshot(t, ctx, "flow2-supplier-selector-de", 1280, 900)
		}
	}
}
