-- +goose Up
-- The API request log a supplier reads on /developers/requests: one row per
-- API call made with one of its keys, kept 14 days, never a body. Rows are
-- written in batches off the request path; the table is partitioned by day
-- so that pruning drops whole partitions. Day partitions are created ahead
-- by the server (db.MaintainRequestLog); the default partition only catches
-- rows when that has fallen behind. No foreign keys: the log must never
-- slow down or block the API.
CREATE TABLE api_requests (
    created_at       timestamptz NOT NULL,
    supplier_id      text NOT NULL,
    key_id           bigint NOT NULL,
    method           text NOT NULL,
    route            text NOT NULL,
    supplier_user_id text NOT NULL DEFAULT '',
    status           smallint NOT NULL,
    error_code       text NOT NULL DEFAULT '',
    latency_us       integer NOT NULL,
    request_id       text NOT NULL DEFAULT '',
    idempotency_key  text NOT NULL DEFAULT ''
) PARTITION BY RANGE (created_at);
CREATE INDEX api_requests_supplier_idx ON api_requests (supplier_id, created_at DESC);
CREATE TABLE api_requests_default PARTITION OF api_requests DEFAULT;

-- +goose Down
DROP TABLE api_requests;
