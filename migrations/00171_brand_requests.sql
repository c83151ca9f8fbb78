-- +goose Up
-- "My brand is not listed": a brand a user named on the brand page of a
-- link, counted in the reports by supplier (name_key groups spellings
-- that differ only in case and spaces). One row per link and brand.
CREATE TABLE brand_requests (
    id              bigserial PRIMARY KEY,
    link_session_id text NOT NULL,
    supplier_id     text REFERENCES suppliers(id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (length(name) BETWEEN 2 AND 80),
    name_key        text NOT NULL CHECK (length(name_key) BETWEEN 2 AND 80),
    language        text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (link_session_id, name_key)
);
CREATE INDEX brand_requests_created_idx ON brand_requests (created_at);
CREATE INDEX brand_requests_supplier_idx ON brand_requests (supplier_id, created_at);

-- +goose Down
DROP TABLE brand_requests;
