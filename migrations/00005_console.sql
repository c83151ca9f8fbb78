-- +goose Up
-- The support console: search indexes, email outbox and bulk relinks.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Substring search (3+ characters, ILIKE '%q%') uses the trigram indexes;
-- 1–2 character searches match ids by prefix on the pattern-ops indexes.
CREATE INDEX IF NOT EXISTS supplier_mappings_suid_trgm ON supplier_mappings USING gin (supplier_user_id gin_trgm_ops);
CREATE INDEX IF NOT EXISTS supplier_mappings_nox_trgm ON supplier_mappings USING gin (nox_user_id gin_trgm_ops);
CREATE INDEX IF NOT EXISTS supplier_mappings_suid_prefix ON supplier_mappings (supplier_user_id text_pattern_ops);
CREATE INDEX IF NOT EXISTS supplier_mappings_nox_prefix ON supplier_mappings (nox_user_id text_pattern_ops);
-- Keyset order of the result list: newest mapping first.
CREATE INDEX IF NOT EXISTS supplier_mappings_created_idx ON supplier_mappings (created_at, supplier_id, supplier_user_id);
CREATE INDEX IF NOT EXISTS supplier_mappings_supplier_created_idx ON supplier_mappings (supplier_id, created_at, supplier_user_id);
CREATE INDEX IF NOT EXISTS devices_external_trgm ON devices USING gin (external_id gin_trgm_ops);
CREATE INDEX IF NOT EXISTS devices_external_prefix ON devices (external_id text_pattern_ops);
CREATE INDEX IF NOT EXISTS devices_nox_user_idx ON devices (nox_user_id);
CREATE INDEX IF NOT EXISTS devices_relink_idx ON devices (manufacturer_id) WHERE status = 'relink_required';
CREATE INDEX IF NOT EXISTS portal_users_email_trgm ON portal_users USING gin (email gin_trgm_ops) WHERE email IS NOT NULL;

-- The queue of sessions that ended badly, newest first.
CREATE INDEX IF NOT EXISTS link_sessions_ended_idx ON link_sessions (finished_at DESC, id DESC)
    WHERE status IN ('failed', 'expired');

-- Rotating a key keeps the old one working until expires_at; a key made by
-- rotation names the key it replaces.
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS replaces_id bigint REFERENCES api_keys(id);

-- Emails waiting to be sent (relink links to customers). A sender claims
-- unsent rows with SKIP LOCKED, so any instance may send.
CREATE TABLE email_outbox (
    id          bigserial PRIMARY KEY,
    to_address  text NOT NULL CHECK (length(to_address) BETWEEN 3 AND 254),
    subject     text NOT NULL,
    body        text NOT NULL,
    kind        text NOT NULL DEFAULT '',
    ref         text NOT NULL DEFAULT '',
    attempts    integer NOT NULL DEFAULT 0,
    last_error  text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz
);
CREATE INDEX email_outbox_unsent_idx ON email_outbox (id) WHERE sent_at IS NULL;

-- A bulk relink: the filter it was started with, its items and progress.
CREATE TABLE bulk_relinks (
    id          bigserial PRIMARY KEY,
    actor_id    bigint REFERENCES portal_users(id),
    filter      jsonb NOT NULL,
    total       integer NOT NULL,
    done        integer NOT NULL DEFAULT 0,
    failed      integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);

CREATE TABLE bulk_relink_items (
    bulk_id          bigint NOT NULL REFERENCES bulk_relinks(id),
    device_id        bigint NOT NULL REFERENCES devices(id),
    supplier_id      text NOT NULL,
    supplier_user_id text NOT NULL,
    manufacturer_id  text NOT NULL,
    session_id       text REFERENCES link_sessions(id),
    error            text NOT NULL DEFAULT '',
    processed_at     timestamptz,
    PRIMARY KEY (bulk_id, device_id, supplier_id, supplier_user_id)
);
CREATE INDEX bulk_relink_items_todo_idx ON bulk_relink_items (bulk_id) WHERE processed_at IS NULL;

-- +goose Down
DROP TABLE bulk_relink_items, bulk_relinks, email_outbox;
ALTER TABLE api_keys DROP COLUMN IF EXISTS replaces_id;
DROP INDEX IF EXISTS link_sessions_ended_idx, portal_users_email_trgm, devices_relink_idx, devices_nox_user_idx,
    devices_external_prefix, devices_external_trgm, supplier_mappings_supplier_created_idx, supplier_mappings_created_idx,
    supplier_mappings_nox_prefix, supplier_mappings_suid_prefix, supplier_mappings_nox_trgm, supplier_mappings_suid_trgm;
