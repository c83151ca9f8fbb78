-- +goose Up
-- A claimed OAuth callback holds a lease: when it runs out without an
-- outcome (the instance died during the token exchange), the sweeper fails
-- the session with manufacturer_error.
ALTER TABLE link_sessions ADD COLUMN callback_lease_until timestamptz;
CREATE INDEX link_sessions_callback_lease_idx ON link_sessions (callback_lease_until)
    WHERE status = 'authorizing' AND callback_lease_until IS NOT NULL;

-- +goose Down
DROP INDEX link_sessions_callback_lease_idx;
ALTER TABLE link_sessions DROP COLUMN callback_lease_until;
