package handlers_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/html"

	"noxportal/app"
	"noxportal/db/dbtest"
	"noxportal/handlers/handlertest"
)

// devicesOf returns the external ids of a nox user's devices, sorted.
func devicesOf(t *testing.T, s *handlertest.Server, noxUserID string) []string {
	t.Helper()
	var ids []string
	if err := s.Store.DB().Select(&ids, `SELECT external_id FROM devices WHERE nox_user_id = $1 ORDER BY external_id`, noxUserID); err != nil {
		t.Fatal(err)
	}
	return ids
}

// sandboxDeviceIDs returns the device ids a sandbox user has at the heat pump brand.
func sandboxDeviceIDs(username string) []string {
	var ids []string
	for _, d := range app.SandboxDevices("sandbox-heatpump", app.SandboxUsers[username], "heat_pump") {
		ids = append(ids, d.ID)
	}
	sort.Strings(ids)
	return ids
}

// snapshot renders everything a callback could change: the session row,
// its events, and every nox user, mapping, device and grant.
func snapshot(t *testing.T, s *handlertest.Server, sessionID string) string {
	t.Helper()
	var parts []string
	for _, q := range []string{
		`SELECT row_to_json(l)::text FROM link_sessions l WHERE id = $1`,
		`SELECT coalesce(json_agg(e ORDER BY id)::text, '') FROM link_events e WHERE session_id = $1`,
		`SELECT coalesce(json_agg(u ORDER BY id)::text, '') FROM nox_users u WHERE $1 <> ''`,
		`SELECT coalesce(json_agg(m ORDER BY supplier_user_id)::text, '') FROM supplier_mappings m WHERE $1 <> ''`,
		`SELECT coalesce(json_agg(d ORDER BY id)::text, '') FROM devices d WHERE $1 <> ''`,
		`SELECT coalesce(json_agg(g ORDER BY nox_user_id)::text, '') FROM manufacturer_grants g WHERE $1 <> ''`,
	} {
		var v string
		if err := s.Store.DB().Get(&v, q, sessionID); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		parts = append(parts, v)
	}
	return strings.Join(parts, "\n")
}

func TestRelinkingTheSameSupplierUserKeepsTheNoxUserAndReplacesTheDevices(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	first := s.Walk(t, s.Client(), s.MustCreateLink(t, "cust-1")["link_url"].(string), "sandbox-heatpump", "user_good", app.SandboxPassword, "allow")
	wantRedirect(t, s, first, map[string]string{"connection_status": "connected"})
	noxUserID := query(t, first).Get("nox_user_id")
	if got, want := devicesOf(t, s, noxUserID), sandboxDeviceIDs("user_good"); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("devices after first link: got %v, want %v", got, want)
	}

	second := s.Walk(t, s.Client(), s.MustCreateLink(t, "cust-1")["link_url"].(string), "sandbox-heatpump", "user_multi", app.SandboxPassword, "allow")
	wantRedirect(t, s, second, map[string]string{"connection_status": "connected", "nox_user_id": noxUserID})
	if got, want := devicesOf(t, s, noxUserID), sandboxDeviceIDs("user_multi"); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("devices after relink: got %v, want %v (the old device replaced)", got, want)
	}
	if n := count(t, s, `SELECT count(*) FROM nox_users`); n != 1 {
		t.Errorf("nox users: got %d, want 1", n)
	}
	if n := count(t, s, `SELECT count(*) FROM manufacturer_grants WHERE nox_user_id = $1`, noxUserID); n != 1 {
		t.Errorf("grants: got %d, want 1", n)
	}
}

func TestTwoSupplierUserIDsWithTheSameDeviceAreTwoNoxUsers(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	a := s.Walk(t, s.Client(), s.MustCreateLink(t, "cust-a")["link_url"].(string), "sandbox-heatpump", "user_good", app.SandboxPassword, "allow")
	b := s.Walk(t, s.Client(), s.MustCreateLink(t, "cust-b")["link_url"].(string), "sandbox-heatpump", "user_good", app.SandboxPassword, "allow")
	noxA, noxB := query(t, a).Get("nox_user_id"), query(t, b).Get("nox_user_id")
	if noxA == "" || noxA == noxB {
		t.Fatalf("nox_user_id: got %q and %q, want two different ids", noxA, noxB)
	}
	for _, nox := range []string{noxA, noxB} {
		if got, want := devicesOf(t, s, nox), sandboxDeviceIDs("user_good"); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("devices of %s: got %v, want %v", nox, got, want)
		}
	}
}

func TestTwoSuppliersWithTheSameSupplierUserIDAreTwoNoxUsers(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	otherURI := "https://other.example/back"
	otherKey := otherSupplier(t, s, "supplier_other", otherURI)
	a := s.Walk(t, s.Client(), s.MustCreateLink(t, "cust-1")["link_url"].(string), "sandbox-heatpump", "user_good", app.SandboxPassword, "allow")
	b := s.Walk(t, s.Client(), createLinkAs(t, s, otherKey, "cust-1", otherURI)["link_url"].(string), "sandbox-heatpump", "user_good", app.SandboxPassword, "allow")
	if !strings.HasPrefix(b, otherURI+"?") {
		t.Errorf("second supplier's redirect: got %s, want %s?...", b, otherURI)
	}
	noxA, noxB := query(t, a).Get("nox_user_id"), query(t, b).Get("nox_user_id")
	if noxA == "" || noxB == "" || noxA == noxB {
		t.Fatalf("nox_user_id: got %q and %q, want two different ids", noxA, noxB)
	}
	if n := count(t, s, `SELECT count(*) FROM supplier_mappings WHERE supplier_user_id = 'cust-1'`); n != 2 {
		t.Errorf("mappings for cust-1: got %d, want 2", n)
	}
}

func TestReplayedCallbackFailsWithoutSideEffects(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	c := s.Client()
	link := s.MustCreateLink(t, "cust-1")
	callback := walkToCallback(t, s, c, link["link_url"].(string), "sandbox-heatpump", "user_good", "allow")
	first := handlertest.Get(t, c, callback)
	if first.Status != http.StatusSeeOther {
		t.Fatalf("first callback: got %d, want 303", first.Status)
	}
	wantRedirect(t, s, first.Location, map[string]string{"connection_status": "connected"})
	sess := sessionOf(t, s, tokenOf(t, link["link_url"].(string)))
	before := snapshot(t, s, sess.ID)

	for i := 0; i < 2; i++ {
		again := handlertest.Get(t, c, callback)
		if again.Status != http.StatusSeeOther {
			t.Fatalf("replayed callback: got %d, want 303", again.Status)
		}
		wantRedirect(t, s, again.Location, map[string]string{"connection_status": "failed", "error": "already_used", "supplier_user_id": "cust-1"})
	}
	if after := snapshot(t, s, sess.ID); after != before {
		t.Errorf("replayed callback changed the database:\nbefore %s\nafter  %s", before, after)
	}
}

func TestCallbackWithUnknownStateIsABadRequestPage(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	c := s.Client()
	link := s.MustCreateLink(t, "cust-1")
	callback := walkToCallback(t, s, c, link["link_url"].(string), "sandbox-heatpump", "user_good", "allow")
	sess := sessionOf(t, s, tokenOf(t, link["link_url"].(string)))
	before := snapshot(t, s, sess.ID)
	q := query(t, callback)
	tests := []struct{ name, url string }{
		{"unknown state", s.URL + "/oauth/callback/sandbox-heatpump?code=" + q.Get("code") + "&state=" + app.RandomToken(43)},
		{"no state", s.URL + "/oauth/callback/sandbox-heatpump?code=" + q.Get("code")},
		{"state at another brand's callback", s.URL + "/oauth/callback/sandbox-thermostat?" + url.Values{"code": {q.Get("code")}, "state": {q.Get("state")}}.Encode()},
		{"unknown brand", s.URL + "/oauth/callback/acme?" + url.Values{"code": {q.Get("code")}, "state": {q.Get("state")}}.Encode()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := handlertest.Get(t, c, tt.url)
			if p.Status != http.StatusBadRequest || p.Location != "" {
				t.Errorf("got %d to %q, want 400 and no redirect", p.Status, p.Location)
			}
			if handlertest.Find(p.Doc, func(n *html.Node) bool { return n.Data == "h1" }) == nil {
				t.Errorf("want an HTML page with a heading:\n%s", p.Body)
			}
		})
	}
	if after := snapshot(t, s, sess.ID); after != before {
		t.Errorf("bad callbacks changed the database:\nbefore %s\nafter  %s", before, after)
	}
	final := handlertest.Get(t, c, callback)
	wantRedirect(t, s, final.Location, map[string]string{"connection_status": "connected"})
}

func TestCallbackFromAnotherBrowserIsRefusedAndChangesNothing(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	owner := s.Client()
	link := s.MustCreateLink(t, "cust-1")
	callback := walkToCallback(t, s, owner, link["link_url"].(string), "sandbox-heatpump", "user_good", "allow")
	sess := sessionOf(t, s, tokenOf(t, link["link_url"].(string)))
	before := snapshot(t, s, sess.ID)

	p := handlertest.Get(t, s.Client(), callback)
	if p.Status != http.StatusForbidden || p.Location != "" {
		t.Errorf("callback in another browser: got %d to %q, want 403 and no redirect", p.Status, p.Location)
	}
	if after := snapshot(t, s, sess.ID); after != before {
		t.Errorf("callback in another browser changed the database:\nbefore %s\nafter  %s", before, after)
	}
	final := handlertest.Get(t, owner, callback)
	wantRedirect(t, s, final.Location, map[string]string{"connection_status": "connected"})
}

func TestConcurrentCallbacksForOneSessionConnectOnce(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	c := s.Client()
	link := s.MustCreateLink(t, "cust-1")
	callback := walkToCallback(t, s, c, link["link_url"].(string), "sandbox-heatpump", "user_good", "allow")

	const n = 8
	locations := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := c.Get(callback)
			if err != nil {
				errs[i] = err
				return
			}
			resp.Body.Close()
			locations[i] = resp.Header.Get("Location")
		}()
	}
	close(start)
	wg.Wait()
	connected, used := 0, 0
	for i, loc := range locations {
		if errs[i] != nil {
			t.Fatalf("callback %d: %v", i, errs[i])
		}
		switch q := query(t, loc); {
		case q.Get("connection_status") == "connected":
			connected++
		case q.Get("connection_status") == "failed" && q.Get("error") == "already_used":
			used++
		default:
			t.Errorf("callback %d: unexpected redirect %q", i, loc)
		}
	}
	if connected != 1 || used != n-1 {
		t.Errorf("outcomes: got %d connected and %d already_used, want 1 and %d", connected, used, n-1)
	}
	for q, want := range map[string]int{
		`SELECT count(*) FROM nox_users`:                            1,
		`SELECT count(*) FROM supplier_mappings`:                    1,
		`SELECT count(*) FROM devices`:                              len(sandboxDeviceIDs("user_good")),
		`SELECT count(*) FROM manufacturer_grants`:                  1,
		`SELECT count(*) FROM link_events WHERE type = 'connected'`: 1,
		`SELECT count(*) FROM link_events WHERE type = 'callback'`:  1,
	} {
		if got := count(t, s, q); got != want {
			t.Errorf("%s: got %d, want %d", q, got, want)
		}
	}
	if sess := sessionOf(t, s, tokenOf(t, link["link_url"].(string))); sess.Status != app.StatusConnected {
		t.Errorf("session status: got %s, want connected", sess.Status)
	}
}

func TestFailedManufacturerLoginsReturnToSupplierWithAReason(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	tests := []struct {
		name, user, decision, reason string
	}{
		{"denied consent", "user_good", "deny", app.ReasonAccessDenied},
		{"token endpoint error", "user_token_error", "allow", app.ReasonManufacturerError},
		{"account without devices", "user_no_devices", "allow", app.ReasonNoDevices},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			userID := "cust-" + string(rune('a'+i))
			link := s.MustCreateLink(t, userID)
			final := s.Walk(t, s.Client(), link["link_url"].(string), "sandbox-heatpump", tt.user, app.SandboxPassword, tt.decision)
			wantRedirect(t, s, final, map[string]string{"connection_status": "failed", "error": tt.reason,
				"supplier_user_id": userID, "manufacturer": "sandbox-heatpump", "nox_user_id": ""})
			sess := sessionOf(t, s, tokenOf(t, link["link_url"].(string)))
			if sess.Status != app.StatusFailed || sess.Reason() != tt.reason {
				t.Errorf("session: got %s/%s, want failed/%s", sess.Status, sess.Reason(), tt.reason)
			}
		})
	}
	if n := count(t, s, `SELECT count(*) FROM nox_users`) + count(t, s, `SELECT count(*) FROM devices`); n != 0 {
		t.Errorf("nox users + devices after failed logins: got %d, want 0", n)
	}
}

func TestPreselectedBrandStartsAtTheContinueButtonNotAtTheGet(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	c := s.Client()
	link := s.MustCreateLink(t, "cust-1", `,"brand":"sandbox-heatpump"`)
	page := handlertest.Get(t, c, link["link_url"].(string))
	if page.Status != http.StatusOK || page.Location != "" {
		t.Fatalf("open link: got %d to %q, want 200 and the continue page", page.Status, page.Location)
	}
	if n := count(t, s, `SELECT count(*) FROM link_sessions WHERE state_hash IS NOT NULL OR browser_hash IS NOT NULL`); n != 0 {
		t.Errorf("sessions authorizing or bound after a GET: got %d, want 0", n)
	}
	button := handlertest.Find(page.Doc, func(n *html.Node) bool { return handlertest.Attr(n, "data-brand") == "sandbox-heatpump" })
	if button == nil || !strings.Contains(handlertest.Text(button), "Continue to Sandbox Heat Pumps") {
		t.Errorf("continue page: want a button \"Continue to Sandbox Heat Pumps\":\n%s", page.Body)
	}
	action, vals := page.FormValues(t, "/connect/brand", "brand", "sandbox-heatpump")
	p := handlertest.PostForm(t, c, s.URL+action, vals)
	if p.Status != http.StatusSeeOther {
		t.Fatalf("continue: got %d, want 303", p.Status)
	}
	authorize, err := url.Parse(p.Location)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := authorize.Scheme+"://"+authorize.Host+authorize.Path, s.URL+"/sandbox/sandbox-heatpump/authorize"; got != want {
		t.Errorf("redirect: got %s, want %s", got, want)
	}
	q := authorize.Query()
	for k, want := range map[string]string{"response_type": "code", "client_id": "nox-sandbox-heatpump",
		"redirect_uri": s.URL + "/oauth/callback/sandbox-heatpump", "code_challenge_method": "S256", "ui_locales": "en"} {
		if got := q.Get(k); got != want {
			t.Errorf("authorize %s: got %q, want %q", k, got, want)
		}
	}
	if len(q.Get("state")) < 32 || len(q.Get("code_challenge")) != 43 {
		t.Errorf("state %q / code_challenge %q: want a long random state and an S256 challenge", q.Get("state"), q.Get("code_challenge"))
	}
	final := handlertest.Get(t, c, answerConsent(t, s, c, signIn(t, s, c, p.Location, "user_good"), "allow"))
	wantRedirect(t, s, final.Location, map[string]string{"connection_status": "connected", "manufacturer": "sandbox-heatpump"})
}

func TestManufacturerTokensAreStoredEncrypted(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	final := s.Walk(t, s.Client(), s.MustCreateLink(t, "cust-1")["link_url"].(string), "sandbox-heatpump", "user_good", app.SandboxPassword, "allow")
	noxUserID := query(t, final).Get("nox_user_id")
	ctx := context.Background()
	tokens, err := dbtest.ManufacturerTokens(ctx, s.Store, noxUserID, "sandbox-heatpump")
	if err != nil {
		t.Fatal(err)
	}
	if user, err := s.Store.SandboxTokenUser(ctx, "sandbox-heatpump", "access", tokens.AccessToken); err != nil || user != "user_good" {
		t.Fatalf("decrypted access token: sandbox says user %q (%v), want user_good", user, err)
	}
	if tokens.RefreshToken == "" || tokens.Expiry.IsZero() {
		t.Errorf("refresh token %q, expiry %v: want both stored", tokens.RefreshToken, tokens.Expiry)
	}
	var row struct {
		Access  []byte `db:"access_token_enc"`
		Refresh []byte `db:"refresh_token_enc"`
		JSON    string `db:"json"`
	}
	if err := s.Store.DB().Get(&row, `SELECT access_token_enc, refresh_token_enc, row_to_json(g)::text AS json
		FROM manufacturer_grants g WHERE nox_user_id = $1`, noxUserID); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{tokens.AccessToken, tokens.RefreshToken} {
		if bytes.Contains(row.Access, []byte(secret)) || bytes.Contains(row.Refresh, []byte(secret)) || strings.Contains(row.JSON, secret) {
			t.Errorf("manufacturer_grants row holds a token in plaintext")
		}
	}
}

func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	c := s.Client()
	link := s.MustCreateLink(t, "cust-1")
	callback := walkToCallback(t, s, c, link["link_url"].(string), "sandbox-heatpump", "user_good", "allow")
	final := handlertest.Get(t, c, callback)
	wantRedirect(t, s, final.Location, map[string]string{"connection_status": "connected"})
	s.Walk(t, s.Client(), s.MustCreateLink(t, "cust-2")["link_url"].(string), "sandbox-heatpump", "user_token_error", app.SandboxPassword, "allow")
	tokens, err := dbtest.ManufacturerTokens(context.Background(), s.Store, query(t, final.Location).Get("nox_user_id"), "sandbox-heatpump")
	if err != nil {
		t.Fatal(err)
	}

	logs := s.Logs()
	for _, want := range []string{"/connect", "/oauth/callback/sandbox-heatpump", "REDACTED"} {
		if !strings.Contains(logs, want) {
			t.Fatalf("logs lack %q; the flow was not logged:\n%s", want, logs)
		}
	}
	cb := query(t, callback)
	for name, secret := range map[string]string{
		"api key":       s.APIKey,
		"link token":    link["link_token"].(string),
		"oauth code":    cb.Get("code"),
		"oauth state":   cb.Get("state"),
		"access token":  tokens.AccessToken,
		"refresh token": tokens.RefreshToken,
		"client secret": "sandbox-secret-heatpump",
		"password":      app.SandboxPassword,
	} {
		if secret == "" {
			t.Fatalf("%s is empty", name)
		}
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain the %s", name)
		}
	}
}

func TestSelectBrandRequiresTheCSRFToken(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	c := s.Client()
	link := s.MustCreateLink(t, "cust-1")
	page := openLink(t, c, link["link_url"].(string))
	action, vals := page.FormValues(t, "/connect/brand", "brand", "sandbox-heatpump")
	_, otherVals := openLink(t, s.Client(), s.MustCreateLink(t, "cust-2")["link_url"].(string)).FormValues(t, "/connect/brand")
	sess := sessionOf(t, s, tokenOf(t, link["link_url"].(string)))
	before := snapshot(t, s, sess.ID)

	with := func(csrf string) url.Values {
		v := url.Values{}
		for k := range vals {
			v.Set(k, vals.Get(k))
		}
		if csrf == "" {
			v.Del("_csrf")
		} else {
			v.Set("_csrf", csrf)
		}
		return v
	}
	tests := []struct {
		name   string
		form   url.Values
		origin string
	}{
		{"no token", with(""), ""},
		{"garbage token", with("not-a-token"), ""},
		{"another browser's token", with(otherVals.Get("_csrf")), ""},
		{"right token from another site", with(vals.Get("_csrf")), "https://evil.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest("POST", s.URL+action, strings.NewReader(tt.form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" {
				t.Errorf("got %d to %q, want 403 and no redirect", resp.StatusCode, resp.Header.Get("Location"))
			}
		})
	}
	if after := snapshot(t, s, sess.ID); after != before {
		t.Errorf("refused brand selections changed the session:\nbefore %s\nafter  %s", before, after)
	}
	if p := handlertest.PostForm(t, c, s.URL+action, vals); p.Status != http.StatusSeeOther {
		t.Errorf("with the right token: got %d, want 303", p.Status)
	}
}
