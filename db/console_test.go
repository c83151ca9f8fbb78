package db_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"noxportal/app"
	"noxportal/db"
	"noxportal/db/dbtest"
	"noxportal/devdata"
)

// mustMappings inserts a supplier and one mapping (with its nox user) per
// supplier user id, all created at the same instant unless spread is set.
func mustMappings(tb testing.TB, s *db.Store, supplierID string, ids ...string) {
	tb.Helper()
	ctx := context.Background()
	if err := s.UpsertSupplier(ctx, app.Supplier{ID: supplierID, Name: "Supplier " + supplierID,
		RedirectURIs: []string{"https://example.com/cb"}}); err != nil {
		tb.Fatal(err)
	}
	for _, id := range ids {
		if _, err := s.DB().ExecContext(ctx, `
			WITH u AS (INSERT INTO nox_users (id) VALUES ('nox_' || md5($2 || $1)) RETURNING id)
			INSERT INTO supplier_mappings (supplier_id, supplier_user_id, nox_user_id) SELECT $1, $2, id FROM u`,
			supplierID, id); err != nil {
			tb.Fatalf("insert mapping %q: %v", id, err)
		}
	}
}

func searchIDs(tb testing.TB, s *db.Store, q string) []string {
	tb.Helper()
	rows, _, err := s.SearchMappings(context.Background(), app.MappingFilter{Q: q}, nil, 100)
	if err != nil {
		tb.Fatalf("search %q: %v", q, err)
	}
	out := []string{}
	for _, r := range rows {
		out = append(out, r.SupplierUserID)
	}
	sort.Strings(out)
	return out
}

func TestSearchTreatsQueryAsLiteralText(t *testing.T) {
	s := dbtest.MustStore(t)
	mustMappings(t, s, "sup_a", "100%sure", "100xsure", "under_score", "underXscore", "o'brien", "obrien",
		`c:\path`, "c:path", "plain-user")
	tests := []struct {
		q    string
		want []string
	}{
		{"0%s", []string{"100%sure"}},
		{"r_s", []string{"under_score"}},
		{"o'b", []string{"o'brien"}},
		{`:\p`, []string{`c:\path`}},
		{`\`, []string{}},
		{"%", []string{}},
		{"_", []string{}},
		{"10", []string{"100%sure", "100xsure"}},
		{"ob", []string{"obrien"}},
		{"PLAIN", []string{"plain-user"}},
		{"'; DROP TABLE suppliers; --", []string{}},
	}
	for _, tt := range tests {
		got := searchIDs(t, s, tt.q)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("search %q: got %q, want %q", tt.q, got, tt.want)
		}
	}
}

func TestSearchMatchesDeviceEmailAndSupplier(t *testing.T) {
	s := dbtest.MustStore(t)
	ctx := context.Background()
	mustMappings(t, s, "acme_power", "cust-1")
	mustMappings(t, s, "other_energy", "cust-2", "cust-3")
	if err := s.SyncManufacturers(ctx, []app.ManufacturerConfig{{ID: "brand-x", Name: "Brand X"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `
		INSERT INTO devices (nox_user_id, manufacturer_id, external_id, status, connected_at)
		SELECT nox_user_id, 'brand-x', 'HP-SERIAL-777', 'connected', now() FROM supplier_mappings WHERE supplier_user_id IN ('cust-2', 'cust-3')`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreatePortalUser(ctx, app.NewPortalUser{Email: "jane.doe@example.com", Role: app.RoleCustomer, Password: "long-password-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `
		UPDATE portal_users SET nox_user_id = (SELECT nox_user_id FROM supplier_mappings WHERE supplier_user_id = 'cust-1')
		WHERE email = 'jane.doe@example.com'`); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		q    string
		want []string
	}{
		{"serial-777", []string{"cust-2", "cust-3"}},
		{"jane.doe", []string{"cust-1"}},
		{"acme", []string{"cust-1"}},
		{"Supplier other", []string{"cust-2", "cust-3"}},
	}
	for _, tt := range tests {
		if got := searchIDs(t, s, tt.q); strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("search %q: got %q, want %q", tt.q, got, tt.want)
		}
	}
	rows, _, err := s.SearchMappings(ctx, app.MappingFilter{Q: "cust-2"}, nil, 10)
	if err != nil || len(rows) != 1 {
		t.Fatalf("search cust-2: %v %v", rows, err)
	}
	if !rows[0].Duplicate {
		t.Errorf("cust-2 shares device HP-SERIAL-777 with cust-3: got Duplicate=false, want true")
	}
}

func TestKeysetPaginationReturnsEveryRowOnceWhileRowsAreInserted(t *testing.T) {
	s := dbtest.MustStore(t)
	ctx := context.Background()
	mustMappings(t, s, "sup_a")
	// 130 rows in few distinct timestamps, so the tie-breakers matter.
	if _, err := s.DB().ExecContext(ctx, `
		WITH u AS (INSERT INTO nox_users (id) SELECT 'nox_p' || g FROM generate_series(1, 130) g RETURNING id)
		INSERT INTO supplier_mappings (supplier_id, supplier_user_id, nox_user_id, created_at)
		SELECT 'sup_a', 'page-' || substr(id, 6), id, timestamptz '2026-01-01' + (substr(id, 6)::int % 4) * interval '1 hour' FROM u`); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	var after *app.MappingCursor
	for page := 0; page < 100; page++ {
		rows, next, err := s.SearchMappings(ctx, app.MappingFilter{Q: "page-"}, after, 25)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			seen[r.SupplierUserID]++
		}
		// New customers arrive between page loads.
		mustMappings(t, s, "sup_a", "page-new-"+string(rune('a'+page)))
		if next == nil {
			break
		}
		after = next
	}
	for i := 1; i <= 130; i++ {
		id := "page-" + itoa(i)
		if seen[id] != 1 {
			t.Errorf("row %s seen %d times, want exactly once", id, seen[id])
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("row %s seen %d times, want at most once", id, n)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestSearchPlanUsesTrigramAndPrefixIndexes(t *testing.T) {
	s := dbtest.MustStore(t)
	ctx := context.Background()
	mustMappings(t, s, "sup_big")
	if err := s.SyncManufacturers(ctx, []app.ManufacturerConfig{{ID: "brand-x", Name: "Brand X"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `
		WITH u AS (INSERT INTO nox_users (id) SELECT 'nox_' || md5(g::text) FROM generate_series(1, 20000) g RETURNING id)
		INSERT INTO supplier_mappings (supplier_id, supplier_user_id, nox_user_id, created_at)
		SELECT 'sup_big', md5(id), id, now() - random() * interval '365 days' FROM u;
		INSERT INTO devices (nox_user_id, manufacturer_id, external_id, status, connected_at)
		SELECT nox_user_id, 'brand-x', 'DEV-' || upper(md5(supplier_user_id)), 'connected', now() FROM supplier_mappings;
		`); err != nil {
		t.Fatal(err)
	}
	// A database in service is vacuumed; a fresh bulk load leaves the GIN
	// pending lists unmerged and the statistics empty.
	for _, tbl := range []string{"supplier_mappings", "devices", "nox_users", "portal_users", "suppliers"} {
		if _, err := s.DB().ExecContext(ctx, "VACUUM ANALYZE "+tbl); err != nil {
			t.Fatal(err)
		}
	}
	var sample string
	if err := s.DB().GetContext(ctx, &sample, `SELECT substr(supplier_user_id, 3, 8) FROM supplier_mappings LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		q      string
		wantIn []string
	}{
		{"substring uses the trigram indexes", sample, []string{"supplier_mappings_suid_trgm", "supplier_mappings_nox_trgm", "devices_external_trgm"}},
		{"short query uses the prefix indexes", sample[:2], []string{"supplier_mappings_suid_lower_prefix", "supplier_mappings_nox_lower_prefix", "devices_external_lower_prefix"}},
		{"short query in upper case finds the same prefix", strings.ToUpper(sample[:2]), []string{"supplier_mappings_suid_lower_prefix"}},
	}
	var report strings.Builder
	for _, tt := range tests {
		plan, err := dbtest.ExplainSearch(ctx, s, app.MappingFilter{Q: tt.q}, 25)
		if err != nil {
			t.Fatal(err)
		}
		report.WriteString("-- " + tt.name + " (q=" + tt.q + ", 20,000 mappings)\n" + plan + "\n\n")
		for _, idx := range tt.wantIn {
			if !strings.Contains(plan, idx) {
				t.Errorf("%s: plan does not use %s:\n%s", tt.name, idx, plan)
			}
		}
		if strings.Contains(plan, "Seq Scan on supplier_mappings") || strings.Contains(plan, "Seq Scan on devices") ||
			strings.Contains(plan, "rows=20000 ") {
			t.Errorf("%s: plan scans a whole table:\n%s", tt.name, plan)
		}
	}
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "test-artifacts")
	if err := os.MkdirAll(dir, 0o755); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "explain-console-search.txt"), []byte(report.String()), 0o644)
	}
	t.Log(report.String())
}

func TestDevSeedHasSessionsOfEveryOutcomeAndRunsOnce(t *testing.T) {
	s := dbtest.MustStore(t)
	ctx := context.Background()
	if err := s.SyncManufacturers(ctx, []app.ManufacturerConfig{{ID: "sandbox-heatpump", Name: "HP"}, {ID: "sandbox-thermostat", Name: "TS"}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := devdata.Dev(ctx, s); err != nil {
			t.Fatalf("seed #%d: %v", i+1, err)
		}
	}
	var rows []struct {
		Key string `db:"k"`
		N   int    `db:"n"`
	}
	if err := s.DB().SelectContext(ctx, &rows, `
		SELECT status || '/' || coalesce(failure_reason, '') AS k, count(*) AS n FROM link_sessions GROUP BY 1
		UNION ALL SELECT 'supplier/' || supplier_id, count(*) FROM supplier_mappings GROUP BY supplier_id
		UNION ALL SELECT 'device/' || status, count(*) FROM devices GROUP BY status`); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, r := range rows {
		got[r.Key] = r.N
	}
	for _, k := range []string{"connected/", "failed/access_denied", "failed/manufacturer_error", "failed/no_devices", "failed/cancelled",
		"failed/manufacturer_unavailable", "expired/expired", "expired/expired_after_auth", "opened/",
		"supplier/supplier_demo", "supplier/supplier_greenvolt", "supplier/supplier_nordstrom", "device/relink_required"} {
		if got[k] == 0 {
			t.Errorf("seed: no %s (got %v)", k, got)
		}
	}
	if got["connected/"] != 200 {
		t.Errorf("seed twice: got %d connected sessions, want 200 (seeded once)", got["connected/"])
	}
	rows2, _, err := s.SearchMappings(ctx, app.MappingFilter{Q: "SHARED-0001"}, nil, 10)
	if err != nil || len(rows2) < 2 || !rows2[0].Duplicate {
		t.Errorf("seed: want customers sharing one device flagged as duplicates, got %+v (%v)", rows2, err)
	}
}

func TestSendEmailsMarksSentAndKeepsFailuresForRetry(t *testing.T) {
	s := dbtest.MustStore(t)
	ctx := context.Background()
	mustMappings(t, s, "sup_mail", "mail-user")
	for _, to := range []string{"ok@example.com", "bad@example.com"} {
		if _, _, err := s.CreateRelink(ctx, app.Relink{SupplierID: "sup_mail", SupplierUserID: "mail-user", TTL: time.Minute, Email: to},
			func(tok string) string { return "https://nox.example/connect?token=" + tok },
			func(link string) (string, string) { return "Reconnect", "Open " + link }); err != nil {
			t.Fatal(err)
		}
	}
	var sent []app.Email
	send := func(_ context.Context, e app.Email) error {
		if e.To == "bad@example.com" {
			return errors.New("mailbox unavailable")
		}
		sent = append(sent, e)
		return nil
	}
	if n, err := s.SendEmails(ctx, 10, time.Minute, 5, send); err != nil || n != 1 {
		t.Fatalf("first send: got %d, %v; want 1 sent", n, err)
	}
	// The failure is retried after its backoff, never the sent one.
	if _, err := s.DB().ExecContext(ctx, `UPDATE email_outbox SET next_attempt_at = now()`); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.SendEmails(ctx, 10, time.Minute, 5, send); n != 0 || len(sent) != 1 {
		t.Errorf("second send: got %d sent (total %d), want the sent one not sent again and the failure retried without success", n, len(sent))
	}
	if !strings.HasPrefix(sent[0].Body, "Open https://nox.example/connect?token=") {
		t.Errorf("email body: got %q, want the link", sent[0].Body)
	}
	var attempts int
	if err := s.DB().GetContext(ctx, &attempts, `SELECT attempts FROM email_outbox WHERE to_address = 'bad@example.com'`); err != nil || attempts != 2 {
		t.Errorf("failed email attempts: got %d (%v), want 2", attempts, err)
	}
}

// TestShortSearchIgnoresCase finds ids by a one- or two-character prefix in
// any case, as longer searches do.
func TestShortSearchIgnoresCase(t *testing.T) {
	s := dbtest.MustStore(t)
	ctx := context.Background()
	mustMappings(t, s, "sup_case", "Klant-77", "klant-78", "other-1")
	for _, q := range []string{"kl", "KL", "Kl", "k"} {
		rows, _, err := s.SearchMappings(ctx, app.MappingFilter{Q: q}, nil, 10)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rows {
			got = append(got, r.SupplierUserID)
		}
		sort.Strings(got)
		if strings.Join(got, ",") != "Klant-77,klant-78" {
			t.Errorf("search %q: got %v, want Klant-77 and klant-78", q, got)
		}
	}
}
