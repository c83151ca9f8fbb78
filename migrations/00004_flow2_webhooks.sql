-- +goose Up
-- Flow 2 (spec section 2): a manufacturer's user picks an energy supplier and
-- logs in on the supplier's OAuth page; comfort bounds; signed webhooks.

-- The supplier's OAuth login page, for the supplier selector.
ALTER TABLE suppliers
    ADD COLUMN login_authorize_url text CHECK (length(login_authorize_url) BETWEEN 1 AND 2048),
    ADD COLUMN login_client_id     text CHECK (length(login_client_id) BETWEEN 1 AND 200),
    ADD CHECK ((login_authorize_url IS NULL) = (login_client_id IS NULL));

-- Where a manufacturer may send its users back to (exact match).
CREATE TABLE manufacturer_redirect_uris (
    manufacturer_id text NOT NULL REFERENCES manufacturers(id) ON DELETE CASCADE,
    uri             text NOT NULL CHECK (length(uri) BETWEEN 1 AND 2048),
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (manufacturer_id, uri)
);
CREATE INDEX api_keys_manufacturer_idx ON api_keys (manufacturer_id) WHERE manufacturer_id IS NOT NULL;

-- One nox user per (manufacturer, manufacturer_user_id), as supplier_mappings
-- is for suppliers.
CREATE TABLE manufacturer_mappings (
    manufacturer_id      text NOT NULL REFERENCES manufacturers(id),
    manufacturer_user_id text NOT NULL CHECK (length(manufacturer_user_id) BETWEEN 1 AND 128),
    nox_user_id          text NOT NULL REFERENCES nox_users(id),
    created_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (manufacturer_id, manufacturer_user_id)
);
CREATE INDEX manufacturer_mappings_nox_user_idx ON manufacturer_mappings (nox_user_id);

-- A flow-2 session carries the manufacturer's user and devices; its
-- supplier is known once the user picks one.
ALTER TABLE link_sessions
    ADD COLUMN manufacturer_user_id text NOT NULL DEFAULT '' CHECK (length(manufacturer_user_id) <= 128),
    ADD COLUMN device_ids           text[] NOT NULL DEFAULT '{}',
    ADD CHECK (kind <> 'supplier_select' OR (manufacturer_id IS NOT NULL AND manufacturer_user_id <> '')),
    ADD CHECK (kind <> 'supplier_select' OR status <> 'connected' OR (supplier_id IS NOT NULL AND supplier_user_id <> ''));
CREATE INDEX link_sessions_manufacturer_user_idx ON link_sessions (manufacturer_id, manufacturer_user_id, created_at DESC)
    WHERE kind = 'supplier_select';

CREATE TABLE comfort_bounds (
    nox_user_id      text PRIMARY KEY REFERENCES nox_users(id),
    indoor_min_c     numeric(4,1) NOT NULL,
    indoor_max_c     numeric(4,1) NOT NULL,
    hot_water_min_c  numeric(4,1),
    hot_water_max_c  numeric(4,1),
    version          integer NOT NULL CHECK (version > 0),
    updated_by_party text NOT NULL CHECK (updated_by_party IN ('supplier', 'manufacturer', 'customer')),
    updated_by_id    text NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (indoor_min_c < indoor_max_c),
    CHECK ((hot_water_min_c IS NULL) = (hot_water_max_c IS NULL)),
    CHECK (hot_water_min_c IS NULL OR hot_water_min_c < hot_water_max_c)
);

-- One webhook endpoint per supplier or manufacturer; the signing secret is
-- AES-GCM encrypted. failing_since is set when a delivery exhausted its
-- retries and cleared by the next success.
CREATE TABLE webhook_endpoints (
    id              bigserial PRIMARY KEY,
    supplier_id     text UNIQUE REFERENCES suppliers(id) ON DELETE CASCADE,
    manufacturer_id text UNIQUE REFERENCES manufacturers(id) ON DELETE CASCADE,
    url             text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    secret_enc      bytea NOT NULL,
    failing_since   timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((supplier_id IS NULL) <> (manufacturer_id IS NULL))
);

-- The outbox: one row per event and endpoint, written in the transaction of
-- the change. Workers claim due rows with FOR UPDATE SKIP LOCKED and hold
-- them for a lease; attempts fences a late worker out.
CREATE TABLE webhook_deliveries (
    id              text PRIMARY KEY,
    endpoint_id     bigint NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_id        text NOT NULL,
    event_type      text NOT NULL,
    body            bytea NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    leased_until    timestamptz,
    last_code       integer,
    last_error      text NOT NULL DEFAULT '',
    replay_of       text REFERENCES webhook_deliveries(id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    CHECK ((status = 'pending') = (finished_at IS NULL))
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at DESC);

-- The delivery log: one row per finished attempt.
CREATE TABLE webhook_attempts (
    id          bigserial PRIMARY KEY,
    delivery_id text NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('succeeded', 'retry', 'gave_up')),
    status_code integer,
    latency_ms  integer NOT NULL,
    error       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (delivery_id, attempt)
);

-- +goose Down
DROP TABLE webhook_attempts, webhook_deliveries, webhook_endpoints, comfort_bounds, manufacturer_mappings,
    manufacturer_redirect_uris;
DROP INDEX IF EXISTS api_keys_manufacturer_idx;
ALTER TABLE link_sessions DROP COLUMN device_ids, DROP COLUMN manufacturer_user_id;
ALTER TABLE suppliers DROP COLUMN login_client_id, DROP COLUMN login_authorize_url;
