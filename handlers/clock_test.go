package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"noxportal/app"
	"noxportal/handlers/handlertest"
)

// TestQueueWindowsFollowTheClock runs the console's failed queue at each of
// testClocks: its age filters count back from the portal's clock, across
// the month or DST change, and each row says how long ago it failed.
func TestQueueWindowsFollowTheClock(t *testing.T) {
	t.Parallel()
	for _, clock := range testClocks {
		t.Run(clock.name, func(t *testing.T) {
			t.Parallel()
			s := handlertest.StartAt(t, clock.at)
			ctx := context.Background()
			ended := map[string]time.Duration{"q_30m": 30 * time.Minute, "q_23h": 23*time.Hour + 30*time.Minute, "q_8d": 8 * 24 * time.Hour}
			for id, ago := range ended {
				finished := clock.at.Add(-ago)
				if _, err := s.Store.DB().ExecContext(ctx, `INSERT INTO link_sessions (id, token_hash, kind, supplier_id, supplier_user_id,
					redirect_uri, language, initiator, status, failure_reason, manufacturer_id, created_at, finished_at, expires_at)
					VALUES ($1, sha256(convert_to($1, 'UTF8')), 'supplier_link', $2, $1, $3, 'en', 'api', 'failed', 'access_denied',
						'sandbox-heatpump', $4::timestamptz - interval '5 minutes', $4, $4::timestamptz + interval '10 minutes')`,
					id, s.SupplierID, s.RedirectURI, finished); err != nil {
					t.Fatal(err)
				}
			}
			_, agent := s.MustLogin(t, "agent@clock.test", app.RoleAgent)
			for _, tc := range []struct {
				age  string
				want []string
			}{
				{"1h", []string{"q_30m"}},
				{"24h", []string{"q_30m", "q_23h"}},
				{"7d", []string{"q_30m", "q_23h"}},
				{"30d", []string{"q_30m", "q_23h", "q_8d"}},
			} {
				page := handlertest.Get(t, agent, s.URL+"/console/queue?age="+tc.age)
				if page.Status != http.StatusOK {
					t.Fatalf("queue age=%s: got %d", tc.age, page.Status)
				}
				var got []string
				for _, row := range handlertest.FindAll(page.Doc, func(n *html.Node) bool { return n.Data == "tr" && hasAttr(n, "data-session") }) {
					got = append(got, handlertest.Attr(row, "data-session"))
				}
				if strings.Join(got, ",") != strings.Join(tc.want, ",") {
					t.Errorf("queue age=%s at %s: got %v, want %v", tc.age, clock.at, got, tc.want)
				}
				if tc.age == "24h" && !strings.Contains(page.Body, "23h ago") {
					t.Errorf("queue age=24h: no row says it failed 23h ago:\n%s", page.Body)
				}
			}
		})
	}
}

// TestDashboardDatesFollowTheClock runs the customer dashboard at each of
// testClocks: a device connected the evening before shows the instant it
// was connected, and the page works on any date.
func TestDashboardDatesFollowTheClock(t *testing.T) {
	t.Parallel()
	for _, clock := range testClocks {
		t.Run(clock.name, func(t *testing.T) {
			t.Parallel()
			s := handlertest.StartAt(t, clock.at)
			_, c := s.MustLogin(t, "customer@clock.test", app.RoleCustomer)
			page := connectFromDashboard(t, s, c, "sandbox-heatpump", "user_good", "allow")
			if cards := deviceCards(page); len(cards) != 1 {
				t.Fatalf("device cards after connecting: got %d, want 1", len(cards))
			}
			connected := clock.at.Add(-26 * time.Hour).Truncate(time.Minute)
			if _, err := s.Store.DB().Exec(`UPDATE devices SET connected_at = $1, last_sync_at = $1`, connected); err != nil {
				t.Fatal(err)
			}
			page = handlertest.Get(t, c, s.URL+"/account")
			stamp := connected.UTC().Format("2006-01-02T15:04:05Z")
			when := handlertest.Find(page.Doc, func(n *html.Node) bool { return n.Data == "time" && handlertest.Attr(n, "datetime") == stamp })
			if when == nil || !strings.Contains(handlertest.Text(when), connected.UTC().Format("2006-01-02")) {
				t.Errorf("dashboard at %s: no <time datetime=%q> showing %s:\n%s", clock.at, stamp, connected.UTC().Format("2006-01-02"), page.Body)
			}
		})
	}
}
