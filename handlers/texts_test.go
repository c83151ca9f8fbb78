package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"noxportal/app"
	"noxportal/db/dbtest"
	"noxportal/handlers"
	"noxportal/handlers/handlertest"
)

func TestBrandStatusMessageIsShownAsEnteredAndMarked(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	const entered = "Storing tot 12:00 — <b>excuses</b>"
	if err := dbtest.SetManufacturerStatus(context.Background(), s.Store, "sandbox-heatpump", true, "degraded", entered); err != nil {
		t.Fatal(err)
	}
	link := s.MustCreateLink(t, "u-status", `,"language":"de"`)
	p := openLink(t, s.Client(), link["link_url"].(string))
	tile := handlertest.Find(p.Doc, func(n *html.Node) bool {
		return n.Data == "button" && handlertest.Attr(n, "data-brand") == "sandbox-heatpump"
	})
	if tile == nil {
		t.Fatalf("no sandbox-heatpump tile:\n%s", p.Body)
	}
	note := handlertest.Find(tile, func(n *html.Node) bool { return handlertest.Attr(n, "class") == "brand-note" })
	if note == nil {
		t.Fatalf("tile has no brand-note:\n%s", p.Body)
	}
	q := handlertest.Find(note, func(n *html.Node) bool { return n.Data == "q" })
	if q == nil || handlertest.Text(q) != entered {
		t.Errorf("status message: got %q, want exactly what the admin entered, %q, in a <q>", handlertest.Text(note), entered)
	}
	if got := handlertest.Text(note); !strings.HasPrefix(got, "Hinweis des NOX Energy-Supports, wie eingegeben:") {
		t.Errorf("status message label: got %q, want the German mark that it is shown as entered", got)
	}
}

func TestCustomerPagesShowTimesInTheBrowsersTimeZone(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	_, c := s.MustLogin(t, "tz@example.test", app.RoleCustomer)
	connectFromDashboard(t, s, c, "sandbox-heatpump", "user_good", "allow")
	u, _ := url.Parse(s.URL)
	for _, tt := range []struct{ zone, want string }{
		{"America/New_York", " E"}, // EST or EDT
		{"Asia/Tokyo", " JST"},
		// Unknown: the zone this customer's browser reported last (stored).
		{"Not/AZone", " JST"},
	} {
		c.Jar.SetCookies(u, []*http.Cookie{{Name: "nox_tz", Value: tt.zone, Path: "/"}})
		p := handlertest.Get(t, c, s.URL+"/account")
		cards := deviceCards(p)
		if len(cards) != 1 {
			t.Fatalf("%s: got %d device cards, want 1", tt.zone, len(cards))
		}
		tm := handlertest.Find(cards[0], func(n *html.Node) bool { return n.Data == "time" })
		if tm == nil {
			t.Fatalf("%s: device card has no <time>", tt.zone)
		}
		at, err := time.Parse(time.RFC3339, handlertest.Attr(tm, "datetime"))
		if err != nil {
			t.Fatal(err)
		}
		loc, err := time.LoadLocation(tt.zone)
		if err != nil {
			loc, _ = time.LoadLocation("Asia/Tokyo")
		}
		got := handlertest.Text(tm)
		if want := at.In(loc).Format("2006-01-02 15:04"); !strings.HasPrefix(got, want) || !strings.Contains(got, tt.want) {
			t.Errorf("%s: connected since %q, want %q in that zone (%s…)", tt.zone, got, want, tt.want)
		}
	}
}

func TestDemoSupplierAppShowsTheParametersItReceived(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	p := handlertest.Get(t, s.Client(), s.URL+handlers.DemoSupplierAppPath+
		"?src=nox&connection_status=connected&nox_user_id=nox_7&manufacturer=sandbox-heatpump&supplier_user_id=c%2042")
	if p.Status != http.StatusOK {
		t.Fatalf("demo supplier app: got %d, want 200", p.Status)
	}
	want := map[string]string{"src": "nox", "connection_status": "connected", "nox_user_id": "nox_7",
		"manufacturer": "sandbox-heatpump", "supplier_user_id": "c 42"}
	cells := handlertest.FindAll(p.Doc, func(n *html.Node) bool { return handlertest.Attr(n, "data-param") != "" })
	got := map[string]string{}
	for _, td := range cells {
		got[handlertest.Attr(td, "data-param")] = handlertest.Text(td)
	}
	if len(got) != len(want) {
		t.Errorf("received parameters: got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("parameter %s: got %q, want %q", k, got[k], v)
		}
	}
	if h1 := handlertest.Find(p.Doc, func(n *html.Node) bool { return n.Data == "h1" }); h1 == nil ||
		!strings.Contains(handlertest.Text(h1), "connected") {
		t.Errorf("heading: want the connected outcome named")
	}
}
