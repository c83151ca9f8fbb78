-- +goose Up
-- Test mode: every supplier may have one test twin, a supplier row of its
-- own (id "<supplier>.test", test_of the live supplier) that owns its test
-- keys (nox_sk_test_…) and through them its test link sessions, webhook
-- endpoint, deliveries and request log. Everything already scoped by
-- supplier_id keeps test data apart from live data; reports, console
-- searches and the supplier lists leave the twins out.
ALTER TABLE suppliers ADD COLUMN test_of text UNIQUE REFERENCES suppliers(id) ON DELETE CASCADE;
ALTER TABLE suppliers DROP CONSTRAINT suppliers_id_check;
ALTER TABLE suppliers ADD CONSTRAINT suppliers_id_check CHECK (
    CASE WHEN test_of IS NULL THEN id ~ '^[a-z0-9_-]{1,64}$' ELSE id = test_of || '.test' END);

-- Test-mode sessions count in no report: the rollups never see them (the
-- rebuild in db/reports.go leaves them out the same way).
CREATE OR REPLACE VIEW report_session_contributions AS
SELECT s.created_xid, (s.created_at AT TIME ZONE st.timezone)::date AS day, coalesce(s.supplier_id, '') AS supplier_id,
    coalesce(s.manufacturer_id, '') AS brand, s.kind, s.language, report_outcome(s.status, s.failure_reason) AS outcome,
    CASE WHEN s.status = 'connected'
         THEN report_connect_bucket(extract(epoch FROM s.finished_at - coalesce(s.opened_at, s.created_at))) END AS bucket,
    1 AS sessions, (s.opened_at IS NOT NULL)::int AS opened, (s.brand_selected_at IS NOT NULL)::int AS brand_selected,
    (s.authorizing_at IS NOT NULL)::int AS authorizing
FROM link_sessions s CROSS JOIN report_settings st
WHERE coalesce(s.supplier_id, '') NOT LIKE '%.test';
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION report_apply(r link_sessions, sign integer, tz text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO report_deltas (day, supplier_id, brand, kind, language, outcome, bucket, sessions, opened, brand_selected,
        authorizing, created_xid)
    SELECT (r.created_at AT TIME ZONE tz)::date, coalesce(r.supplier_id, ''), coalesce(r.manufacturer_id, ''),
            r.kind, r.language, report_outcome(r.status, r.failure_reason),
            CASE WHEN r.status = 'connected'
                 THEN report_connect_bucket(extract(epoch FROM r.finished_at - coalesce(r.opened_at, r.created_at))) END,
            sign,
            CASE WHEN r.opened_at IS NOT NULL THEN sign ELSE 0 END,
            CASE WHEN r.brand_selected_at IS NOT NULL THEN sign ELSE 0 END,
            CASE WHEN r.authorizing_at IS NOT NULL THEN sign ELSE 0 END,
            r.created_xid
    WHERE coalesce(r.supplier_id, '') NOT LIKE '%.test'
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION report_apply(r link_sessions, sign integer, tz text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO report_deltas (day, supplier_id, brand, kind, language, outcome, bucket, sessions, opened, brand_selected,
        authorizing, created_xid)
    SELECT (r.created_at AT TIME ZONE tz)::date, coalesce(r.supplier_id, ''), coalesce(r.manufacturer_id, ''),
            r.kind, r.language, report_outcome(r.status, r.failure_reason),
            CASE WHEN r.status = 'connected'
                 THEN report_connect_bucket(extract(epoch FROM r.finished_at - coalesce(r.opened_at, r.created_at))) END,
            sign,
            CASE WHEN r.opened_at IS NOT NULL THEN sign ELSE 0 END,
            CASE WHEN r.brand_selected_at IS NOT NULL THEN sign ELSE 0 END,
            CASE WHEN r.authorizing_at IS NOT NULL THEN sign ELSE 0 END,
            r.created_xid
$$;
-- +goose StatementEnd
CREATE OR REPLACE VIEW report_session_contributions AS
SELECT s.created_xid, (s.created_at AT TIME ZONE st.timezone)::date AS day, coalesce(s.supplier_id, '') AS supplier_id,
    coalesce(s.manufacturer_id, '') AS brand, s.kind, s.language, report_outcome(s.status, s.failure_reason) AS outcome,
    CASE WHEN s.status = 'connected'
         THEN report_connect_bucket(extract(epoch FROM s.finished_at - coalesce(s.opened_at, s.created_at))) END AS bucket,
    1 AS sessions, (s.opened_at IS NOT NULL)::int AS opened, (s.brand_selected_at IS NOT NULL)::int AS brand_selected,
    (s.authorizing_at IS NOT NULL)::int AS authorizing
FROM link_sessions s CROSS JOIN report_settings st;
-- The twins stay as rows (sessions reference them) but their keys stop
-- working; the old check is restored for new rows only.
UPDATE api_keys SET revoked_at = now()
    WHERE revoked_at IS NULL AND supplier_id IN (SELECT id FROM suppliers WHERE test_of IS NOT NULL);
ALTER TABLE suppliers DROP CONSTRAINT suppliers_id_check;
ALTER TABLE suppliers DROP COLUMN test_of;
ALTER TABLE suppliers ADD CONSTRAINT suppliers_id_check CHECK (id ~ '^[a-z0-9_-]{1,64}$') NOT VALID;
