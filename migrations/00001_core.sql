-- +goose Up
CREATE TABLE suppliers (
    id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9_-]{1,64}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE supplier_redirect_uris (
    supplier_id text NOT NULL REFERENCES suppliers(id) ON DELETE CASCADE,
    uri         text NOT NULL CHECK (length(uri) BETWEEN 1 AND 2048),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (supplier_id, uri)
);

CREATE TABLE manufacturers (
    id             text PRIMARY KEY CHECK (id ~ '^[a-z0-9_-]{1,64}$'),
    name           text NOT NULL,
    kind           text NOT NULL DEFAULT 'heat_pump',
    enabled        boolean NOT NULL DEFAULT true,
    status         text NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'degraded', 'down')),
    status_message text NOT NULL DEFAULT '',
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id              bigserial PRIMARY KEY,
    supplier_id     text REFERENCES suppliers(id) ON DELETE CASCADE,
    manufacturer_id text REFERENCES manufacturers(id) ON DELETE CASCADE,
    name            text NOT NULL DEFAULT '',
    prefix          text NOT NULL,
    key_hash        bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz,
    expires_at      timestamptz,
    revoked_at      timestamptz,
    CHECK ((supplier_id IS NULL) <> (manufacturer_id IS NULL))
);
CREATE INDEX api_keys_supplier_idx ON api_keys (supplier_id) WHERE supplier_id IS NOT NULL;

CREATE TABLE nox_users (
    id         text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One nox user per (supplier, supplier_user_id); the primary key makes a
-- second nox_user_id for the same pair impossible.
CREATE TABLE supplier_mappings (
    supplier_id      text NOT NULL REFERENCES suppliers(id),
    supplier_user_id text NOT NULL CHECK (length(supplier_user_id) BETWEEN 1 AND 128),
    nox_user_id      text NOT NULL REFERENCES nox_users(id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (supplier_id, supplier_user_id)
);
CREATE INDEX supplier_mappings_nox_user_idx ON supplier_mappings (nox_user_id);

-- The manufacturer grant of a nox user: its OAuth tokens, AES-GCM encrypted.
CREATE TABLE manufacturer_grants (
    nox_user_id       text NOT NULL REFERENCES nox_users(id),
    manufacturer_id   text NOT NULL REFERENCES manufacturers(id),
    access_token_enc  bytea NOT NULL,
    refresh_token_enc bytea,
    token_expires_at  timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (nox_user_id, manufacturer_id)
);

CREATE TABLE devices (
    id              bigserial PRIMARY KEY,
    nox_user_id     text NOT NULL REFERENCES nox_users(id),
    manufacturer_id text NOT NULL REFERENCES manufacturers(id),
    external_id     text NOT NULL CHECK (length(external_id) BETWEEN 1 AND 256),
    name            text NOT NULL DEFAULT '',
    model           text NOT NULL DEFAULT '',
    status          text NOT NULL CHECK (status IN ('connected', 'relink_required', 'disconnected')),
    connected_at    timestamptz NOT NULL,
    last_sync_at    timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (nox_user_id, manufacturer_id, external_id)
);
CREATE INDEX devices_external_idx ON devices (manufacturer_id, external_id);

CREATE TABLE link_sessions (
    id                text PRIMARY KEY,
    token_hash        bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    kind              text NOT NULL CHECK (kind IN ('supplier_link', 'supplier_select')),
    supplier_id       text REFERENCES suppliers(id),
    supplier_user_id  text NOT NULL DEFAULT '',
    redirect_uri      text NOT NULL,
    language          text NOT NULL CHECK (language IN ('en', 'nl', 'de', 'fr', 'es')),
    initiator         text NOT NULL CHECK (initiator IN ('api', 'customer', 'agent', 'manufacturer')),
    status            text NOT NULL DEFAULT 'created'
                      CHECK (status IN ('created', 'opened', 'brand_selected', 'authorizing', 'connected', 'failed', 'expired')),
    failure_reason    text,
    manufacturer_id   text REFERENCES manufacturers(id),
    brand_preselected boolean NOT NULL DEFAULT false,
    nox_user_id       text REFERENCES nox_users(id),
    -- OAuth: a one-time state (hash) and the PKCE verifier (encrypted).
    state_hash        bytea UNIQUE,
    pkce_verifier_enc bytea,
    browser_hash      bytea,
    created_at        timestamptz NOT NULL DEFAULT now(),
    opened_at         timestamptz,
    brand_selected_at timestamptz,
    authorizing_at    timestamptz,
    callback_at       timestamptz,
    finished_at       timestamptz,
    expires_at        timestamptz NOT NULL,
    CHECK ((status IN ('connected', 'failed', 'expired')) = (finished_at IS NOT NULL)),
    CHECK (status <> 'connected' OR nox_user_id IS NOT NULL),
    CHECK (status NOT IN ('failed', 'expired') OR failure_reason IS NOT NULL)
);
CREATE INDEX link_sessions_supplier_user_idx ON link_sessions (supplier_id, supplier_user_id, created_at DESC);
CREATE INDEX link_sessions_open_expiry_idx ON link_sessions (expires_at)
    WHERE status IN ('created', 'opened', 'brand_selected', 'authorizing');
CREATE INDEX link_sessions_created_idx ON link_sessions (created_at);

CREATE TABLE link_events (
    id         bigserial PRIMARY KEY,
    session_id text NOT NULL REFERENCES link_sessions(id),
    type       text NOT NULL,
    detail     text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX link_events_session_idx ON link_events (session_id, id);

-- Idempotency-Key replays return the stored response; the link token in it
-- is encrypted.
CREATE TABLE idempotency_keys (
    supplier_id   text NOT NULL REFERENCES suppliers(id),
    key           text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash  bytea NOT NULL,
    session_id    text NOT NULL REFERENCES link_sessions(id),
    token_enc     bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (supplier_id, key)
);

-- Fixed-window counters shared by every instance.
CREATE UNLOGGED TABLE rate_limits (
    bucket       text NOT NULL,
    window_start timestamptz NOT NULL,
    count        integer NOT NULL,
    PRIMARY KEY (bucket, window_start)
);

-- +goose Down
DROP TABLE rate_limits, idempotency_keys, link_events, link_sessions, devices,
    manufacturer_grants, supplier_mappings, nox_users, api_keys, manufacturers,
    supplier_redirect_uris, suppliers;
