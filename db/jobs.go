package db

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"noxportal/app"
)

const jobCols = `id, kind, ref, state, attempts, max_attempts, run_at, done, total, last_error, created_at, updated_at, finished_at`

// ClaimJob implements app.JobQueue: it leases the most overdue due job of
// one of kinds, skipping jobs another runner holds.
func (s *Store) ClaimJob(ctx context.Context, kinds []string, lease time.Duration) (app.Job, bool, error) {
	var jobs []app.Job
	if err := s.db.SelectContext(ctx, &jobs, `
		UPDATE jobs SET state = 'running', attempts = attempts + 1, updated_at = now(),
		       leased_until = now() + make_interval(secs => $2)
		WHERE id = (
			SELECT id FROM jobs
			WHERE kind = ANY($1) AND ((state = 'queued' AND run_at <= now()) OR (state = 'running' AND leased_until < now()))
			ORDER BY run_at LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING `+jobCols, pq.Array(kinds), lease.Seconds()); err != nil {
		return app.Job{}, false, fmt.Errorf("db: claim job: %w", err)
	}
	if len(jobs) == 0 {
		return app.Job{}, false, nil
	}
	return jobs[0], true, nil
}

// ExtendJob implements app.JobQueue.
func (s *Store) ExtendJob(ctx context.Context, id int64, lease time.Duration, done, total int) error {
	if _, err := s.db.ExecContext(ctx, `
		UPDATE jobs SET leased_until = now() + make_interval(secs => $2), done = $3, total = $4, updated_at = now()
		WHERE id = $1 AND state = 'running'`, id, lease.Seconds(), done, total); err != nil {
		return fmt.Errorf("db: extend job: %w", err)
	}
	return nil
}

// FinishJob implements app.JobQueue.
func (s *Store) FinishJob(ctx context.Context, id int64, next *time.Time) error {
	q := `UPDATE jobs SET state = 'succeeded', leased_until = NULL, last_error = '', finished_at = now(), updated_at = now()
		WHERE id = $1`
	args := []any{id}
	if next != nil {
		q = `UPDATE jobs SET state = 'queued', attempts = 0, leased_until = NULL, last_error = '', run_at = $2,
			finished_at = now(), updated_at = now() WHERE id = $1`
		args = append(args, *next)
	}
	if _, err := s.db.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("db: finish job: %w", err)
	}
	return nil
}

// FailJob implements app.JobQueue.
func (s *Store) FailJob(ctx context.Context, id int64, msg string, retryAt *time.Time) error {
	q := `UPDATE jobs SET state = 'failed', leased_until = NULL, last_error = $2, finished_at = now(), updated_at = now()
		WHERE id = $1`
	args := []any{id, msg}
	if retryAt != nil {
		q = `UPDATE jobs SET state = 'queued', leased_until = NULL, last_error = $2, run_at = $3, updated_at = now()
			WHERE id = $1`
		args = append(args, *retryAt)
	}
	if _, err := s.db.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("db: fail job: %w", err)
	}
	return nil
}

// EnsurePeriodicJob implements app.JobQueue.
func (s *Store) EnsurePeriodicJob(ctx context.Context, kind string, every time.Duration) error {
	if _, err := s.db.ExecContext(ctx, `
		INSERT INTO jobs (kind, run_at) VALUES ($1, now() + make_interval(secs => $2)) ON CONFLICT (kind, ref) DO NOTHING`,
		kind, every.Seconds()); err != nil {
		return fmt.Errorf("db: periodic job %s: %w", kind, err)
	}
	return nil
}

// enqueueJob adds a one-off job in tx (a second job with the same kind and
// ref is not added).
func enqueueJob(ctx context.Context, tx *sqlx.Tx, kind, ref string, total int) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO jobs (kind, ref, total) VALUES ($1, $2, $3) ON CONFLICT (kind, ref) DO NOTHING`,
		kind, ref, total); err != nil {
		return fmt.Errorf("db: enqueue job: %w", err)
	}
	return nil
}

// RecentJobs returns the newest jobs, unfinished and failed first.
func (s *Store) RecentJobs(ctx context.Context, limit int) ([]app.Job, error) {
	out := []app.Job{}
	if err := s.db.SelectContext(ctx, &out, `
		SELECT `+jobCols+` FROM jobs
		ORDER BY CASE state WHEN 'failed' THEN 0 WHEN 'running' THEN 1 WHEN 'queued' THEN 2 ELSE 3 END, updated_at DESC
		LIMIT $1`, limit); err != nil {
		return nil, fmt.Errorf("db: recent jobs: %w", err)
	}
	return out, nil
}

// GetJob returns one job, or ENOTFOUND.
func (s *Store) GetJob(ctx context.Context, id int64) (app.Job, error) {
	var j app.Job
	if err := s.db.GetContext(ctx, &j, `SELECT `+jobCols+` FROM jobs WHERE id = $1`, id); err != nil {
		return j, fmt.Errorf("db: job: %w", notFound(err, "job not found"))
	}
	return j, nil
}

// RetryJob queues a failed job again now with a fresh set of attempts, and
// records who did it. A job that is not failed is an ECONFLICT.
func (s *Store) RetryJob(ctx context.Context, id int64, e app.AuditEntry) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE jobs SET state = 'queued', attempts = 0, run_at = now(), finished_at = NULL, updated_at = now()
			WHERE id = $1 AND state = 'failed'`, id)
		if err != nil {
			return fmt.Errorf("db: retry job: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if _, err := s.GetJob(ctx, id); err != nil {
				return err
			}
			return app.Errorf(app.ECONFLICT, "Only a failed job can be retried.")
		}
		e.Action, e.ObjectType, e.ObjectID = "job.retry", "job", fmt.Sprint(id)
		return writeAudit(ctx, tx, e)
	})
}
