package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"noxportal/app"
	"noxportal/handlers/handlertest"
)

// mustTeamLogin creates a member of supplierID's team with role and
// returns a client signed in as it.
func mustTeamLogin(t *testing.T, s *handlertest.Server, email, role, supplierID string) *http.Client {
	t.Helper()
	if _, err := s.Store.CreatePortalUser(context.Background(), app.NewPortalUser{Email: email, Role: role,
		Password: handlertest.TestPassword, TeamSupplierID: supplierID}); err != nil {
		t.Fatalf("create %s: %v", email, err)
	}
	c := s.Client()
	if p := s.Login(t, c, email, handlertest.TestPassword, ""); p.Status != http.StatusSeeOther || s.Local(p.Location) != "/developers" {
		t.Fatalf("login %s: got %d to %q, want 303 to /developers", email, p.Status, p.Location)
	}
	return c
}

// devPost posts form to path with the CSRF token of /developers/keys.
func devPost(t *testing.T, s *handlertest.Server, c *http.Client, path string, form url.Values) handlertest.Page {
	t.Helper()
	return postCSRF(t, s, c, "/developers/keys", path, form)
}

// audited counts the audit entries with action on objectID.
func audited(t *testing.T, s *handlertest.Server, action, objectID string) int {
	t.Helper()
	return count(t, s, `SELECT count(*) FROM audit_log WHERE action = $1 AND object_id = $2`, action, objectID)
}

// shownOnce follows the redirect of an action that shows a secret once
// and returns that page.
func shownOnce(t *testing.T, s *handlertest.Server, c *http.Client, p handlertest.Page) handlertest.Page {
	t.Helper()
	if p.Status != http.StatusSeeOther {
		t.Fatalf("got %d, want 303 to the page showing the secret:\n%s", p.Status, p.Body)
	}
	return handlertest.Get(t, c, s.URL+s.Local(p.Location))
}

// newKeyOn returns the key a page shows once (the data-new-key input).
func newKeyOn(t *testing.T, p handlertest.Page) string {
	t.Helper()
	n := handlertest.Find(p.Doc, func(n *html.Node) bool { return n.Data == "input" && hasAttr(n, "data-new-key") })
	if n == nil {
		t.Fatalf("no new key on the page (status %d):\n%s", p.Status, p.Body)
	}
	return handlertest.Attr(n, "value")
}

func TestDeveloperRoutesFollowRoles(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	gets := []string{"/developers/keys", "/developers/redirect-uris", "/developers/webhooks", "/developers/team", "/reports"}
	posts := []string{"/developers/keys", "/developers/keys/1/revoke", "/developers/keys/1/rotate", "/developers/redirect-uris",
		"/developers/redirect-uris/remove", "/developers/webhooks/endpoint", "/developers/webhooks/endpoint/remove",
		"/developers/webhooks/test", "/developers/webhooks/deliveries/whd_none/resend", "/developers/team/invitations"}
	viewer := mustTeamLogin(t, s, "viewer@team.test", app.RoleSupplierViewer, s.SupplierID)
	for _, path := range gets {
		if p := handlertest.Get(t, viewer, s.URL+path); p.Status != http.StatusOK {
			t.Errorf("GET %s as viewer: got %d, want 200", path, p.Status)
		}
	}
	for _, path := range posts {
		if p := devPost(t, s, viewer, path, url.Values{"name": {"x"}, "uri": {"https://x.example/cb"}}); p.Status != http.StatusForbidden {
			t.Errorf("POST %s as viewer: got %d, want 403", path, p.Status)
		}
	}
	if n := count(t, s, `SELECT count(*) FROM api_keys WHERE supplier_id = $1`, s.SupplierID); n != 1 {
		t.Errorf("keys after the viewer's posts: got %d, want the 1 the test made", n)
	}
	for _, role := range []string{app.RoleCustomer, app.RoleAgent, app.RoleManager, app.RoleAdmin} {
		_, c := s.MustLogin(t, role+"@staff.test", role)
		if p := handlertest.Get(t, c, s.URL+"/developers/keys"); p.Status != http.StatusForbidden {
			t.Errorf("GET /developers/keys as %s: got %d, want 403", role, p.Status)
		}
	}
	if p := handlertest.Get(t, s.Client(), s.URL+"/developers/keys"); p.Status != http.StatusSeeOther || !strings.Contains(p.Location, "/login") {
		t.Errorf("GET /developers/keys signed out: got %d to %q, want 303 to /login", p.Status, p.Location)
	}
}

func TestDeveloperPostsNeedCSRF(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	admin := mustTeamLogin(t, s, "dev@team.test", app.RoleSupplierAdmin, s.SupplierID)
	for _, path := range []string{"/developers/keys", "/developers/redirect-uris", "/developers/webhooks/endpoint",
		"/developers/webhooks/test", "/developers/team/invitations"} {
		p := handlertest.PostForm(t, admin, s.URL+path, url.Values{"name": {"x"}, "uri": {"https://x.example/cb"},
			"url": {"https://x.example/hook"}, "email": {"a@b.example"}, "role": {"supplier_viewer"}})
		if p.Status != http.StatusForbidden {
			t.Errorf("POST %s without CSRF token: got %d, want 403", path, p.Status)
		}
	}
	if n := count(t, s, `SELECT count(*) FROM audit_log`); n != 1 { // the sign-in
		t.Errorf("audit entries after refused posts: got %d, want only the sign-in", n)
	}
}

func TestDeveloperKeysCreateRotateRevoke(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	admin := mustTeamLogin(t, s, "dev@team.test", app.RoleSupplierAdmin, s.SupplierID)
	post := devPost(t, s, admin, "/developers/keys", url.Values{"name": {"staging"}})
	key := newKeyOn(t, shownOnce(t, s, admin, post))
	if !strings.HasPrefix(key, "nox_sk_") {
		t.Fatalf("new key: got %q, want nox_sk_…", key)
	}
	if again := handlertest.Get(t, admin, s.URL+"/developers/keys"); strings.Contains(again.Body, key) {
		t.Errorf("the key is shown a second time")
	}
	if reload := handlertest.Get(t, admin, s.URL+s.Local(post.Location)); strings.Contains(reload.Body, key) || !strings.Contains(reload.Body, "data-secret-gone") {
		t.Errorf("reloading the page that showed the key: want it gone, with a notice that says so")
	}
	if r := s.API(t, "POST", "/users/dev-user/link", key, `{"redirect_uri":"`+s.RedirectURI+`"}`); r.Status != http.StatusOK {
		t.Fatalf("link with the new key: got %d %s", r.Status, r.Raw)
	}
	keys, err := s.Store.SupplierAPIKeys(context.Background(), s.SupplierID)
	if err != nil {
		t.Fatal(err)
	}
	newest := keys[0]
	if newest.Name != "staging" || newest.LastUsedAt == nil {
		t.Errorf("new key: got name %q last used %v, want staging, used", newest.Name, newest.LastUsedAt)
	}
	id := strconv.FormatInt(newest.ID, 10)
	page := handlertest.Get(t, admin, s.URL+"/developers/keys")
	row := handlertest.Find(page.Doc, byAttr("data-key-id", id))
	if row == nil || strings.Contains(handlertest.Text(row), "Never") {
		t.Errorf("key row: want a last-used time, got %q", handlertest.Text(row))
	}
	if audited(t, s, "api_key.create", id) != 1 {
		t.Errorf("no audit entry for the created key")
	}

	rotated := shownOnce(t, s, admin, devPost(t, s, admin, "/developers/keys/"+id+"/rotate", url.Values{"overlap": {"1h"}}))
	replacement := newKeyOn(t, rotated)
	for _, k := range []string{key, replacement} {
		if r := s.API(t, "GET", "/users/dev-user", k, ""); r.Status == http.StatusUnauthorized {
			t.Errorf("during the overlap, key %s…: got 401, want it to work", k[:12])
		}
	}
	var exp time.Time
	if err := s.Store.DB().Get(&exp, `SELECT expires_at FROM api_keys WHERE id = $1`, newest.ID); err != nil {
		t.Fatal(err)
	}
	if d := time.Until(exp); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("old key expires in %v, want 1h", d)
	}
	if p := devPost(t, s, admin, "/developers/keys/"+id+"/rotate", url.Values{"overlap": {"1y"}}); p.Status != http.StatusBadRequest {
		t.Errorf("rotate with a made-up overlap: got %d, want 400", p.Status)
	}
	if p := devPost(t, s, admin, "/developers/keys/"+id+"/revoke", nil); p.Status != http.StatusSeeOther {
		t.Fatalf("revoke: got %d", p.Status)
	}
	if r := s.API(t, "GET", "/users/dev-user", key, ""); r.Status != http.StatusUnauthorized {
		t.Errorf("revoked key: got %d, want 401", r.Status)
	}
	if audited(t, s, "api_key.rotate", id) != 1 || audited(t, s, "api_key.revoke", id) != 1 {
		t.Errorf("rotate and revoke must each be audited")
	}
}

func TestDeveloperRedirectURIsFollowTheAPIRule(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	admin := mustTeamLogin(t, s, "dev@team.test", app.RoleSupplierAdmin, s.SupplierID)
	uris := func() int {
		return count(t, s, `SELECT count(*) FROM supplier_redirect_uris WHERE supplier_id = $1`, s.SupplierID)
	}
	before := uris()
	for _, bad := range []string{"http://shop.example/cb", "https://shop.example/cb#frag", "/callback", "https://user@shop.example/cb",
		"javascript:alert(1)", s.RedirectURI} {
		p := devPost(t, s, admin, "/developers/redirect-uris", url.Values{"uri": {bad}})
		if p.Status != http.StatusUnprocessableEntity || handlertest.Find(p.Doc, func(n *html.Node) bool { return hasAttr(n, "data-form-error") }) == nil {
			t.Errorf("add %q: got %d, want 422 with the reason", bad, p.Status)
		}
		if r := s.API(t, "POST", "/users/u1/link", s.APIKey, `{"redirect_uri":"`+bad+`"}`); bad != s.RedirectURI && r.Status != http.StatusBadRequest {
			t.Errorf("the API takes %q (%d) although the dashboard refuses it", bad, r.Status)
		}
	}
	if got := uris(); got != before {
		t.Fatalf("refused URIs changed the allowlist: %d → %d", before, got)
	}
	good := "https://app.example/nox/return?x=1"
	if r := s.API(t, "POST", "/users/u1/link", s.APIKey, `{"redirect_uri":"`+good+`"}`); r.Status != http.StatusBadRequest {
		t.Fatalf("before it is added, the API: got %d, want 400", r.Status)
	}
	if p := devPost(t, s, admin, "/developers/redirect-uris", url.Values{"uri": {good}}); p.Status != http.StatusSeeOther {
		t.Fatalf("add %q: got %d:\n%s", good, p.Status, p.Body)
	}
	if r := s.API(t, "POST", "/users/u1/link", s.APIKey, `{"redirect_uri":"`+good+`"}`); r.Status != http.StatusOK {
		t.Errorf("after it is added, the API: got %d %s, want 200", r.Status, r.Raw)
	}
	if r := s.API(t, "POST", "/users/u1/link", s.APIKey, `{"redirect_uri":"`+good+`&y=2"}`); r.Status != http.StatusBadRequest {
		t.Errorf("a longer URI than the one added: got %d, want 400 (exact match)", r.Status)
	}
	if p := devPost(t, s, admin, "/developers/redirect-uris/remove", url.Values{"uri": {good}}); p.Status != http.StatusSeeOther {
		t.Fatalf("remove: got %d", p.Status)
	}
	if r := s.API(t, "POST", "/users/u1/link", s.APIKey, `{"redirect_uri":"`+good+`"}`); r.Status != http.StatusBadRequest {
		t.Errorf("after removal, the API: got %d, want 400", r.Status)
	}
	if audited(t, s, "redirect_uri.add", s.SupplierID) != 1 || audited(t, s, "redirect_uri.remove", s.SupplierID) != 1 {
		t.Errorf("add and remove must each be audited")
	}
	// The last URI stays.
	devPost(t, s, admin, "/developers/redirect-uris/remove", url.Values{"uri": {"http://127.0.0.1:3000/callback"}})
	if p := devPost(t, s, admin, "/developers/redirect-uris/remove", url.Values{"uri": {s.RedirectURI}}); p.Status != http.StatusUnprocessableEntity {
		t.Errorf("removing the last URI: got %d, want 422", p.Status)
	}
	if uris() != 1 {
		t.Errorf("the last redirect URI was removed")
	}
}

var signatureRe = regexp.MustCompile(`^t=\d+,v1=[0-9a-f]{64}$`)

func TestDeveloperWebhooksTestEventLogAndResend(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	admin := mustTeamLogin(t, s, "dev@team.test", app.RoleSupplierAdmin, s.SupplierID)
	rec := handlertest.NewReceiver(t, nil)
	if p := devPost(t, s, admin, "/developers/webhooks/endpoint", url.Values{"url": {"ftp://hooks.example/x"}}); p.Status != http.StatusUnprocessableEntity {
		t.Errorf("an endpoint the API refuses: got %d, want 422", p.Status)
	}
	saved := shownOnce(t, s, admin, devPost(t, s, admin, "/developers/webhooks/endpoint", url.Values{"url": {rec.URL}}))
	sec := handlertest.Find(saved.Doc, func(n *html.Node) bool { return hasAttr(n, "data-webhook-secret") })
	if saved.Status != http.StatusOK || sec == nil {
		t.Fatalf("register endpoint: got %d, want the secret shown once:\n%s", saved.Status, saved.Body)
	}
	rec.SetSecret(handlertest.Attr(sec, "value"))

	sent := devPost(t, s, admin, "/developers/webhooks/test", nil)
	if sent.Status != http.StatusSeeOther || !strings.Contains(sent.Location, "/developers/webhooks/deliveries/whd_") {
		t.Fatalf("send test: got %d to %q", sent.Status, sent.Location)
	}
	got := rec.WaitFor(t, "the test event", func(ws []handlertest.Webhook) bool { return len(handlertest.OfType(ws, app.EventWebhookTest)) == 1 })
	wh := handlertest.OfType(got, app.EventWebhookTest)[0]
	if !wh.SignatureOK || wh.Data["supplier_id"] != s.SupplierID {
		t.Errorf("test event: signature ok %v, data %v", wh.SignatureOK, wh.Data)
	}
	deliveryPath := s.Local(sent.Location)
	deliveryPath = deliveryPath[:strings.IndexByte(deliveryPath, '?')]
	var page handlertest.Page
	deadline := time.Now().Add(5 * time.Second)
	for {
		page = handlertest.Get(t, admin, s.URL+deliveryPath)
		if strings.Contains(page.Body, `data-attempt="1"`) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	sig := handlertest.Find(page.Doc, func(n *html.Node) bool { return hasAttr(n, "data-signature") })
	if sig == nil || handlertest.Text(sig) != wh.Signature || !signatureRe.MatchString(wh.Signature) {
		t.Errorf("delivery page signature: got %q, want the header sent, %q", handlertest.Text(sig), wh.Signature)
	}
	payload := handlertest.Find(page.Doc, func(n *html.Node) bool { return hasAttr(n, "data-payload") })
	if payload == nil || !strings.Contains(handlertest.Text(payload), `"type": "webhook.test"`) {
		t.Errorf("delivery page payload: got %q", handlertest.Text(payload))
	}
	if !strings.Contains(page.Body, "HTTP 204") || !strings.Contains(page.Body, " ms") {
		t.Errorf("delivery page: want the attempt's status and latency")
	}

	id := strings.TrimPrefix(deliveryPath, "/developers/webhooks/deliveries/")
	resent := devPost(t, s, admin, deliveryPath+"/resend", nil)
	if resent.Status != http.StatusSeeOther {
		t.Fatalf("resend: got %d", resent.Status)
	}
	rec.WaitFor(t, "the resent event", func(ws []handlertest.Webhook) bool { return len(handlertest.OfType(ws, app.EventWebhookTest)) == 2 })
	rotated := shownOnce(t, s, admin, devPost(t, s, admin, "/developers/webhooks/endpoint", url.Values{"url": {rec.URL}, "rotate": {"1"}}))
	newSec := handlertest.Find(rotated.Doc, func(n *html.Node) bool { return hasAttr(n, "data-webhook-secret") })
	if newSec == nil || handlertest.Attr(newSec, "value") == handlertest.Attr(sec, "value") {
		t.Fatalf("rotate secret: want a new secret shown")
	}
	rec.SetSecret(handlertest.Attr(newSec, "value"))
	devPost(t, s, admin, "/developers/webhooks/test", nil)
	after := rec.WaitFor(t, "a test event after rotation", func(ws []handlertest.Webhook) bool { return len(handlertest.OfType(ws, app.EventWebhookTest)) == 3 })
	if last := handlertest.OfType(after, app.EventWebhookTest)[2]; !last.SignatureOK {
		t.Errorf("after rotation the event is not signed with the new secret")
	}
	if audited(t, s, "webhook.replay", id) != 1 || audited(t, s, "webhook_endpoint.save", s.SupplierID) != 2 ||
		count(t, s, `SELECT count(*) FROM audit_log WHERE action = 'webhook.test'`) != 2 {
		t.Errorf("endpoint saves, test events and the resend must each be audited")
	}
	if p := devPost(t, s, admin, "/developers/webhooks/endpoint/remove", nil); p.Status != http.StatusSeeOther {
		t.Errorf("remove endpoint: got %d", p.Status)
	}
	if p := devPost(t, s, admin, "/developers/webhooks/test", nil); p.Status != http.StatusNotFound {
		t.Errorf("test event without an endpoint: got %d, want 404", p.Status)
	}
}

func TestDeveloperDashboardNeverReachesAnotherSupplier(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	ctx := context.Background()
	otherKey := otherSupplier(t, s, "other_energy", "https://other.example/secret-callback")
	otherRec := handlertest.NewReceiver(t, nil)
	s.MustRegisterWebhook(t, otherKey, otherRec)
	otherDelivery, err := s.Store.SendTestWebhook(ctx, "other_energy", app.AuditEntry{})
	if err != nil {
		t.Fatal(err)
	}
	otherKeys, err := s.Store.SupplierAPIKeys(ctx, "other_energy")
	if err != nil {
		t.Fatal(err)
	}
	otherKeyID := strconv.FormatInt(otherKeys[0].ID, 10)
	admin := mustTeamLogin(t, s, "dev@team.test", app.RoleSupplierAdmin, s.SupplierID)
	mustTeamLogin(t, s, "dev@other.test", app.RoleSupplierAdmin, "other_energy")

	// Pages show only the own supplier.
	for _, path := range []string{"/developers/keys", "/developers/redirect-uris", "/developers/webhooks", "/developers/team",
		"/reports?supplier=other_energy", "/developers/webhooks?event=webhook.test"} {
		p := handlertest.Get(t, admin, s.URL+path)
		for _, secret := range []string{otherKeys[0].Prefix, "other.example/secret-callback", otherRec.URL, otherDelivery.ID, "Other Energy", "dev@other.test"} {
			if strings.Contains(p.Body, secret) {
				t.Errorf("GET %s shows the other supplier's %q", path, secret)
			}
		}
	}
	csv := handlertest.Get(t, admin, s.URL+"/reports/export/suppliers.csv?supplier=other_energy")
	if strings.Contains(csv.Body, "other_energy") || strings.Contains(csv.Body, "Other Energy") {
		t.Errorf("the funnel CSV shows the other supplier:\n%s", csv.Body)
	}
	// Another supplier's objects are not found, and nothing changes.
	for _, tt := range []struct {
		path string
		form url.Values
	}{
		{"/developers/keys/" + otherKeyID + "/revoke", nil},
		{"/developers/keys/" + otherKeyID + "/rotate", url.Values{"overlap": {"1h"}}},
		{"/developers/redirect-uris/remove", url.Values{"uri": {"https://other.example/secret-callback"}}},
		{"/developers/webhooks/deliveries/" + otherDelivery.ID + "/resend", nil},
	} {
		if p := devPost(t, s, admin, tt.path, tt.form); p.Status != http.StatusNotFound {
			t.Errorf("POST %s: got %d, want 404", tt.path, p.Status)
		}
	}
	if p := handlertest.Get(t, admin, s.URL+"/developers/webhooks/deliveries/"+otherDelivery.ID); p.Status != http.StatusNotFound {
		t.Errorf("GET the other supplier's delivery: got %d, want 404", p.Status)
	}
	if r := s.API(t, "GET", "/users/x", otherKey, ""); r.Status == http.StatusUnauthorized {
		t.Errorf("the other supplier's key stopped working")
	}
	if n := count(t, s, `SELECT count(*) FROM api_keys WHERE supplier_id = 'other_energy' AND (expires_at IS NOT NULL OR revoked_at IS NOT NULL)`); n != 0 {
		t.Errorf("the other supplier's key was changed")
	}
	if n := count(t, s, `SELECT count(*) FROM supplier_redirect_uris WHERE supplier_id = 'other_energy'`); n != 1 {
		t.Errorf("the other supplier's redirect URIs changed: %d", n)
	}
	if n := count(t, s, `SELECT count(*) FROM webhook_deliveries WHERE replay_of = $1`, otherDelivery.ID); n != 0 {
		t.Errorf("the other supplier's delivery was resent")
	}
	// Own changes land on the own supplier only.
	devPost(t, s, admin, "/developers/keys", url.Values{"name": {"mine"}})
	devPost(t, s, admin, "/developers/webhooks/endpoint", url.Values{"url": {"https://mine.example/hooks"}})
	if n := count(t, s, `SELECT count(*) FROM api_keys WHERE supplier_id = 'other_energy'`); n != 1 {
		t.Errorf("creating a key added one to the other supplier")
	}
	ep, err := s.Store.WebhookEndpoint(ctx, app.SupplierParty("other_energy"))
	if err != nil || ep.URL != otherRec.URL {
		t.Errorf("the other supplier's endpoint: got %q, %v, want it unchanged", ep.URL, err)
	}
}

// invitationToken returns the token of the newest invitation email to email.
func invitationToken(t *testing.T, s *handlertest.Server, email string) string {
	t.Helper()
	var body string
	if err := s.Store.DB().Get(&body, `SELECT body FROM email_outbox WHERE to_address = $1 AND kind = 'invitation' ORDER BY id DESC LIMIT 1`, email); err != nil {
		t.Fatalf("invitation email to %s: %v", email, err)
	}
	m := regexp.MustCompile(`/developers/invitation\?token=([A-Za-z0-9_-]+)`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no invitation link in:\n%s", body)
	}
	return m[1]
}

func TestTeamInvitationIsUsedOnce(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	admin := mustTeamLogin(t, s, "dev@team.test", app.RoleSupplierAdmin, s.SupplierID)
	for _, bad := range []url.Values{{"email": {"not-an-email"}, "role": {"supplier_viewer"}},
		{"email": {"x@team.test"}, "role": {"admin"}}, {"email": {"dev@team.test"}, "role": {"supplier_viewer"}}} {
		if p := devPost(t, s, admin, "/developers/team/invitations", bad); p.Status != http.StatusUnprocessableEntity {
			t.Errorf("invite %v: got %d, want 422", bad, p.Status)
		}
	}
	if n := count(t, s, `SELECT count(*) FROM supplier_invitations`); n != 0 {
		t.Fatalf("refused invitations were stored: %d", n)
	}
	if p := devPost(t, s, admin, "/developers/team/invitations", url.Values{"email": {"New.Dev@Team.test"}, "role": {"supplier_viewer"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("invite: got %d:\n%s", p.Status, p.Body)
	}
	token := invitationToken(t, s, "new.dev@team.test")
	if team := handlertest.Get(t, admin, s.URL+"/developers/team"); handlertest.Find(team.Doc, byAttr("data-invitation", "new.dev@team.test")) == nil {
		t.Errorf("the team page does not list the open invitation")
	}
	link := s.URL + "/developers/invitation?token=" + token
	c := s.Client()
	form := handlertest.Get(t, c, link)
	if form.Status != http.StatusOK || !strings.Contains(form.Body, "Test Energy") {
		t.Fatalf("open invitation: got %d", form.Status)
	}
	_, vals := form.FormValues(t, "/developers/invitation")
	vals.Set("name", "New Dev")
	vals.Set("password", "a-long-password")
	vals.Set("password2", "another-password")
	if p := handlertest.PostForm(t, c, s.URL+"/developers/invitation", vals); p.Status != http.StatusUnprocessableEntity {
		t.Errorf("different passwords: got %d, want 422", p.Status)
	}
	vals.Set("password", "short")
	vals.Set("password2", "short")
	if p := handlertest.PostForm(t, c, s.URL+"/developers/invitation", vals); p.Status != http.StatusUnprocessableEntity {
		t.Errorf("short password: got %d, want 422", p.Status)
	}
	vals.Set("password", "a-long-password")
	vals.Set("password2", "a-long-password")
	if p := handlertest.PostForm(t, c, s.URL+"/developers/invitation", vals); p.Status != http.StatusSeeOther || s.Local(p.Location) != "/developers" {
		t.Fatalf("accept: got %d to %q:\n%s", p.Status, p.Location, p.Body)
	}
	keys := handlertest.Get(t, c, s.URL+"/developers/keys")
	if keys.Status != http.StatusOK || !strings.Contains(keys.Body, "data-readonly") {
		t.Errorf("the new viewer's dashboard: got %d, want 200 read-only", keys.Status)
	}
	u, err := s.Store.PortalUserByEmail(context.Background(), "new.dev@team.test")
	if err != nil || u.Role != app.RoleSupplierViewer || u.TeamSupplierID != s.SupplierID {
		t.Errorf("the new account: got %+v, %v", u, err)
	}
	if p := handlertest.Get(t, s.Client(), link); p.Status != http.StatusGone {
		t.Errorf("second use: got %d, want 410", p.Status)
	}
	if p := handlertest.PostForm(t, s.Client(), s.URL+"/developers/invitation", vals); p.Status != http.StatusForbidden && p.Status != http.StatusGone {
		t.Errorf("second accept: got %d, want it refused", p.Status)
	}
	if n := count(t, s, `SELECT count(*) FROM portal_users WHERE lower(email) = 'new.dev@team.test'`); n != 1 {
		t.Errorf("accounts for the invitation: got %d, want 1", n)
	}
	if audited(t, s, "team.invite", s.SupplierID) != 1 || audited(t, s, "team.join", s.SupplierID) != 1 {
		t.Errorf("invite and join must each be audited")
	}
	devPost(t, s, admin, "/developers/team/invitations", url.Values{"email": {"late@team.test"}, "role": {"supplier_admin"}})
	late := invitationToken(t, s, "late@team.test")
	if _, err := s.Store.DB().Exec(`UPDATE supplier_invitations SET expires_at = now() - interval '1 second' WHERE email = 'late@team.test'`); err != nil {
		t.Fatal(err)
	}
	if p := handlertest.Get(t, s.Client(), s.URL+"/developers/invitation?token="+late); p.Status != http.StatusGone {
		t.Errorf("expired invitation: got %d, want 410", p.Status)
	}
	if p := handlertest.Get(t, s.Client(), s.URL+"/developers/invitation?token=nope"); p.Status != http.StatusNotFound {
		t.Errorf("unknown invitation: got %d, want 404", p.Status)
	}
}

// waitForRequests waits until the request log holds n rows of supplierID.
func waitForRequests(t *testing.T, s *handlertest.Server, supplierID string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for count(t, s, `SELECT count(*) FROM api_requests WHERE supplier_id = $1`, supplierID) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the request log did not reach %d rows of %s", n, supplierID)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// requestRows returns the data-request rows of a request log page.
func requestRows(p handlertest.Page) []*html.Node {
	return handlertest.FindAll(p.Doc, func(n *html.Node) bool { return n.Data == "tr" && hasAttr(n, "data-request") })
}

func TestRequestLogShowsTheSuppliersOwnCallsWithoutBodies(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	otherKey := otherSupplier(t, s, "other_energy", "https://other.example/cb")
	ok := s.API(t, "POST", "/users/cust-7/link", s.APIKey, `{"redirect_uri":"`+s.RedirectURI+`","language":"en"}`, "Idempotency-Key", "order-77")
	bad := s.API(t, "POST", "/users/cust-8/link", s.APIKey, `{"redirect_uri":"https://evil.example/steal","language":"en"}`)
	if ok.Status != http.StatusOK || bad.Status != http.StatusBadRequest {
		t.Fatalf("API calls: got %d and %d, want 200 and 400", ok.Status, bad.Status)
	}
	s.API(t, "GET", "/users/other-user", otherKey, "")
	s.API(t, "GET", "/users/nobody", "nox_sk_wrong", "")
	waitForRequests(t, s, s.SupplierID, 2)
	waitForRequests(t, s, "other_energy", 1)
	if n := count(t, s, `SELECT count(*) FROM api_requests r WHERE r::text LIKE '%evil.example%' OR r::text LIKE '%supplier.example%'`); n != 0 {
		t.Errorf("request bodies reached the log (%d rows)", n)
	}

	viewer := mustTeamLogin(t, s, "viewer@team.test", app.RoleSupplierViewer, s.SupplierID)
	page := handlertest.Get(t, viewer, s.URL+"/developers/requests")
	rows := requestRows(page)
	if page.Status != http.StatusOK || len(rows) != 2 {
		t.Fatalf("request log: got %d with %d rows, want 200 with the supplier's 2", page.Status, len(rows))
	}
	newest, oldest := handlertest.Text(rows[0]), handlertest.Text(rows[1])
	for _, want := range []string{"POST /users/:supplier_user_id/link", "400", "invalid_redirect_uri", "cust-8", " ms"} {
		if !strings.Contains(newest, want) {
			t.Errorf("newest row %q lacks %q", newest, want)
		}
	}
	if !strings.Contains(oldest, "200") || !strings.Contains(oldest, "order-77") || !strings.Contains(oldest, "cust-7") {
		t.Errorf("oldest row %q: want 200, its idempotency key and user id", oldest)
	}
	if strings.Contains(page.Body, "other-user") || strings.Contains(page.Body, "nobody") {
		t.Errorf("the log shows another supplier's or an unauthenticated request")
	}
	for _, tt := range []struct {
		query string
		want  int
	}{
		{"status=4xx", 1},
		{"status=2xx", 1},
		{"status=5xx", 0},
		{"user=cust-7", 1},
		{"route=" + url.QueryEscape("/users/:supplier_user_id/link"), 2},
		{"route=" + url.QueryEscape("/users/:supplier_user_id"), 0},
		{"user=other-user", 0},
	} {
		p := handlertest.Get(t, viewer, s.URL+"/developers/requests?"+tt.query)
		if got := len(requestRows(p)); got != tt.want {
			t.Errorf("?%s: got %d rows, want %d", tt.query, got, tt.want)
		}
	}
	rid := handlertest.Attr(rows[0], "data-request")
	if rid == "" || !strings.Contains(handlertest.Text(rows[0]), rid) {
		t.Errorf("row without its request id")
	}
}

func TestNOXAdminInvitesASuppliersFirstAdmin(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	otherSupplier(t, s, "new_energy", "https://new.example/cb")
	_, nox := s.MustLogin(t, "admin@nox.test", app.RoleAdmin)
	if p := postCSRF(t, s, nox, "/admin/suppliers/new_energy", "/admin/suppliers/new_energy/invitations",
		url.Values{"email": {"bad"}, "role": {"supplier_admin"}}); p.Status != http.StatusUnprocessableEntity {
		t.Errorf("invite a bad address: got %d, want 422", p.Status)
	}
	if p := postCSRF(t, s, nox, "/admin/suppliers/new_energy", "/admin/suppliers/nowhere/invitations",
		url.Values{"email": {"lead@new.example"}, "role": {"supplier_admin"}}); p.Status != http.StatusNotFound {
		t.Errorf("invite to an unknown supplier: got %d, want 404", p.Status)
	}
	p := postCSRF(t, s, nox, "/admin/suppliers/new_energy", "/admin/suppliers/new_energy/invitations",
		url.Values{"email": {"lead@new.example"}, "role": {"supplier_admin"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("invite: got %d:\n%s", p.Status, p.Body)
	}
	if page := handlertest.Get(t, nox, s.URL+"/admin/suppliers/new_energy"); handlertest.Find(page.Doc, byAttr("data-invitation", "lead@new.example")) == nil {
		t.Errorf("the supplier page does not list the invitation")
	}
	c := s.Client()
	form := handlertest.Get(t, c, s.URL+"/developers/invitation?token="+invitationToken(t, s, "lead@new.example"))
	_, vals := form.FormValues(t, "/developers/invitation")
	vals.Set("password", "a-long-password")
	vals.Set("password2", "a-long-password")
	if p := handlertest.PostForm(t, c, s.URL+"/developers/invitation", vals); p.Status != http.StatusSeeOther {
		t.Fatalf("accept: got %d", p.Status)
	}
	created := shownOnce(t, s, c, devPost(t, s, c, "/developers/keys", url.Values{"name": {"first"}}))
	if key := newKeyOn(t, created); s.API(t, "GET", "/users/u", key, "").Status == http.StatusUnauthorized {
		t.Errorf("the new admin's first key does not work")
	}
	if n := count(t, s, `SELECT count(*) FROM api_keys WHERE supplier_id = 'new_energy' AND name = 'first'`); n != 1 {
		t.Errorf("the key is not the new supplier's")
	}
}
