package handlertest

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"noxportal/handlers/htmlform"
)

// Page is a fetched HTML page.
type Page struct {
	Status   int
	Location string
	Header   http.Header
	Doc      *html.Node
	Body     string
}

// Get fetches rawURL with c (redirects are not followed).
func Get(tb testing.TB, c *http.Client, rawURL string) Page {
	tb.Helper()
	resp, err := c.Get(rawURL)
	if err != nil {
		tb.Fatal(err)
	}
	return readPage(tb, resp)
}

// PostForm posts form values to rawURL with c.
func PostForm(tb testing.TB, c *http.Client, rawURL string, form url.Values) Page {
	tb.Helper()
	resp, err := c.PostForm(rawURL, form)
	if err != nil {
		tb.Fatal(err)
	}
	return readPage(tb, resp)
}

func readPage(tb testing.TB, resp *http.Response) Page {
	tb.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	doc, err := html.Parse(strings.NewReader(string(b)))
	if err != nil {
		tb.Fatalf("parse html: %v", err)
	}
	p := Page{Status: resp.StatusCode, Header: resp.Header, Doc: doc, Body: string(b)}
	if loc, err := resp.Location(); err == nil {
		p.Location = loc.String()
	}
	return p
}

// Find returns the first element matching pred, or nil.
func Find(n *html.Node, pred func(*html.Node) bool) *html.Node { return htmlform.Find(n, pred) }

// FindAll returns every element matching pred.
func FindAll(n *html.Node, pred func(*html.Node) bool) []*html.Node { return htmlform.FindAll(n, pred) }

// Attr returns an attribute's value.
func Attr(n *html.Node, name string) string { return htmlform.Attr(n, name) }

// Text returns the text content of n.
func Text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// FormValues returns the action and the hidden inputs of the first form
// whose action contains actionPart and which contains an input
// name=key value=val when key is given.
func (p Page) FormValues(tb testing.TB, actionPart string, match ...string) (string, url.Values) {
	tb.Helper()
	key, val := "", ""
	if len(match) == 2 {
		key, val = match[0], match[1]
	}
	action, vals, err := htmlform.Values(p.Doc, actionPart, key, val)
	if err != nil {
		tb.Fatalf("%v in page (status %d):\n%s", err, p.Status, p.Body)
	}
	return action, vals
}

// Walk goes through the hosted flow like a user without JavaScript: opens
// linkURL, picks brand (unless the link preselects it), signs in at the
// sandbox manufacturer as username with password, answers the consent with
// decision ("allow" or "deny"), and returns the final redirect Location.
func (s *Server) Walk(tb testing.TB, c *http.Client, linkURL, brand, username, password, decision string) string {
	tb.Helper()
	p := Get(tb, c, linkURL)
	loc := p.Location
	if loc == "" {
		if p.Status != 200 {
			tb.Fatalf("open link: status %d", p.Status)
		}
		action, vals := p.FormValues(tb, "/connect/brand", "brand", brand)
		p = PostForm(tb, c, s.URL+action, vals)
		if p.Status != http.StatusSeeOther {
			tb.Fatalf("select brand: got %d, want 303:\n%s", p.Status, p.Body)
		}
		loc = p.Location
	}
	login := Get(tb, c, loc)
	if login.Status != 200 {
		tb.Fatalf("sandbox authorize: got %d:\n%s", login.Status, login.Body)
	}
	action, vals := login.FormValues(tb, "/login")
	vals.Set("username", username)
	vals.Set("password", password)
	consent := PostForm(tb, c, s.URL+action, vals)
	if consent.Status != 200 {
		tb.Fatalf("sandbox login as %s: got %d", username, consent.Status)
	}
	action, vals = consent.FormValues(tb, "/consent")
	vals.Set("decision", decision)
	back := PostForm(tb, c, s.URL+action, vals)
	if back.Status != http.StatusSeeOther {
		tb.Fatalf("consent: got %d", back.Status)
	}
	final := Get(tb, c, back.Location)
	if final.Status != http.StatusSeeOther {
		tb.Fatalf("callback: got %d, want 303:\n%s", final.Status, final.Body)
	}
	if choice := s.Local(final.Location); strings.HasPrefix(choice, "/connect/devices?") {
		// Several devices: keep the choice as offered (all of them).
		return s.ChooseDevices(tb, c, choice, nil)
	}
	if failure := s.Local(final.Location); strings.HasPrefix(failure, "/connect/failure?") {
		// A failure the user could fix: return to the supplier.
		return s.AnswerFailure(tb, c, failure, "return", "")
	}
	return final.Location
}

// AnswerFailure answers the failure screen at failureURL (a path) with
// action ("retry" at brand, "" for the same brand, or "return") and
// returns where NOX sends the browser then.
func (s *Server) AnswerFailure(tb testing.TB, c *http.Client, failureURL, action, brand string) string {
	tb.Helper()
	page := Get(tb, c, s.URL+failureURL)
	if page.Status != http.StatusOK {
		tb.Fatalf("failure screen: got %d:\n%s", page.Status, page.Body)
	}
	formAction, vals := page.FormValues(tb, "/connect/failure")
	if brand != "" {
		vals.Set("brand", brand)
	}
	vals.Set("action", action)
	done := PostForm(tb, c, s.URL+formAction, vals)
	if done.Status != http.StatusSeeOther {
		tb.Fatalf("failure screen %s: got %d, want 303:\n%s", action, done.Status, done.Body)
	}
	return done.Location
}

// ChooseDevices answers the device choice page at choiceURL (a path) with
// the devices ids, or, with ids nil, with those the page selects, and
// returns where NOX sends the browser then.
func (s *Server) ChooseDevices(tb testing.TB, c *http.Client, choiceURL string, ids []string) string {
	tb.Helper()
	page := Get(tb, c, s.URL+choiceURL)
	if page.Status != http.StatusOK {
		tb.Fatalf("device choice: got %d:\n%s", page.Status, page.Body)
	}
	action, vals := page.FormValues(tb, "/connect/devices")
	vals.Del("device")
	if ids == nil {
		for _, in := range FindAll(page.Doc, func(n *html.Node) bool { return n.Data == "input" && Attr(n, "name") == "device" }) {
			if hasAttr(in, "checked") {
				ids = append(ids, Attr(in, "value"))
			}
		}
	}
	vals["device"] = ids
	vals.Set("action", "link")
	done := PostForm(tb, c, s.URL+action, vals)
	if done.Status != http.StatusSeeOther {
		tb.Fatalf("choose devices %v: got %d, want 303:\n%s", ids, done.Status, done.Body)
	}
	return done.Location
}

func hasAttr(n *html.Node, name string) bool {
	for _, a := range n.Attr {
		if a.Key == name {
			return true
		}
	}
	return false
}
