package db_test

import (
	"context"
	"testing"
	"time"

	"noxportal/app"
	"noxportal/db/dbtest"
)

// TestPruneDeletesOnlyRowsPastTheirRetention ages one row of each pruned
// table past its retention and keeps a fresh one, then prunes.
func TestPruneDeletesOnlyRowsPastTheirRetention(t *testing.T) {
	s := dbtest.MustStore(t)
	ctx := context.Background()
	mustMappings(t, s, "sup_prune", "prune-user")
	for _, to := range []string{"old@example.com", "new@example.com"} {
		if _, _, err := s.CreateRelink(ctx, app.Relink{SupplierID: "sup_prune", SupplierUserID: "prune-user", TTL: time.Minute, Email: to},
			func(tok string) string { return "https://nox.example/connect?token=" + tok },
			func(link string) (string, string) { return "Reconnect", "Open " + link }); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DB().ExecContext(ctx, `
		UPDATE email_outbox SET sent_at = now() - interval '40 days' WHERE to_address = 'old@example.com';
		UPDATE email_outbox SET sent_at = now() WHERE to_address = 'new@example.com';
		INSERT INTO idempotency_keys (supplier_id, key, request_hash, session_id, token_enc, created_at)
		SELECT 'sup_prune', 'old-key', '\x00', id, '\x00', now() - interval '4 days' FROM link_sessions LIMIT 1;
		INSERT INTO idempotency_keys (supplier_id, key, request_hash, session_id, token_enc)
		SELECT 'sup_prune', 'new-key', '\x00', id, '\x00' FROM link_sessions LIMIT 1;
		INSERT INTO dashboard_links (token_hash, supplier_id, supplier_user_id, language, expires_at) VALUES
		  (sha256('old'), 'sup_prune', 'prune-user', 'en', now() - interval '8 days'),
		  (sha256('new'), 'sup_prune', 'prune-user', 'en', now() + interval '5 minutes');
		INSERT INTO jobs (kind, ref, state, finished_at) VALUES
		  ('bulk_relink', 'old', 'succeeded', now() - interval '31 days'),
		  ('bulk_relink', 'new', 'succeeded', now());
		INSERT INTO rate_limits (bucket, window_start, count) VALUES ('page:old', now() - interval '2 hours', 1), ('page:new', now(), 1);
		INSERT INTO supplier_invitations (token_hash, supplier_id, email, role, expires_at) VALUES
		  (sha256('old'), 'sup_prune', 'old@example.com', 'supplier_viewer', now() - interval '8 days'),
		  (sha256('new'), 'sup_prune', 'new@example.com', 'supplier_viewer', now() + interval '1 day');
	`); err != nil {
		t.Fatal(err)
	}
	pruned, err := s.Prune(ctx, app.DefaultConfig().Retention)
	if err != nil {
		t.Fatal(err)
	}
	for table, want := range map[string]int64{"email_outbox": 1, "idempotency_keys": 1, "dashboard_links": 1, "jobs": 1, "rate_limits": 1, "supplier_invitations": 1} {
		if pruned[table] != want {
			t.Errorf("%s: pruned %d rows, want %d", table, pruned[table], want)
		}
	}
	for table, where := range map[string]string{
		"email_outbox": "to_address = 'new@example.com'", "idempotency_keys": "key = 'new-key'",
		"dashboard_links": "token_hash = sha256('new')", "jobs": "ref = 'new'", "rate_limits": "bucket = 'page:new'",
		"supplier_invitations": "token_hash = sha256('new')",
	} {
		var n int
		if err := s.DB().GetContext(ctx, &n, `SELECT count(*) FROM `+table+` WHERE `+where); err != nil || n != 1 {
			t.Errorf("%s: the row within its retention is gone (%d, %v)", table, n, err)
		}
	}
}
