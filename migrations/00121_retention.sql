-- +goose Up
-- Pruning deletes by age; these indexes keep it from reading whole tables.
CREATE INDEX IF NOT EXISTS idempotency_keys_created_idx ON idempotency_keys (created_at);
CREATE INDEX IF NOT EXISTS email_outbox_created_idx ON email_outbox (created_at) WHERE sent_at IS NULL;
CREATE INDEX IF NOT EXISTS login_failures_created_idx ON login_failures (created_at);
CREATE INDEX IF NOT EXISTS bulk_relinks_finished_idx ON bulk_relinks (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS sandbox_authorizations_expiry_idx ON sandbox_authorizations (expires_at);
CREATE INDEX IF NOT EXISTS sandbox_codes_expiry_idx ON sandbox_codes (expires_at);
CREATE INDEX IF NOT EXISTS sandbox_tokens_expiry_idx ON sandbox_tokens (expires_at);

-- +goose Down
DROP INDEX IF EXISTS idempotency_keys_created_idx, email_outbox_created_idx, login_failures_created_idx,
    bulk_relinks_finished_idx, sandbox_authorizations_expiry_idx, sandbox_codes_expiry_idx, sandbox_tokens_expiry_idx;
