package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"noxportal/app"
	"noxportal/db"
	"noxportal/db/dbtest"
)

// TestCommandsRunAgainstARealDatabase runs `migrate` and `reports rebuild`
// as the binary would, against a fresh database, and checks that wrong
// command lines are refused before touching it.
func TestCommandsRunAgainstARealDatabase(t *testing.T) {
	url := dbtest.MustDatabase(t)
	t.Setenv("NOX_DATABASE_URL", url)
	t.Setenv("NOX_SECURITY_ENCRYPTION_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	t.Setenv("NOX_SECURITY_SIGNING_KEY", "c2lnbmluZy1rZXktZm9yLXRlc3RzLW9ubHktMzItYnl0ZXMhIQ==")
	t.Setenv("NOX_LOG_LEVEL", "warn")
	for _, bad := range [][]string{{"reports"}, {"reports", "rebiuld"}, {"reports", "rebuild", "now"}, {"migrate", "extra"}, {"frobnicate"}} {
		if err := run(append([]string{"-config", ""}, bad...)); err == nil {
			t.Errorf("noxportal %s: accepted", strings.Join(bad, " "))
		}
	}
	if err := run([]string{"-config", "", "migrate"}); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	// A session whose rollup change was skipped is counted by the rebuild.
	d, err := db.Open(context.Background(), url, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Exec(`INSERT INTO suppliers (id, name) VALUES ('sup_cmd', 'Cmd Energy');
		BEGIN; SET LOCAL noxportal.skip_report_rollups = 'on';
		INSERT INTO link_sessions (id, token_hash, kind, supplier_id, supplier_user_id, redirect_uri, language, initiator, expires_at)
		VALUES ('ls_cmd', sha256('cmd'), 'supplier_link', 'sup_cmd', 'u1', 'https://s.example/cb', 'en', 'api', now() + interval '15 minutes');
		COMMIT;`); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-config", "", "reports", "rebuild"}); err != nil {
		t.Fatalf("reports rebuild: %v", err)
	}
	loc, _ := time.LoadLocation("Europe/Amsterdam")
	today := app.DayOf(time.Now(), loc)
	funnel, err := db.New(d, nil).ReportFunnel(context.Background(), app.ReportFilter{From: today, To: today, SupplierID: "sup_cmd"})
	if err != nil {
		t.Fatal(err)
	}
	if funnel.Created != 1 {
		t.Errorf("after reports rebuild: %d sessions created today for sup_cmd, want 1", funnel.Created)
	}
}
