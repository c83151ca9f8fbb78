-- +goose Up
-- Background work as rows: a runner claims a due job with SKIP LOCKED and a
-- lease, so any instance may do it, and a job whose instance died (kill -9)
-- is claimed again once its lease runs out. Periodic jobs (one row per kind,
-- ref '') go back to 'queued' with their next run_at after each run.
CREATE TABLE jobs (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL,
    ref          text NOT NULL DEFAULT '',
    state        text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
    attempts     integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 10 CHECK (max_attempts > 0),
    run_at       timestamptz NOT NULL DEFAULT now(),
    leased_until timestamptz,
    done         integer NOT NULL DEFAULT 0,
    total        integer NOT NULL DEFAULT 0,
    last_error   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    UNIQUE (kind, ref)
);
CREATE INDEX jobs_due_idx ON jobs (run_at) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE finished_at IS NOT NULL;

-- Emails leave the outbox like webhooks: claimed with a lease, sent outside
-- any transaction, retried with backoff.
ALTER TABLE email_outbox
    ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN leased_until timestamptz;
CREATE INDEX email_outbox_sent_idx ON email_outbox (sent_at) WHERE sent_at IS NOT NULL;

-- Bulk relinks started before jobs existed are carried on by the runner.
INSERT INTO jobs (kind, ref, total, done)
SELECT 'bulk_relink', id::text, total, done + failed FROM bulk_relinks WHERE finished_at IS NULL;

-- +goose Down
DROP INDEX IF EXISTS email_outbox_sent_idx;
ALTER TABLE email_outbox DROP COLUMN IF EXISTS next_attempt_at, DROP COLUMN IF EXISTS leased_until;
DROP TABLE jobs;
