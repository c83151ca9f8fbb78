-- +goose Up
-- Portal accounts. A customer is either an email + password account of a
-- nox user, or a supplier's user signed in by a supplier-created dashboard
-- session (supplier_id + supplier_user_id, no password). Staff (agent,
-- manager, admin) always have an email and a password.
CREATE TABLE portal_users (
    id               bigserial PRIMARY KEY,
    email            text CHECK (email IS NULL OR length(email) BETWEEN 3 AND 254),
    name             text NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    role             text NOT NULL CHECK (role IN ('customer', 'agent', 'manager', 'admin')),
    password_hash    text,
    nox_user_id      text REFERENCES nox_users(id),
    supplier_id      text REFERENCES suppliers(id),
    supplier_user_id text,
    disabled_at      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((email IS NULL) = (password_hash IS NULL)),
    CHECK ((supplier_id IS NULL) = (supplier_user_id IS NULL)),
    CHECK (email IS NOT NULL OR supplier_id IS NOT NULL),
    CHECK (role = 'customer' OR email IS NOT NULL),
    UNIQUE (supplier_id, supplier_user_id)
);
CREATE UNIQUE INDEX portal_users_email_idx ON portal_users (lower(email)) WHERE email IS NOT NULL;
CREATE INDEX portal_users_nox_user_idx ON portal_users (nox_user_id) WHERE nox_user_id IS NOT NULL;

-- Server-side portal sessions: the JWT in the cookie names a row here, so
-- revoking the row signs the browser out.
CREATE TABLE portal_sessions (
    id             text PRIMARY KEY,
    portal_user_id bigint NOT NULL REFERENCES portal_users(id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz,
    ip             text NOT NULL DEFAULT '',
    user_agent     text NOT NULL DEFAULT ''
);
CREATE INDEX portal_sessions_user_idx ON portal_sessions (portal_user_id) WHERE revoked_at IS NULL;

-- Failed sign-ins, counted per account (hash of the lower-cased email, so
-- unknown addresses are throttled the same way) and per IP.
CREATE TABLE login_failures (
    id          bigserial PRIMARY KEY,
    account_key bytea NOT NULL CHECK (length(account_key) = 32),
    ip          text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_account_idx ON login_failures (account_key, created_at);
CREATE INDEX login_failures_ip_idx ON login_failures (ip, created_at);

-- One-time URLs a supplier creates to sign one of its users in to the
-- dashboard (like a customer-portal session). Only the token's hash is stored.
CREATE TABLE dashboard_links (
    token_hash       bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    supplier_id      text NOT NULL REFERENCES suppliers(id),
    supplier_user_id text NOT NULL CHECK (length(supplier_user_id) BETWEEN 1 AND 128),
    language         text NOT NULL CHECK (language IN ('en', 'nl', 'de', 'fr', 'es')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    used_at          timestamptz
);
CREATE INDEX dashboard_links_expiry_idx ON dashboard_links (expires_at);

-- A link session started from the dashboard belongs to a portal user.
ALTER TABLE link_sessions ADD COLUMN portal_user_id bigint REFERENCES portal_users(id);
CREATE INDEX link_sessions_portal_user_idx ON link_sessions (portal_user_id, created_at DESC)
    WHERE portal_user_id IS NOT NULL;

-- What happened to a device outside a link session (disconnect, ...).
CREATE TABLE device_events (
    id             bigserial PRIMARY KEY,
    device_id      bigint NOT NULL REFERENCES devices(id),
    type           text NOT NULL,
    detail         text NOT NULL DEFAULT '',
    portal_user_id bigint REFERENCES portal_users(id),
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX device_events_device_idx ON device_events (device_id, id);

-- Every action taken in the portal, append-only.
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    actor_id    bigint REFERENCES portal_users(id),
    action      text NOT NULL CHECK (length(action) BETWEEN 1 AND 100),
    object_type text NOT NULL DEFAULT '',
    object_id   text NOT NULL DEFAULT '',
    before      jsonb,
    after       jsonb,
    ip          text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_object_idx ON audit_log (object_type, object_id, id);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, id);
CREATE INDEX audit_log_created_idx ON audit_log (created_at);

-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- +goose Down
DROP TRIGGER audit_log_no_update ON audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE audit_log, device_events;
ALTER TABLE link_sessions DROP COLUMN portal_user_id;
DROP TABLE dashboard_links, login_failures, portal_sessions, portal_users;
