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
