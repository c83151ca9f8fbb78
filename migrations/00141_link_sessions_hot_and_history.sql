-- +goose Up
-- Finished link sessions by month. link_sessions becomes a table
-- partitioned on a new column, history_month:
--
-- - 'infinity' for every session still in the link_sessions_open partition:
--   the unfinished ones and those finished a short while ago. It is small
--   (a TTL's worth of sessions), so the token lookup of every hosted-flow
--   step is one probe of its (token_hash, history_month) index whatever the
--   history size;
-- - the first day of the UTC month of created_at once the session has been
--   moved into history (link_sessions_pYYYYMM, made ahead with the other
--   history tables by history_ensure_month; link_sessions_default catches a
--   month without its partition). db.Store.MoveFinishedSessions moves
--   finished sessions there in batches, each batch one UPDATE of
--   history_month (Postgres moves the row from one partition to the other
--   within the UPDATE's transaction: all or nothing).
--
-- Readers keep the one table name; a session is in exactly one partition.
-- A unique index on a partitioned table must hold the partition key, so the
-- primary key becomes (id, history_month) and the token and OAuth state
-- keys (token_hash, history_month) and (state_hash, history_month): each
-- partition's index is still unique, and ids, tokens and states are random
-- (128 bits or more), so they are unique across partitions too.
--
-- The three foreign keys that referenced link_sessions (id) — from
-- link_events, idempotency_keys and bulk_relink_items — are dropped: a
-- reference must name the whole key, and history_month changes when the
-- session moves. Each of those rows is written in the transaction that
-- creates or steps its session, and the server deletes no session row (a
-- month of finished sessions leaves whole, by retention.link_sessions).
--
-- The report triggers stay: a move changes nothing the reports count, and
-- the mover sets noxportal.skip_report_rollups for its transaction, so the
-- DELETE and INSERT a move is made of write no report delta.
--
-- No code writes the brand_selected status any more (choosing a brand and
-- starting its authorization are one transaction; brand_selected_at and
-- the brand_selected event keep the choice): it leaves the status check
-- and the open-expiry index. A session resting in it (none should) is
-- carried over as opened, so its user can choose again.
--
-- Every row is copied in this migration's transaction; link_sessions is
-- locked meanwhile (docs/scaling.md has the time it takes).

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION history_ensure_month(m date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    lo timestamptz := date_trunc('month', m::timestamp) AT TIME ZONE 'UTC';
    hi timestamptz := (date_trunc('month', m::timestamp) + interval '1 month') AT TIME ZONE 'UTC';
    mlo date := date_trunc('month', m::timestamp)::date;
    mhi date := (date_trunc('month', m::timestamp) + interval '1 month')::date;
    sfx text := to_char(m, 'YYYYMM');
    t record;
    part text;
    made integer := 0;
BEGIN
    FOR t IN SELECT * FROM (VALUES (1, 'webhook_attempts', 'delivery_created_at'), (2, 'webhook_deliveries', 'created_at'),
                                   (3, 'link_events', 'created_at'), (4, 'report_deltas', 'created_at')) v(ord, parent, key)
             ORDER BY ord LOOP
        part := t.parent || '_p' || sfx;
        IF to_regclass(part) IS NULL THEN
            EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part, t.parent);
            EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I >= $1 AND %I < $2 RETURNING *) INSERT INTO %I SELECT * FROM moved',
                           t.parent || '_default', t.key, t.key, part) USING lo, hi;
            made := made + 1;
        END IF;
    END LOOP;
    FOR t IN SELECT * FROM (VALUES (1, 'webhook_deliveries'), (2, 'webhook_attempts'), (3, 'link_events'), (4, 'report_deltas')) v(ord, parent)
             ORDER BY ord LOOP
        part := t.parent || '_p' || sfx;
        IF NOT (SELECT relispartition FROM pg_class WHERE oid = to_regclass(part)) THEN
            EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', t.parent, part, lo, hi);
        END IF;
    END LOOP;
    -- Finished link sessions: keyed by the month's first day. The rows the
    -- default partition caught for it are moved in by the same UPDATE the
    -- mover uses, with the report triggers off (a move counts nothing).
    part := 'link_sessions_p' || sfx;
    IF to_regclass(part) IS NULL THEN
        EXECUTE format('CREATE TABLE %I (LIKE link_sessions INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
        EXECUTE format('WITH moved AS (DELETE FROM link_sessions_default WHERE history_month >= $1 AND history_month < $2 RETURNING *)
                        INSERT INTO %I SELECT * FROM moved', part) USING mlo, mhi;
        EXECUTE format('ALTER TABLE link_sessions ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, mlo, mhi);
        made := made + 1;
    END IF;
    RETURN made;
END;
$$;
-- +goose StatementEnd

DROP VIEW report_pending;
DROP FUNCTION report_unfolded();
DROP VIEW report_session_contributions;
DROP TRIGGER link_sessions_report ON link_sessions;
DROP TRIGGER link_sessions_report_update ON link_sessions;
ALTER TABLE link_events DROP CONSTRAINT link_events_session_id_fkey;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_session_id_fkey;
ALTER TABLE bulk_relink_items DROP CONSTRAINT bulk_relink_items_session_id_fkey;
ALTER TABLE link_sessions RENAME TO link_sessions_flat;
DROP FUNCTION report_apply(link_sessions_flat, integer, text);
ALTER TABLE link_sessions_flat DROP CONSTRAINT link_sessions_status_check;

CREATE TABLE link_sessions (
    LIKE link_sessions_flat INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
    history_month date NOT NULL DEFAULT 'infinity',
    CONSTRAINT link_sessions_status_check
        CHECK (status IN ('created', 'opened', 'authorizing', 'connected', 'failed', 'expired')),
    -- Only a finished session leaves the open partition.
    CONSTRAINT link_sessions_history_finished CHECK (history_month = 'infinity' OR finished_at IS NOT NULL)
) PARTITION BY RANGE (history_month);
CREATE TABLE link_sessions_open PARTITION OF link_sessions FOR VALUES FROM ('infinity') TO (MAXVALUE);
CREATE TABLE link_sessions_default PARTITION OF link_sessions DEFAULT;

-- A partition for every month holding a finished session, and for the
-- months the other history tables have.
SELECT history_ensure_month(m) FROM (
    SELECT DISTINCT date_trunc('month', created_at AT TIME ZONE 'UTC')::date AS m FROM link_sessions_flat WHERE finished_at IS NOT NULL
    UNION
    SELECT (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => k))::date FROM generate_series(-1, 3) k
    UNION
    SELECT to_date(substring(c.relname FROM '_p(\d{6})$'), 'YYYYMM') FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'link_events'::regclass AND c.relname ~ '_p\d{6}$'
) months;

INSERT INTO link_sessions
SELECT id, token_hash, kind, supplier_id, supplier_user_id, redirect_uri, language, initiator,
    CASE WHEN status = 'brand_selected' THEN 'opened' ELSE status END,
    failure_reason, manufacturer_id, brand_preselected, nox_user_id, state_hash, pkce_verifier_enc, browser_hash,
    created_at, opened_at, brand_selected_at, authorizing_at, callback_at, finished_at, expires_at, portal_user_id,
    manufacturer_user_id, device_ids, callback_lease_until, created_xid,
    CASE WHEN finished_at IS NULL THEN 'infinity' ELSE date_trunc('month', created_at AT TIME ZONE 'UTC')::date END
FROM link_sessions_flat;
DROP TABLE link_sessions_flat;

ALTER TABLE link_sessions ADD CONSTRAINT link_sessions_pkey PRIMARY KEY (id, history_month);
ALTER TABLE link_sessions ADD CONSTRAINT link_sessions_token_hash_key UNIQUE (token_hash, history_month);
ALTER TABLE link_sessions ADD CONSTRAINT link_sessions_state_hash_key UNIQUE (state_hash, history_month);
CREATE INDEX link_sessions_supplier_user_idx ON link_sessions (supplier_id, supplier_user_id, created_at DESC);
CREATE INDEX link_sessions_open_expiry_idx ON link_sessions (expires_at) WHERE status IN ('created', 'opened', 'authorizing');
CREATE INDEX link_sessions_created_idx ON link_sessions (created_at);
CREATE INDEX link_sessions_portal_user_idx ON link_sessions (portal_user_id, created_at DESC) WHERE portal_user_id IS NOT NULL;
CREATE INDEX link_sessions_manufacturer_user_idx ON link_sessions (manufacturer_id, manufacturer_user_id, created_at DESC)
    WHERE kind = 'supplier_select';
CREATE INDEX link_sessions_ended_idx ON link_sessions (finished_at DESC, id DESC) WHERE status IN ('failed', 'expired');
CREATE INDEX link_sessions_callback_lease_idx ON link_sessions (callback_lease_until)
    WHERE status = 'authorizing' AND callback_lease_until IS NOT NULL;
CREATE INDEX link_sessions_created_xid_idx ON link_sessions (created_xid) WHERE created_xid IS NOT NULL;
-- What the mover looks for: sessions finished and still open-partitioned.
CREATE INDEX link_sessions_open_finished_idx ON link_sessions_open (finished_at) WHERE finished_at IS NOT NULL;
ALTER TABLE link_sessions ADD CONSTRAINT link_sessions_supplier_id_fkey FOREIGN KEY (supplier_id) REFERENCES suppliers (id);
ALTER TABLE link_sessions ADD CONSTRAINT link_sessions_manufacturer_id_fkey FOREIGN KEY (manufacturer_id) REFERENCES manufacturers (id);
ALTER TABLE link_sessions ADD CONSTRAINT link_sessions_nox_user_id_fkey FOREIGN KEY (nox_user_id) REFERENCES nox_users (id);
ALTER TABLE link_sessions ADD CONSTRAINT link_sessions_portal_user_id_fkey FOREIGN KEY (portal_user_id) REFERENCES portal_users (id);

CREATE FUNCTION report_apply(r link_sessions, sign integer, tz text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO report_deltas (day, supplier_id, brand, kind, language, outcome, bucket, sessions, opened, brand_selected,
        authorizing, created_xid)
    VALUES ((r.created_at AT TIME ZONE tz)::date, coalesce(r.supplier_id, ''), coalesce(r.manufacturer_id, ''),
            r.kind, r.language, report_outcome(r.status, r.failure_reason),
            CASE WHEN r.status = 'connected'
                 THEN report_connect_bucket(extract(epoch FROM r.finished_at - coalesce(r.opened_at, r.created_at))) END,
            sign,
            CASE WHEN r.opened_at IS NOT NULL THEN sign ELSE 0 END,
            CASE WHEN r.brand_selected_at IS NOT NULL THEN sign ELSE 0 END,
            CASE WHEN r.authorizing_at IS NOT NULL THEN sign ELSE 0 END,
            r.created_xid)
$$;
CREATE TRIGGER link_sessions_report AFTER DELETE ON link_sessions
    FOR EACH ROW EXECUTE FUNCTION link_sessions_report();
CREATE TRIGGER link_sessions_report_update AFTER UPDATE ON link_sessions
    FOR EACH ROW WHEN (old.status IS DISTINCT FROM new.status OR old.failure_reason IS DISTINCT FROM new.failure_reason
        OR old.manufacturer_id IS DISTINCT FROM new.manufacturer_id OR old.opened_at IS DISTINCT FROM new.opened_at
        OR old.brand_selected_at IS DISTINCT FROM new.brand_selected_at OR old.authorizing_at IS DISTINCT FROM new.authorizing_at
        OR old.finished_at IS DISTINCT FROM new.finished_at OR old.created_at IS DISTINCT FROM new.created_at
        OR old.supplier_id IS DISTINCT FROM new.supplier_id OR old.kind IS DISTINCT FROM new.kind
        OR old.language IS DISTINCT FROM new.language)
    EXECUTE FUNCTION link_sessions_report();

CREATE VIEW report_session_contributions AS
SELECT s.created_xid, (s.created_at AT TIME ZONE st.timezone)::date AS day, coalesce(s.supplier_id, '') AS supplier_id,
    coalesce(s.manufacturer_id, '') AS brand, s.kind, s.language, report_outcome(s.status, s.failure_reason) AS outcome,
    CASE WHEN s.status = 'connected'
         THEN report_connect_bucket(extract(epoch FROM s.finished_at - coalesce(s.opened_at, s.created_at))) END AS bucket,
    1 AS sessions, (s.opened_at IS NOT NULL)::int AS opened, (s.brand_selected_at IS NOT NULL)::int AS brand_selected,
    (s.authorizing_at IS NOT NULL)::int AS authorizing
FROM link_sessions s CROSS JOIN report_settings st;

-- +goose StatementBegin
CREATE FUNCTION report_unfolded() RETURNS SETOF report_session_contributions
LANGUAGE plpgsql STABLE ROWS 1000 AS $$
DECLARE
    below xid8;
BEGIN
    SELECT folded_below INTO below FROM report_watermark;
    RETURN QUERY EXECUTE 'SELECT * FROM report_session_contributions WHERE created_xid >= $1' USING below;
END;
$$;
-- +goose StatementEnd

CREATE VIEW report_pending AS
SELECT d.day, d.supplier_id, d.brand, d.kind, d.language, d.outcome, d.bucket, d.sessions, d.opened, d.brand_selected, d.authorizing
FROM report_deltas d CROSS JOIN report_watermark w
WHERE d.created_xid IS NULL OR d.created_xid < w.folded_below
UNION ALL
SELECT c.day, c.supplier_id, c.brand, c.kind, c.language, c.outcome, c.bucket, c.sessions, c.opened, c.brand_selected, c.authorizing
FROM report_unfolded() c;

ANALYZE link_sessions;

-- +goose Down
DROP VIEW report_pending;
DROP FUNCTION report_unfolded();
DROP VIEW report_session_contributions;
DROP TRIGGER link_sessions_report ON link_sessions;
DROP TRIGGER link_sessions_report_update ON link_sessions;
DROP FUNCTION report_apply(link_sessions, integer, text);

CREATE TABLE link_sessions_flat (LIKE link_sessions INCLUDING DEFAULTS);
ALTER TABLE link_sessions_flat DROP COLUMN history_month;
INSERT INTO link_sessions_flat
SELECT id, token_hash, kind, supplier_id, supplier_user_id, redirect_uri, language, initiator, status,
    failure_reason, manufacturer_id, brand_preselected, nox_user_id, state_hash, pkce_verifier_enc, browser_hash,
    created_at, opened_at, brand_selected_at, authorizing_at, callback_at, finished_at, expires_at, portal_user_id,
    manufacturer_user_id, device_ids, callback_lease_until, created_xid
FROM link_sessions;
DROP TABLE link_sessions;
ALTER TABLE link_sessions_flat RENAME TO link_sessions;

ALTER TABLE link_sessions ADD CONSTRAINT link_sessions_pkey PRIMARY KEY (id);
ALTER TABLE link_sessions ADD CONSTRAINT link_sessions_token_hash_key UNIQUE (token_hash);
ALTER TABLE link_sessions ADD CONSTRAINT link_sessions_state_hash_key UNIQUE (state_hash);
ALTER TABLE link_sessions
    ADD CONSTRAINT link_sessions_token_hash_check CHECK (length(token_hash) = 32),
    ADD CONSTRAINT link_sessions_kind_check CHECK (kind IN ('supplier_link', 'supplier_select')),
    ADD CONSTRAINT link_sessions_language_check CHECK (language IN ('en', 'nl', 'de', 'fr', 'es')),
    ADD CONSTRAINT link_sessions_initiator_check CHECK (initiator IN ('api', 'customer', 'agent', 'manufacturer')),
    ADD CONSTRAINT link_sessions_status_check
        CHECK (status IN ('created', 'opened', 'brand_selected', 'authorizing', 'connected', 'failed', 'expired')),
    ADD CONSTRAINT link_sessions_check CHECK ((status IN ('connected', 'failed', 'expired')) = (finished_at IS NOT NULL)),
    ADD CONSTRAINT link_sessions_check1 CHECK (status <> 'connected' OR nox_user_id IS NOT NULL),
    ADD CONSTRAINT link_sessions_check2 CHECK (status NOT IN ('failed', 'expired') OR failure_reason IS NOT NULL),
    ADD CONSTRAINT link_sessions_manufacturer_user_id_check CHECK (length(manufacturer_user_id) <= 128),
    ADD CONSTRAINT link_sessions_check4 CHECK (kind <> 'supplier_select' OR status <> 'connected'
        OR supplier_id IS NOT NULL AND supplier_user_id <> ''),
    ADD CONSTRAINT link_sessions_supplier_select_party CHECK (kind <> 'supplier_select'
        OR manufacturer_id IS NOT NULL AND manufacturer_user_id <> ''
        OR initiator = 'customer' AND manufacturer_id IS NULL AND manufacturer_user_id = '' AND nox_user_id IS NOT NULL
            AND portal_user_id IS NOT NULL);
CREATE INDEX link_sessions_supplier_user_idx ON link_sessions (supplier_id, supplier_user_id, created_at DESC);
CREATE INDEX link_sessions_open_expiry_idx ON link_sessions (expires_at)
    WHERE status IN ('created', 'opened', 'brand_selected', 'authorizing');
CREATE INDEX link_sessions_created_idx ON link_sessions (created_at);
CREATE INDEX link_sessions_portal_user_idx ON link_sessions (portal_user_id, created_at DESC) WHERE portal_user_id IS NOT NULL;
CREATE INDEX link_sessions_manufacturer_user_idx ON link_sessions (manufacturer_id, manufacturer_user_id, created_at DESC)
    WHERE kind = 'supplier_select';
CREATE INDEX link_sessions_ended_idx ON link_sessions (finished_at DESC, id DESC) WHERE status IN ('failed', 'expired');
CREATE INDEX link_sessions_callback_lease_idx ON link_sessions (callback_lease_until)
    WHERE status = 'authorizing' AND callback_lease_until IS NOT NULL;
CREATE INDEX link_sessions_created_xid_idx ON link_sessions (created_xid) WHERE created_xid IS NOT NULL;
ALTER TABLE link_sessions ADD CONSTRAINT link_sessions_supplier_id_fkey FOREIGN KEY (supplier_id) REFERENCES suppliers (id);
ALTER TABLE link_sessions ADD CONSTRAINT link_sessions_manufacturer_id_fkey FOREIGN KEY (manufacturer_id) REFERENCES manufacturers (id);
ALTER TABLE link_sessions ADD CONSTRAINT link_sessions_nox_user_id_fkey FOREIGN KEY (nox_user_id) REFERENCES nox_users (id);
ALTER TABLE link_sessions ADD CONSTRAINT link_sessions_portal_user_id_fkey FOREIGN KEY (portal_user_id) REFERENCES portal_users (id);
ALTER TABLE link_events ADD CONSTRAINT link_events_session_id_fkey FOREIGN KEY (session_id) REFERENCES link_sessions (id);
ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_session_id_fkey FOREIGN KEY (session_id) REFERENCES link_sessions (id);
ALTER TABLE bulk_relink_items ADD CONSTRAINT bulk_relink_items_session_id_fkey FOREIGN KEY (session_id) REFERENCES link_sessions (id);

CREATE FUNCTION report_apply(r link_sessions, sign integer, tz text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO report_deltas (day, supplier_id, brand, kind, language, outcome, bucket, sessions, opened, brand_selected,
        authorizing, created_xid)
    VALUES ((r.created_at AT TIME ZONE tz)::date, coalesce(r.supplier_id, ''), coalesce(r.manufacturer_id, ''),
            r.kind, r.language, report_outcome(r.status, r.failure_reason),
            CASE WHEN r.status = 'connected'
                 THEN report_connect_bucket(extract(epoch FROM r.finished_at - coalesce(r.opened_at, r.created_at))) END,
            sign,
            CASE WHEN r.opened_at IS NOT NULL THEN sign ELSE 0 END,
            CASE WHEN r.brand_selected_at IS NOT NULL THEN sign ELSE 0 END,
            CASE WHEN r.authorizing_at IS NOT NULL THEN sign ELSE 0 END,
            r.created_xid)
$$;
CREATE TRIGGER link_sessions_report AFTER DELETE ON link_sessions
    FOR EACH ROW EXECUTE FUNCTION link_sessions_report();
CREATE TRIGGER link_sessions_report_update AFTER UPDATE ON link_sessions
    FOR EACH ROW WHEN (old.status IS DISTINCT FROM new.status OR old.failure_reason IS DISTINCT FROM new.failure_reason
        OR old.manufacturer_id IS DISTINCT FROM new.manufacturer_id OR old.opened_at IS DISTINCT FROM new.opened_at
        OR old.brand_selected_at IS DISTINCT FROM new.brand_selected_at OR old.authorizing_at IS DISTINCT FROM new.authorizing_at
        OR old.finished_at IS DISTINCT FROM new.finished_at OR old.created_at IS DISTINCT FROM new.created_at
        OR old.supplier_id IS DISTINCT FROM new.supplier_id OR old.kind IS DISTINCT FROM new.kind
        OR old.language IS DISTINCT FROM new.language)
    EXECUTE FUNCTION link_sessions_report();

CREATE VIEW report_session_contributions AS
SELECT s.created_xid, (s.created_at AT TIME ZONE st.timezone)::date AS day, coalesce(s.supplier_id, '') AS supplier_id,
    coalesce(s.manufacturer_id, '') AS brand, s.kind, s.language, report_outcome(s.status, s.failure_reason) AS outcome,
    CASE WHEN s.status = 'connected'
         THEN report_connect_bucket(extract(epoch FROM s.finished_at - coalesce(s.opened_at, s.created_at))) END AS bucket,
    1 AS sessions, (s.opened_at IS NOT NULL)::int AS opened, (s.brand_selected_at IS NOT NULL)::int AS brand_selected,
    (s.authorizing_at IS NOT NULL)::int AS authorizing
FROM link_sessions s CROSS JOIN report_settings st;

-- +goose StatementBegin
CREATE FUNCTION report_unfolded() RETURNS SETOF report_session_contributions
LANGUAGE plpgsql STABLE ROWS 1000 AS $$
DECLARE
    below xid8;
BEGIN
    SELECT folded_below INTO below FROM report_watermark;
    RETURN QUERY EXECUTE 'SELECT * FROM report_session_contributions WHERE created_xid >= $1' USING below;
END;
$$;
-- +goose StatementEnd

CREATE VIEW report_pending AS
SELECT d.day, d.supplier_id, d.brand, d.kind, d.language, d.outcome, d.bucket, d.sessions, d.opened, d.brand_selected, d.authorizing
FROM report_deltas d CROSS JOIN report_watermark w
WHERE d.created_xid IS NULL OR d.created_xid < w.folded_below
UNION ALL
SELECT c.day, c.supplier_id, c.brand, c.kind, c.language, c.outcome, c.bucket, c.sessions, c.opened, c.brand_selected, c.authorizing
FROM report_unfolded() c;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION history_ensure_month(m date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    lo timestamptz := date_trunc('month', m::timestamp) AT TIME ZONE 'UTC';
    hi timestamptz := (date_trunc('month', m::timestamp) + interval '1 month') AT TIME ZONE 'UTC';
    sfx text := to_char(m, 'YYYYMM');
    t record;
    part text;
    made integer := 0;
BEGIN
    FOR t IN SELECT * FROM (VALUES (1, 'webhook_attempts', 'delivery_created_at'), (2, 'webhook_deliveries', 'created_at'),
                                   (3, 'link_events', 'created_at'), (4, 'report_deltas', 'created_at')) v(ord, parent, key)
             ORDER BY ord LOOP
        part := t.parent || '_p' || sfx;
        IF to_regclass(part) IS NULL THEN
            EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part, t.parent);
            EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I >= $1 AND %I < $2 RETURNING *) INSERT INTO %I SELECT * FROM moved',
                           t.parent || '_default', t.key, t.key, part) USING lo, hi;
            made := made + 1;
        END IF;
    END LOOP;
    FOR t IN SELECT * FROM (VALUES (1, 'webhook_deliveries'), (2, 'webhook_attempts'), (3, 'link_events'), (4, 'report_deltas')) v(ord, parent)
             ORDER BY ord LOOP
        part := t.parent || '_p' || sfx;
        IF NOT (SELECT relispartition FROM pg_class WHERE oid = to_regclass(part)) THEN
            EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', t.parent, part, lo, hi);
        END IF;
    END LOOP;
    RETURN made;
END;
$$;
-- +goose StatementEnd
