-- +goose Up
-- A secret an admin action produced (a new API key, a webhook signing
-- secret), kept encrypted for the one page view after the action's
-- redirect (post/redirect/get): bound to the portal session, read once,
-- short-lived.
CREATE TABLE shown_once (
    id                text PRIMARY KEY,
    portal_session_id text NOT NULL REFERENCES portal_sessions(id) ON DELETE CASCADE,
    kind              text NOT NULL CHECK (kind IN ('api_key', 'webhook_secret')),
    secret_enc        bytea NOT NULL,
    expires_at        timestamptz NOT NULL
);
CREATE INDEX shown_once_expires_idx ON shown_once (expires_at);

-- +goose Down
DROP TABLE shown_once;
