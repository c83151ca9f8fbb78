package db_test

import (
	"context"
	"testing"
	"time"

	"noxportal/db"
	"noxportal/db/dbtest"
)

// TestPoolConnectionsCarryTheConfiguredTimeouts opens a pool through
// WithSessionTimeouts and reads the three settings back from Postgres.
func TestPoolConnectionsCarryTheConfiguredTimeouts(t *testing.T) {
	dsn, err := db.WithSessionTimeouts(dbtest.MustDatabase(t), 7*time.Second, 3*time.Second, 90*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	d, err := db.Open(context.Background(), dsn, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for setting, want := range map[string]string{
		"statement_timeout": "7s", "lock_timeout": "3s", "idle_in_transaction_session_timeout": "90s",
	} {
		var got string
		if err := d.Get(&got, `SELECT current_setting($1)`, setting); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: got %q, want %q", setting, got, want)
		}
	}
}

// TestMigrateAppliesAMigrationNumberedBelowTheLatest removes a migration
// from a database that has later ones (as when a change with a lower number
// is merged after a higher one was applied) and migrates again.
func TestMigrateAppliesAMigrationNumberedBelowTheLatest(t *testing.T) {
	d, err := db.Open(context.Background(), dbtest.MustDatabase(t), 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Exec(`DROP INDEX idempotency_keys_created_idx, email_outbox_created_idx, login_failures_created_idx,
		bulk_relinks_finished_idx, sandbox_authorizations_expiry_idx, sandbox_codes_expiry_idx, sandbox_tokens_expiry_idx;
		DELETE FROM goose_db_version WHERE version_id = 121`); err != nil {
		t.Fatal(err)
	}
	applied, err := db.Migrate(context.Background(), d)
	if err != nil {
		t.Fatalf("migrate with 121 missing below later versions: %v", err)
	}
	if len(applied) != 1 || applied[0] != "00121_retention.sql" {
		t.Errorf("applied %v, want [00121_retention.sql]", applied)
	}
	var n int
	if err := d.Get(&n, `SELECT count(*) FROM pg_indexes WHERE indexname = 'idempotency_keys_created_idx'`); err != nil || n != 1 {
		t.Errorf("index of 00121 after migrating: %d (%v)", n, err)
	}
}
