-- +goose Up
-- A link creation no longer touches the report rollups: the per-row insert
-- trigger is gone. New sessions are counted by report_fold() from the
-- sessions table itself, past a durable watermark.
--
-- Every session inserted from now on carries created_xid, the id of the
-- transaction that inserted it. report_watermark.folded_below = W says the
-- rollups count every session with created_xid < W (or NULL: inserted
-- before this migration, or by a bulk load that rebuilds). A fold takes the
-- horizon X of its own snapshot (every transaction with an id below X that
-- could insert sessions has ended, so no session with created_xid < X can
-- still appear: report_fold_horizon), counts the
-- sessions with created_xid in [W, X) as they are in its snapshot, and sets
-- W = X in the same transaction: a fold that dies commits nothing and the
-- next one replays the same range, so nothing is counted twice or lost.
--
-- Changes of a session (status, brand, steps, deletion) still append to
-- report_deltas through the update and delete triggers, now with the
-- session's created_xid. A change of a session not folded yet is already in
-- the state the fold will count, so readers ignore it and the fold drops it;
-- a change of a folded session is applied. Readers add to the rollups the
-- changes of folded sessions and the sessions not folded yet
-- (report_pending), so reports stay exact at every moment.

-- Fold what the old triggers left pending: every session so far is counted.
SELECT report_fold();

ALTER TABLE link_sessions ADD COLUMN created_xid xid8;
-- Bulk loads that rebuild afterwards (noxportal.skip_report_rollups = on)
-- leave it NULL, as before this column: the rebuild counts those sessions.
ALTER TABLE link_sessions ALTER COLUMN created_xid SET DEFAULT
    (CASE WHEN current_setting('noxportal.skip_report_rollups', true) = 'on' THEN NULL ELSE pg_current_xact_id() END);
CREATE INDEX link_sessions_created_xid_idx ON link_sessions (created_xid) WHERE created_xid IS NOT NULL;

ALTER TABLE report_deltas ADD COLUMN created_xid xid8;

CREATE TABLE report_watermark (
    only_row     boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    folded_below xid8 NOT NULL
);
-- Every session with a created_xid was inserted after this migration.
INSERT INTO report_watermark (folded_below) VALUES ('0');

DROP TRIGGER link_sessions_report ON link_sessions;
CREATE TRIGGER link_sessions_report AFTER DELETE ON link_sessions
    FOR EACH ROW EXECUTE FUNCTION link_sessions_report();

-- One session's contribution to the rollups, at full detail, in the report
-- time zone.
CREATE VIEW report_session_contributions AS
SELECT s.created_xid, (s.created_at AT TIME ZONE st.timezone)::date AS day, coalesce(s.supplier_id, '') AS supplier_id,
    coalesce(s.manufacturer_id, '') AS brand, s.kind, s.language, report_outcome(s.status, s.failure_reason) AS outcome,
    CASE WHEN s.status = 'connected'
         THEN report_connect_bucket(extract(epoch FROM s.finished_at - coalesce(s.opened_at, s.created_at))) END AS bucket,
    1 AS sessions, (s.opened_at IS NOT NULL)::int AS opened, (s.brand_selected_at IS NOT NULL)::int AS brand_selected,
    (s.authorizing_at IS NOT NULL)::int AS authorizing
FROM link_sessions s CROSS JOIN report_settings st;

-- report_unfolded returns the contributions of the sessions past the
-- watermark, as they are now. The watermark is read first and handed to the
-- query as a value, so the planner sees how few sessions lie past it (a
-- join would be planned for a third of the table). It reads the caller's
-- snapshot, so a report sees the watermark and the rollups of one moment.
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

-- What the rollups do not hold yet, at full detail: the changes of folded
-- sessions and the sessions past the watermark as they are now.
CREATE VIEW report_pending AS
SELECT d.day, d.supplier_id, d.brand, d.kind, d.language, d.outcome, d.bucket, d.sessions, d.opened, d.brand_selected, d.authorizing
FROM report_deltas d CROSS JOIN report_watermark w
WHERE d.created_xid IS NULL OR d.created_xid < w.folded_below
UNION ALL
SELECT c.day, c.supplier_id, c.brand, c.kind, c.language, c.outcome, c.bucket, c.sessions, c.opened, c.brand_selected, c.authorizing
FROM report_unfolded() c;

-- report_apply appends sign × one session's contribution to report_deltas.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION report_apply(r link_sessions, sign integer, tz text) RETURNS void
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
-- +goose StatementEnd

-- report_fold_devices moves the pending device changes into their rollup.
-- +goose StatementBegin
CREATE FUNCTION report_fold_devices() RETURNS void
LANGUAGE sql AS $$
    WITH moved AS (DELETE FROM report_device_deltas RETURNING *)
    INSERT INTO report_device_daily AS t (day, brand, activated, deactivated, relink_needed, relink_done)
    SELECT day, brand, sum(activated), sum(deactivated), sum(relink_needed), sum(relink_done)
    FROM moved GROUP BY day, brand
    ON CONFLICT (day, brand) DO UPDATE
    SET activated = t.activated + EXCLUDED.activated, deactivated = t.deactivated + EXCLUDED.deactivated,
        relink_needed = t.relink_needed + EXCLUDED.relink_needed, relink_done = t.relink_done + EXCLUDED.relink_done
$$;
-- +goose StatementEnd

DROP FUNCTION report_fold();

-- report_fold_horizon is the bound of a fold in the current snapshot: the
-- oldest transaction still running in it that may have inserted sessions,
-- or else the first transaction id not yet assigned. Every transaction
-- below it has ended, so every session with created_xid below it is in the
-- snapshot or was rolled back. Transactions seen running in another
-- database of the server are left out (they cannot write our sessions);
-- one that ended meanwhile, or that this role may not see, is kept.
-- +goose StatementBegin
CREATE FUNCTION report_fold_horizon() RETURNS xid8
LANGUAGE sql STABLE AS $$
    SELECT coalesce(min(x), pg_snapshot_xmax(pg_current_snapshot()))
    FROM pg_snapshot_xip(pg_current_snapshot()) x
    WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                      WHERE a.backend_xid = xid(x) AND a.datname IS DISTINCT FROM current_database())
$$;
-- +goose StatementEnd

-- report_fold folds one batch: the sessions past the watermark (at most
-- max_sessions of them, never splitting one transaction's sessions) and
-- every pending change; it returns how many sessions and changes it
-- counted. One fold runs at a time: another returns -1 at once.
-- +goose StatementBegin
CREATE FUNCTION report_fold(max_sessions integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    below xid8;
    horizon xid8;
    upto xid8;
    nth xid8;
    nxt xid8;
    n bigint;
BEGIN
    -- The rollups first: a rebuild holds them exclusively, and a fold must
    -- wait for it before taking the fold lock.
    LOCK TABLE report_daily, report_connect_times, report_device_daily IN ROW EXCLUSIVE MODE;
    IF NOT pg_try_advisory_xact_lock(hashtext('noxportal.report_fold')) THEN
        RETURN -1;
    END IF;
    -- Each statement from here on has a snapshot taken after the lock, so
    -- it sees the watermark of the last fold; every session below the
    -- horizon of this one is in all the later ones.
    SELECT folded_below, report_fold_horizon() INTO below, horizon FROM report_watermark;
    -- The batch ends at the transaction of the (max_sessions+1)-th session
    -- past the watermark, or after the first transaction when that one
    -- alone has more. Values, not a join, so the planner sees the range.
    EXECUTE 'SELECT created_xid FROM link_sessions WHERE created_xid >= $1 AND created_xid < $2
             ORDER BY created_xid OFFSET $3 LIMIT 1' INTO nth USING below, horizon, max_sessions;
    upto := horizon;
    IF nth IS NOT NULL THEN
        EXECUTE 'SELECT min(created_xid) FROM link_sessions WHERE created_xid > $1 AND created_xid < $2'
            INTO nxt USING below, horizon;
        upto := least(horizon, greatest(nth, coalesce(nxt, horizon)));
    END IF;
    EXECUTE '
    WITH moved AS (
        DELETE FROM report_deltas RETURNING *
    ), changes AS (
        SELECT m.day, m.supplier_id, m.brand, m.kind, m.language, m.outcome, m.bucket, m.sessions, m.opened,
            m.brand_selected, m.authorizing
        FROM moved m WHERE m.created_xid IS NULL OR m.created_xid < $1
        UNION ALL
        SELECT c.day, c.supplier_id, c.brand, c.kind, c.language, c.outcome, c.bucket, c.sessions, c.opened,
            c.brand_selected, c.authorizing
        FROM report_session_contributions c WHERE c.created_xid >= $1 AND c.created_xid < $2
    ), daily AS (
        INSERT INTO report_daily AS t (rolled, day, supplier_id, brand, kind, language, outcome, sessions, opened, brand_selected, authorizing)
        SELECT GROUPING(supplier_id, brand, kind, language), day, coalesce(supplier_id, ''''), coalesce(brand, ''''),
            coalesce(kind, ''''), coalesce(language, ''''), outcome, sum(sessions), sum(opened), sum(brand_selected), sum(authorizing)
        FROM changes
        GROUP BY day, outcome, CUBE (supplier_id, brand, kind, language)
        ON CONFLICT (rolled, kind, language, supplier_id, day, brand, outcome) DO UPDATE
        SET sessions = t.sessions + EXCLUDED.sessions, opened = t.opened + EXCLUDED.opened,
            brand_selected = t.brand_selected + EXCLUDED.brand_selected, authorizing = t.authorizing + EXCLUDED.authorizing
    ), times AS (
        INSERT INTO report_connect_times AS t (rolled, day, supplier_id, brand, kind, language, bucket, sessions)
        SELECT GROUPING(supplier_id, brand, kind, language), day, coalesce(supplier_id, ''''), coalesce(brand, ''''),
            coalesce(kind, ''''), coalesce(language, ''''), bucket, sum(sessions)
        FROM changes WHERE bucket IS NOT NULL
        GROUP BY day, bucket, CUBE (supplier_id, brand, kind, language)
        ON CONFLICT (rolled, kind, language, supplier_id, day, brand, bucket) DO UPDATE
        SET sessions = t.sessions + EXCLUDED.sessions
    )
    SELECT count(*) FROM changes' INTO n USING below, upto;
    IF upto > below THEN
        UPDATE report_watermark SET folded_below = upto;
    END IF;
    PERFORM report_fold_devices();
    RETURN n;
END;
$$;
-- +goose StatementEnd

-- The one-row tables are joined into every report and fold: without
-- statistics the planner takes each for thousands of rows.
ANALYZE report_watermark, report_settings;

-- +goose Down
SELECT report_fold(2147483647);
DROP FUNCTION report_fold(integer);
-- +goose StatementBegin
CREATE FUNCTION report_fold() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    LOCK TABLE report_daily, report_connect_times, report_device_daily IN ROW EXCLUSIVE MODE;
    IF NOT pg_try_advisory_xact_lock(hashtext('noxportal.report_fold')) THEN
        RETURN 0;
    END IF;
    WITH moved AS (DELETE FROM report_deltas RETURNING *),
    daily AS (
        INSERT INTO report_daily AS t (rolled, day, supplier_id, brand, kind, language, outcome, sessions, opened, brand_selected, authorizing)
        SELECT GROUPING(supplier_id, brand, kind, language), day, coalesce(supplier_id, ''), coalesce(brand, ''),
            coalesce(kind, ''), coalesce(language, ''), outcome, sum(sessions), sum(opened), sum(brand_selected), sum(authorizing)
        FROM moved
        GROUP BY day, outcome, CUBE (supplier_id, brand, kind, language)
        ON CONFLICT (rolled, kind, language, supplier_id, day, brand, outcome) DO UPDATE
        SET sessions = t.sessions + EXCLUDED.sessions, opened = t.opened + EXCLUDED.opened,
            brand_selected = t.brand_selected + EXCLUDED.brand_selected, authorizing = t.authorizing + EXCLUDED.authorizing
    ), times AS (
        INSERT INTO report_connect_times AS t (rolled, day, supplier_id, brand, kind, language, bucket, sessions)
        SELECT GROUPING(supplier_id, brand, kind, language), day, coalesce(supplier_id, ''), coalesce(brand, ''),
            coalesce(kind, ''), coalesce(language, ''), bucket, sum(sessions)
        FROM moved WHERE bucket IS NOT NULL
        GROUP BY day, bucket, CUBE (supplier_id, brand, kind, language)
        ON CONFLICT (rolled, kind, language, supplier_id, day, brand, bucket) DO UPDATE
        SET sessions = t.sessions + EXCLUDED.sessions
    )
    SELECT count(*) INTO n FROM moved;
    WITH moved AS (DELETE FROM report_device_deltas RETURNING *)
    INSERT INTO report_device_daily AS t (day, brand, activated, deactivated, relink_needed, relink_done)
    SELECT day, brand, sum(activated), sum(deactivated), sum(relink_needed), sum(relink_done)
    FROM moved GROUP BY day, brand
    ON CONFLICT (day, brand) DO UPDATE
    SET activated = t.activated + EXCLUDED.activated, deactivated = t.deactivated + EXCLUDED.deactivated,
        relink_needed = t.relink_needed + EXCLUDED.relink_needed, relink_done = t.relink_done + EXCLUDED.relink_done;
    RETURN n;
END;
$$;
-- +goose StatementEnd
DROP VIEW report_pending;
DROP FUNCTION report_unfolded();
DROP VIEW report_session_contributions;
DROP TRIGGER link_sessions_report ON link_sessions;
CREATE TRIGGER link_sessions_report AFTER INSERT OR DELETE ON link_sessions
    FOR EACH ROW EXECUTE FUNCTION link_sessions_report();
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION report_apply(r link_sessions, sign integer, tz text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO report_deltas (day, supplier_id, brand, kind, language, outcome, bucket, sessions, opened, brand_selected, authorizing)
    VALUES ((r.created_at AT TIME ZONE tz)::date, coalesce(r.supplier_id, ''), coalesce(r.manufacturer_id, ''),
            r.kind, r.language, report_outcome(r.status, r.failure_reason),
            CASE WHEN r.status = 'connected'
                 THEN report_connect_bucket(extract(epoch FROM r.finished_at - coalesce(r.opened_at, r.created_at))) END,
            sign,
            CASE WHEN r.opened_at IS NOT NULL THEN sign ELSE 0 END,
            CASE WHEN r.brand_selected_at IS NOT NULL THEN sign ELSE 0 END,
            CASE WHEN r.authorizing_at IS NOT NULL THEN sign ELSE 0 END)
$$;
-- +goose StatementEnd
DROP FUNCTION report_fold_devices(), report_fold_horizon();
DROP TABLE report_watermark;
ALTER TABLE report_deltas DROP COLUMN created_xid;
ALTER TABLE link_sessions DROP COLUMN created_xid;
