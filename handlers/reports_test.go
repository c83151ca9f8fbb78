package handlers_test

import (
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"noxportal/app"
	"noxportal/handlers/handlertest"
)

// TestReportsAreForManagersAndAdminsOnly checks the report page and its
// CSV export refuse customers and agents and send signed-out visitors to
// the login page.
func TestReportsAreForManagersAndAdminsOnly(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	for _, tc := range []struct {
		role string
		want int
	}{
		{app.RoleCustomer, http.StatusForbidden},
		{app.RoleAgent, http.StatusForbidden},
		{app.RoleManager, http.StatusOK},
		{app.RoleAdmin, http.StatusOK},
	} {
		t.Run(tc.role, func(t *testing.T) {
			_, c := s.MustLogin(t, tc.role+"@reports.test", tc.role)
			for _, path := range []string{"/reports", "/reports?range=7", "/reports/export/brands.csv"} {
				resp, err := c.Get(s.URL + path)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != tc.want {
					t.Errorf("GET %s as %s: got %d, want %d", path, tc.role, resp.StatusCode, tc.want)
				}
			}
		})
	}
	p := handlertest.Get(t, s.Client(), s.URL+"/reports?range=7")
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, s.URL+"/login?next=") {
		t.Errorf("signed out: got %d to %q, want 303 to /login?next=...", p.Status, p.Location)
	}
}

func cellText(tb testing.TB, p handlertest.Page, tableID, rowAttr, rowValue string, col int) string {
	tb.Helper()
	table := handlertest.Find(p.Doc, func(n *html.Node) bool { return n.Data == "table" && handlertest.Attr(n, "id") == tableID })
	if table == nil {
		tb.Fatalf("no table #%s in page:\n%s", tableID, p.Body)
	}
	row := handlertest.Find(table, func(n *html.Node) bool { return n.Data == "tr" && handlertest.Attr(n, rowAttr) == rowValue })
	if row == nil {
		return ""
	}
	cells := handlertest.FindAll(row, func(n *html.Node) bool { return n.Data == "td" || n.Data == "th" })
	return strings.TrimSpace(handlertest.Text(cells[col]))
}

// TestReportShowsFunnelOfRealSessionsFilteredFromTheURL walks sessions
// through the hosted flow and checks the report's funnel, brand table and
// filters, as a page and as an HTMX fragment.
func TestReportShowsFunnelOfRealSessionsFilteredFromTheURL(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	for i, tc := range []struct{ brand, decision string }{
		{"sandbox-heatpump", "allow"}, {"sandbox-heatpump", "allow"}, {"sandbox-heatpump", "deny"}, {"sandbox-thermostat", "allow"},
	} {
		link := s.MustCreateLink(t, "report_user_"+string(rune('a'+i)))
		s.Walk(t, s.Client(), link["link_url"].(string), tc.brand, "user_good", "pass_good", tc.decision)
	}
	s.MustCreateLink(t, "report_user_pending")
	_, c := s.MustLogin(t, "manager@reports.test", app.RoleManager)

	p := handlertest.Get(t, c, s.URL+"/reports?range=7")
	if p.Status != http.StatusOK {
		t.Fatalf("GET /reports: got %d", p.Status)
	}
	for _, tc := range []struct{ step, want string }{
		{"created", "5"}, {"opened", "4"}, {"brand_selected", "4"}, {"oauth_started", "4"}, {"connected", "3"},
	} {
		if got := cellText(t, p, "table-funnel", "data-step", tc.step, 1); got != tc.want {
			t.Errorf("funnel step %s: got %q, want %q", tc.step, got, tc.want)
		}
	}
	if got := cellText(t, p, "table-failures", "data-reason", "access_denied", 1); got != "1" {
		t.Errorf("access_denied failures: got %q, want 1", got)
	}
	if got := cellText(t, p, "table-brands", "data-key", "sandbox-heatpump", 3); got != "66.7%" {
		t.Errorf("heat pump success rate: got %q, want 66.7%%", got)
	}
	if n := len(handlertest.FindAll(p.Doc, func(n *html.Node) bool {
		return n.Data == "rect" && handlertest.Attr(n, "class") == "bar-sessions"
	})); n != 7 {
		t.Errorf("trend bars for 7 days: got %d, want 7", n)
	}

	req, _ := http.NewRequest("GET", s.URL+"/reports?range=30&brand=sandbox-thermostat&language=en", nil)
	req.Header.Set("HX-Request", "true")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	frag := handlertest.ReadPage(t, resp)
	if frag.Status != http.StatusOK || strings.Contains(frag.Body, "<html") {
		t.Fatalf("HTMX request: got %d, want the report fragment without the layout:\n%.300s", frag.Status, frag.Body)
	}
	if got := cellText(t, frag, "table-funnel", "data-step", "created", 1); got != "1" {
		t.Errorf("thermostat funnel: got %q created, want 1", got)
	}
	sel := handlertest.Find(frag.Doc, func(n *html.Node) bool {
		return n.Data == "option" && handlertest.Attr(n, "value") == "sandbox-thermostat"
	})
	if sel == nil || !hasAttr(sel, "selected") {
		t.Errorf("brand filter option is not selected in the fragment")
	}
	if n := len(handlertest.FindAll(frag.Doc, func(n *html.Node) bool {
		return n.Data == "rect" && handlertest.Attr(n, "class") == "bar-sessions"
	})); n != 30 {
		t.Errorf("trend bars for 30 days: got %d, want 30", n)
	}

	bad := handlertest.Get(t, c, s.URL+"/reports?range=custom&from=2026-02-10&to=2026-01-01")
	if bad.Status != http.StatusOK || !strings.Contains(bad.Body, `role="alert"`) {
		t.Errorf("reversed custom range: got %d without an alert, want 200 with one", bad.Status)
	}
}

func hasAttr(n *html.Node, name string) bool {
	for _, a := range n.Attr {
		if a.Key == name {
			return true
		}
	}
	return false
}

// TestReportCSVStreamsFilteredRowsAndNeutralisesFormulas exports the
// supplier table with a supplier whose name is a spreadsheet formula.
func TestReportCSVStreamsFilteredRowsAndNeutralisesFormulas(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	ctx := context.Background()
	evil := `=HYPERLINK("http://evil.example","x")`
	if err := s.Store.UpsertSupplier(ctx, app.Supplier{ID: s.SupplierID, Name: evil, RedirectURIs: []string{s.RedirectURI}}); err != nil {
		t.Fatal(err)
	}
	link := s.MustCreateLink(t, "csv_user")
	s.Walk(t, s.Client(), link["link_url"].(string), "sandbox-charger", "user_good", "pass_good", "allow")
	s.MustCreateLink(t, "csv_user_2")
	_, c := s.MustLogin(t, "manager@reports.test", app.RoleManager)

	resp, err := c.Get(s.URL + "/reports/export/suppliers.csv?range=7&flow=supplier_link")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("export: got %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("Content-Type: got %q, want text/csv", ct)
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, "attachment") || !strings.Contains(cd, "suppliers") {
		t.Errorf("Content-Disposition: got %q, want an attachment named after the table", cd)
	}
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("rows: got %v, want a header and one supplier", rows)
	}
	if got, want := rows[1][0], "'"+evil; got != want {
		t.Errorf("supplier name cell: got %q, want %q", got, want)
	}
	if got := rows[1][2:5]; strings.Join(got, ",") != "2,1,0.5000" {
		t.Errorf("sessions, connected, rate: got %v, want [2 1 0.5000]", got)
	}

	resp, err = c.Get(s.URL + "/reports/export/suppliers.csv?range=7&flow=supplier_select")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if lines := strings.Count(strings.TrimSpace(string(b)), "\n"); lines != 0 {
		t.Errorf("flow 2 filter: got %d data rows, want none:\n%s", lines, b)
	}
	resp, err = c.Get(s.URL + "/reports/export/passwords.csv")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown table: got %d, want 404", resp.StatusCode)
	}
}
