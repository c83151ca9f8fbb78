-- +goose Up
-- State of the built-in sandbox manufacturers' OAuth servers. They keep it
-- in Postgres like everything else, so any instance can serve any step.
CREATE TABLE sandbox_authorizations (
    id             text PRIMARY KEY,
    brand          text NOT NULL,
    client_id      text NOT NULL,
    redirect_uri   text NOT NULL,
    state          text NOT NULL,
    code_challenge text NOT NULL,
    scope          text NOT NULL DEFAULT '',
    language       text NOT NULL DEFAULT 'en',
    username       text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL
);

CREATE TABLE sandbox_codes (
    code_hash      bytea PRIMARY KEY,
    brand          text NOT NULL,
    client_id      text NOT NULL,
    redirect_uri   text NOT NULL,
    code_challenge text NOT NULL,
    username       text NOT NULL,
    scope          text NOT NULL DEFAULT '',
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz
);

CREATE TABLE sandbox_tokens (
    token_hash bytea PRIMARY KEY,
    brand      text NOT NULL,
    username   text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('access', 'refresh')),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);

-- +goose Down
DROP TABLE sandbox_tokens, sandbox_codes, sandbox_authorizations;
