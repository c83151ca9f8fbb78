package db

import (
	"context"
	"fmt"
	"time"

	"noxportal/app"
)

// QueueStats reads the queue gauges the metrics expose: due webhooks and
// the age of the oldest, the email outbox depth, jobs by kind and state,
// the sweeper's lag and the report backlog. Every query reads an index.
func (s *Store) QueueStats(ctx context.Context, maxEmailAttempts int) (app.QueueStats, error) {
	var st app.QueueStats
	var row struct {
		WebhooksDue   int     `db:"webhooks_due"`
		WebhookAge    float64 `db:"webhook_age"`
		Emails        int     `db:"emails"`
		SweeperLag    float64 `db:"sweeper_lag"`
		ReportBacklog int     `db:"report_backlog"`
	}
	if err := s.db.GetContext(ctx, &row, `
		SELECT
		  (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= now()) AS webhooks_due,
		  coalesce((SELECT extract(epoch FROM now() - min(next_attempt_at)) FROM webhook_deliveries
		            WHERE status = 'pending' AND next_attempt_at <= now()), 0) AS webhook_age,
		  (SELECT count(*) FROM email_outbox WHERE sent_at IS NULL AND attempts < $1) AS emails,
		  coalesce((SELECT extract(epoch FROM now() - min(expires_at)) FROM link_sessions
		            WHERE status IN `+unfinishedSQL+` AND expires_at <= now()), 0) AS sweeper_lag,
		  (SELECT count(*) FROM report_pending) + (SELECT count(*) FROM report_device_deltas) AS report_backlog`,
		maxEmailAttempts); err != nil {
		return st, fmt.Errorf("db: queue stats: %w", err)
	}
	st.WebhooksDue, st.EmailsQueued, st.ReportBacklog = row.WebhooksDue, row.Emails, row.ReportBacklog
	st.OldestDueWebhook = time.Duration(row.WebhookAge * float64(time.Second))
	st.OldestOverdueSession = time.Duration(row.SweeperLag * float64(time.Second))
	if err := s.db.SelectContext(ctx, &st.Jobs, `SELECT kind, state, count(*) AS n FROM jobs GROUP BY kind, state`); err != nil {
		return st, fmt.Errorf("db: job stats: %w", err)
	}
	return st, nil
}
