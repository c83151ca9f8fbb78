package handlers_test

import (
	"context"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"noxportal/app"
	"noxportal/handlers/handlertest"
)

// clockText matches the durations a page counts from the clock ("0s ago",
// "Valid for 59m"), which move on between two reads of the same data.
var clockText = regexp.MustCompile(`\b\d+(s|m|h|d)\b`)

// pageText is the visible text of a page (attributes such as CSRF tokens
// and nonces left out), whitespace collapsed, durations counted from the
// clock replaced by their unit.
func pageText(p handlertest.Page) string {
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && (n.Data == "script" || n.Data == "style") {
			return
		}
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
			b.WriteByte(' ')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	if p.Doc != nil {
		walk(p.Doc)
	}
	return clockText.ReplaceAllString(strings.Join(strings.Fields(b.String()), " "), "N$1")
}

// TestFinishedSessionsAnswerTheSameOverHTTPAfterTheyMove finishes one
// session connected and one denied through the hosted flow, then moves
// them out of the open partition into their month, and checks that every
// HTTP reader of a finished session answers as before: the API's user and
// its idempotent replay, the link opened again (the used page), the
// console's customer, session and queue pages, and the reports.
func TestFinishedSessionsAnswerTheSameOverHTTPAfterTheyMove(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	ctx := context.Background()
	body := `{"redirect_uri":"` + s.RedirectURI + `","language":"en"}`
	created := s.API(t, "POST", "/users/cust-moved/link", s.APIKey, body, "Idempotency-Key", "order-moved")
	if created.Status != http.StatusOK {
		t.Fatalf("create: %d %s", created.Status, created.Raw)
	}
	connectedURL := created.Data()["link_url"].(string)
	s.Walk(t, s.Client(), connectedURL, "sandbox-heatpump", "user_good", app.SandboxPassword, "allow")
	denied := s.MustCreateLink(t, "cust-denied")
	deniedURL := denied["link_url"].(string)
	s.Walk(t, s.Client(), deniedURL, "sandbox-heatpump", "user_good", app.SandboxPassword, "deny")
	var ids []string
	for _, d := range []map[string]any{created.Data(), denied} {
		sess, err := s.Store.LinkSessionByToken(ctx, d["link_token"].(string))
		if err != nil || !sess.Status.Final() {
			t.Fatalf("session of %s: %s (%v), want finished", d["supplier_user_id"], sess.Status, err)
		}
		ids = append(ids, sess.ID)
	}
	if _, err := s.Store.FoldReports(ctx); err != nil {
		t.Fatal(err)
	}
	_, admin := s.MustLogin(t, "admin@moved.test", app.RoleAdmin)
	day := time.Now().UTC().Format("2006-01-02")
	pages := []string{
		"/console/users/" + s.SupplierID + "/cust-moved", "/console/users/" + s.SupplierID + "/cust-denied",
		"/console/sessions/" + ids[0], "/console/sessions/" + ids[1], "/console/queue",
		"/reports?from=" + day + "&to=" + day,
	}
	type view struct {
		API    []map[string]any
		Status []int
		Text   []string
	}
	read := func() view {
		var v view
		for _, r := range []handlertest.APIResult{
			s.API(t, "GET", "/users/cust-moved", s.APIKey, ""),
			s.API(t, "GET", "/users/cust-denied", s.APIKey, ""),
			s.API(t, "POST", "/users/cust-moved/link", s.APIKey, body, "Idempotency-Key", "order-moved"),
		} {
			if r.Status != http.StatusOK {
				t.Fatalf("API: %d %s", r.Status, r.Raw)
			}
			v.API = append(v.API, r.Data())
		}
		// The links opened again: the used page, from a fresh browser.
		for _, u := range []string{connectedURL, deniedURL} {
			p := handlertest.Get(t, s.Client(), u)
			v.Status, v.Text = append(v.Status, p.Status), append(v.Text, pageText(p))
		}
		for _, path := range pages {
			p := handlertest.Get(t, admin, s.URL+path)
			v.Status, v.Text = append(v.Status, p.Status), append(v.Text, pageText(p))
		}
		return v
	}
	before := read()
	if n, err := s.Store.MoveFinishedSessions(ctx, time.Now().Add(time.Hour)); err != nil || n != 2 {
		t.Fatalf("moved %d sessions (%v), want the 2 finished", n, err)
	}
	var open int
	if err := s.Store.DB().Get(&open, `SELECT count(*) FROM link_sessions_open WHERE id = ANY(string_to_array($1, ','))`,
		strings.Join(ids, ",")); err != nil || open != 0 {
		t.Fatalf("%d of the finished sessions (%v) still in the open partition", open, err)
	}
	after := read()
	for i := range before.API {
		if !reflect.DeepEqual(after.API[i], before.API[i]) {
			t.Errorf("API answer %d after the move:\n got %v\nwant %v", i, after.API[i], before.API[i])
		}
	}
	names := append([]string{"connected link opened again", "denied link opened again"}, pages...)
	for i, name := range names {
		if before.Status[i] != http.StatusOK || after.Status[i] != before.Status[i] || after.Text[i] != before.Text[i] {
			t.Errorf("%s: %d before, %d after the move; text before:\n%s\nafter:\n%s", name, before.Status[i], after.Status[i],
				before.Text[i], after.Text[i])
		}
	}
}
