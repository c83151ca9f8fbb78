package db

import (
	"context"
	"fmt"
	"time"

	"noxportal/app"
)

// pruneBatch is how many rows one prune statement deletes, so no statement
// holds locks for long.
const pruneBatch = 5000

// Prune deletes the rows of every only-growing table that are past their
// retention (docs/operations.md lists them), in batches, and returns how
// many rows it deleted per table. The history partitioned by month (link
// events, webhook deliveries and attempts) leaves by whole months instead:
// MaintainHistory.
func (s *Store) Prune(ctx context.Context, r app.RetentionConfig) (map[string]int64, error) {
	now := time.Now()
	steps := []struct {
		table, query string
		cutoff       time.Duration
	}{
		{"idempotency_keys", `DELETE FROM idempotency_keys WHERE ctid IN (
			SELECT ctid FROM idempotency_keys WHERE created_at < $1 LIMIT $2)`, r.IdempotencyKeys.D()},
		{"dashboard_links", `DELETE FROM dashboard_links WHERE token_hash IN (
			SELECT token_hash FROM dashboard_links WHERE expires_at < $1 LIMIT $2)`, r.DashboardLinks.D()},
		{"email_outbox", `DELETE FROM email_outbox WHERE id IN (
			SELECT id FROM email_outbox WHERE sent_at < $1 LIMIT $2)`, r.Emails.D()},
		{"email_outbox", `DELETE FROM email_outbox WHERE id IN (
			SELECT id FROM email_outbox WHERE sent_at IS NULL AND created_at < $1 LIMIT $2)`, r.Emails.D()},
		{"jobs", `DELETE FROM jobs WHERE id IN (
			SELECT id FROM jobs WHERE state IN ('succeeded', 'failed') AND ref <> '' AND finished_at < $1 LIMIT $2)`, r.Jobs.D()},
		{"bulk_relink_items", `DELETE FROM bulk_relink_items WHERE (bulk_id, device_id, supplier_id, supplier_user_id) IN (
			SELECT i.bulk_id, i.device_id, i.supplier_id, i.supplier_user_id FROM bulk_relink_items i
			JOIN bulk_relinks b ON b.id = i.bulk_id WHERE b.finished_at < $1 LIMIT $2)`, r.Jobs.D()},
		{"bulk_relinks", `DELETE FROM bulk_relinks WHERE id IN (
			SELECT b.id FROM bulk_relinks b WHERE b.finished_at < $1
			AND NOT EXISTS (SELECT 1 FROM bulk_relink_items i WHERE i.bulk_id = b.id) LIMIT $2)`, r.Jobs.D()},
		{"sandbox_codes", `DELETE FROM sandbox_codes WHERE ctid IN (
			SELECT ctid FROM sandbox_codes WHERE expires_at < $1 LIMIT $2)`, r.Sandbox.D()},
		{"sandbox_tokens", `DELETE FROM sandbox_tokens WHERE ctid IN (
			SELECT ctid FROM sandbox_tokens WHERE expires_at < $1 LIMIT $2)`, r.Sandbox.D()},
		{"sandbox_authorizations", `DELETE FROM sandbox_authorizations WHERE ctid IN (
			SELECT ctid FROM sandbox_authorizations WHERE expires_at < $1 LIMIT $2)`, r.Sandbox.D()},
		{"supplier_invitations", `DELETE FROM supplier_invitations WHERE token_hash IN (
			SELECT token_hash FROM supplier_invitations WHERE expires_at < $1 LIMIT $2)`, r.DashboardLinks.D()},
		{"login_failures", `DELETE FROM login_failures WHERE id IN (
			SELECT id FROM login_failures WHERE created_at < $1 LIMIT $2)`, r.PortalSessions.D()},
		{"portal_sessions", `DELETE FROM portal_sessions WHERE ctid IN (
			SELECT ctid FROM portal_sessions WHERE expires_at < $1 OR revoked_at < $1 LIMIT $2)`, r.PortalSessions.D()},
		{"rate_limits", `DELETE FROM rate_limits WHERE ctid IN (
			SELECT ctid FROM rate_limits WHERE window_start < $1 LIMIT $2)`, r.RateLimits.D()},
	}
	out := map[string]int64{}
	for _, st := range steps {
		for {
			res, err := s.db.ExecContext(ctx, st.query, now.Add(-st.cutoff), pruneBatch)
			if err != nil {
				return out, fmt.Errorf("db: prune %s: %w", st.table, err)
			}
			n, _ := res.RowsAffected()
			out[st.table] += n
			if n < pruneBatch {
				break
			}
		}
	}
	return out, nil
}
