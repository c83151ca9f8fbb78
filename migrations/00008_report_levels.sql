-- +goose Up
-- Two changes to the report rollups of 00006, both for scale.
--
-- 1. Session and device writes no longer update a shared rollup row: their
--    triggers append to report_deltas / report_device_deltas, which no other
--    writer touches, so concurrent link creations of one supplier never wait
--    on each other's rollup row (and its commit). report_fold() moves the
--    pending deltas into the rollups; the server calls it every second, and
--    readers add the deltas not folded yet, so reports stay exact.
--
-- 2. report_daily and report_connect_times hold every level of detail:
--    "rolled" is GROUPING(supplier_id, brand, kind, language), the bitmask
--    of the dimensions summed away (8 supplier, 4 brand, 2 flow, 1 language;
--    a summed-away dimension is stored as ''). A report reads only the level
--    that keeps the dimensions it filters or groups on, so a 90-day page
--    reads a few thousand rows, not every supplier × brand × flow × language
--    row of the range.

CREATE TABLE report_deltas (
    day            date NOT NULL,
    supplier_id    text NOT NULL,
    brand          text NOT NULL,
    kind           text NOT NULL,
    language       text NOT NULL,
    outcome        text NOT NULL,
    -- time-to-connect bucket of a connected session, else NULL
    bucket         smallint,
    sessions       integer NOT NULL,
    opened         integer NOT NULL,
    brand_selected integer NOT NULL,
    authorizing    integer NOT NULL
);

CREATE TABLE report_device_deltas (
    day           date NOT NULL,
    brand         text NOT NULL,
    activated     integer NOT NULL,
    deactivated   integer NOT NULL,
    relink_needed integer NOT NULL,
    relink_done   integer NOT NULL
);

-- Every report names all dimensions of its level but one at most (a filter
-- value, or '' for a summed-away dimension; a breakdown leaves its own
-- dimension open), so two orders of the key cover every query with an
-- equality prefix and a day range: the primary key ends in brand (funnel,
-- trend, by brand), the second index in supplier (by supplier). The counts
-- are included, so reports are answered from the index alone.
ALTER TABLE report_daily ADD COLUMN rolled smallint NOT NULL DEFAULT 0;
ALTER TABLE report_daily DROP CONSTRAINT report_daily_pkey;
ALTER TABLE report_daily ADD PRIMARY KEY (rolled, kind, language, supplier_id, day, brand, outcome)
    INCLUDE (sessions, opened, brand_selected, authorizing);
CREATE INDEX report_daily_by_supplier ON report_daily (rolled, kind, language, brand, day, supplier_id)
    INCLUDE (outcome, sessions, opened, brand_selected, authorizing);
ALTER TABLE report_connect_times ADD COLUMN rolled smallint NOT NULL DEFAULT 0;
ALTER TABLE report_connect_times DROP CONSTRAINT report_connect_times_pkey;
ALTER TABLE report_connect_times ADD PRIMARY KEY (rolled, kind, language, supplier_id, day, brand, bucket)
    INCLUDE (sessions);
CREATE INDEX report_connect_times_by_supplier ON report_connect_times (rolled, kind, language, brand, day, supplier_id)
    INCLUDE (bucket, sessions);

INSERT INTO report_daily (rolled, day, supplier_id, brand, kind, language, outcome, sessions, opened, brand_selected, authorizing)
SELECT GROUPING(supplier_id, brand, kind, language), day, coalesce(supplier_id, ''), coalesce(brand, ''),
    coalesce(kind, ''), coalesce(language, ''), outcome, sum(sessions), sum(opened), sum(brand_selected), sum(authorizing)
FROM report_daily
GROUP BY day, outcome, CUBE (supplier_id, brand, kind, language)
HAVING GROUPING(supplier_id, brand, kind, language) <> 0;

INSERT INTO report_connect_times (rolled, day, supplier_id, brand, kind, language, bucket, sessions)
SELECT GROUPING(supplier_id, brand, kind, language), day, coalesce(supplier_id, ''), coalesce(brand, ''),
    coalesce(kind, ''), coalesce(language, ''), bucket, sum(sessions)
FROM report_connect_times
GROUP BY day, bucket, CUBE (supplier_id, brand, kind, language)
HAVING GROUPING(supplier_id, brand, kind, language) <> 0;

-- report_apply appends sign × one session's contribution to report_deltas.
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

-- Deltas lock nothing, so the order of old and new no longer matters.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION link_sessions_report() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    tz text;
BEGIN
    IF current_setting('noxportal.skip_report_rollups', true) = 'on' THEN
        RETURN NULL;
    END IF;
    SELECT timezone INTO tz FROM report_settings;
    IF TG_OP <> 'INSERT' THEN
        PERFORM report_apply(OLD, -1, tz);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM report_apply(NEW, 1, tz);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION devices_report() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    tz text;
    d date;
    was boolean := TG_OP <> 'INSERT' AND OLD.status = 'connected';
    now_on boolean := TG_OP <> 'DELETE' AND NEW.status = 'connected';
    needed integer := 0;
    done integer := 0;
    br text;
BEGIN
    IF current_setting('noxportal.skip_report_rollups', true) = 'on' THEN
        RETURN NULL;
    END IF;
    SELECT timezone INTO tz FROM report_settings;
    IF TG_OP = 'INSERT' THEN
        d := (NEW.connected_at AT TIME ZONE tz)::date;
    ELSE
        d := (now() AT TIME ZONE tz)::date;
    END IF;
    IF TG_OP = 'DELETE' THEN br := OLD.manufacturer_id; ELSE br := NEW.manufacturer_id; END IF;
    IF TG_OP <> 'DELETE' AND NEW.status = 'relink_required' AND (TG_OP = 'INSERT' OR OLD.status <> 'relink_required') THEN
        needed := 1;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.status = 'relink_required' AND NEW.status = 'connected' THEN
        done := 1;
    END IF;
    IF was = now_on AND needed = 0 AND done = 0 THEN
        RETURN NULL;
    END IF;
    INSERT INTO report_device_deltas (day, brand, activated, deactivated, relink_needed, relink_done)
    VALUES (d, br, (now_on AND NOT was)::int, (was AND NOT now_on)::int, needed, done);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- report_fold moves every committed delta into the rollups and returns how
-- many session deltas it moved. One fold runs at a time (others return 0
-- at once); it is one transaction with the caller's, so a reader sees each
-- delta either pending or folded, never both or neither.
-- +goose StatementBegin
CREATE FUNCTION report_fold() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    -- The rollups first: a rebuild holds them exclusively, and a fold must
    -- wait for it before taking any delta (or the fold lock).
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

-- +goose Down
SELECT report_fold();
DROP FUNCTION report_fold();
DROP INDEX report_daily_by_supplier, report_connect_times_by_supplier;
DELETE FROM report_daily WHERE rolled <> 0;
DELETE FROM report_connect_times WHERE rolled <> 0;
ALTER TABLE report_daily DROP CONSTRAINT report_daily_pkey;
ALTER TABLE report_daily DROP COLUMN rolled;
ALTER TABLE report_daily ADD PRIMARY KEY (day, supplier_id, brand, kind, language, outcome);
ALTER TABLE report_connect_times DROP CONSTRAINT report_connect_times_pkey;
ALTER TABLE report_connect_times DROP COLUMN rolled;
ALTER TABLE report_connect_times ADD PRIMARY KEY (day, supplier_id, brand, kind, language, bucket);

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION report_apply(r link_sessions, sign integer, tz text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    d date := (r.created_at AT TIME ZONE tz)::date;
    sup text := coalesce(r.supplier_id, '');
    br text := coalesce(r.manufacturer_id, '');
BEGIN
    INSERT INTO report_daily AS t (day, supplier_id, brand, kind, language, outcome, sessions, opened, brand_selected, authorizing)
    VALUES (d, sup, br, r.kind, r.language, report_outcome(r.status, r.failure_reason), sign,
            CASE WHEN r.opened_at IS NOT NULL THEN sign ELSE 0 END,
            CASE WHEN r.brand_selected_at IS NOT NULL THEN sign ELSE 0 END,
            CASE WHEN r.authorizing_at IS NOT NULL THEN sign ELSE 0 END)
    ON CONFLICT (day, supplier_id, brand, kind, language, outcome) DO UPDATE
    SET sessions = t.sessions + EXCLUDED.sessions, opened = t.opened + EXCLUDED.opened,
        brand_selected = t.brand_selected + EXCLUDED.brand_selected, authorizing = t.authorizing + EXCLUDED.authorizing;
    IF r.status = 'connected' THEN
        INSERT INTO report_connect_times AS t (day, supplier_id, brand, kind, language, bucket, sessions)
        VALUES (d, sup, br, r.kind, r.language,
                report_connect_bucket(extract(epoch FROM r.finished_at - coalesce(r.opened_at, r.created_at))), sign)
        ON CONFLICT (day, supplier_id, brand, kind, language, bucket) DO UPDATE SET sessions = t.sessions + EXCLUDED.sessions;
    END IF;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION link_sessions_report() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    tz text;
BEGIN
    IF current_setting('noxportal.skip_report_rollups', true) = 'on' THEN
        RETURN NULL;
    END IF;
    SELECT timezone INTO tz FROM report_settings;
    IF TG_OP = 'INSERT' THEN
        PERFORM report_apply(NEW, 1, tz);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM report_apply(OLD, -1, tz);
    ELSIF (coalesce(OLD.manufacturer_id, ''), report_outcome(OLD.status, OLD.failure_reason))
          <= (coalesce(NEW.manufacturer_id, ''), report_outcome(NEW.status, NEW.failure_reason)) THEN
        PERFORM report_apply(OLD, -1, tz);
        PERFORM report_apply(NEW, 1, tz);
    ELSE
        PERFORM report_apply(NEW, 1, tz);
        PERFORM report_apply(OLD, -1, tz);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION devices_report() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    tz text;
    d date;
    was boolean := TG_OP <> 'INSERT' AND OLD.status = 'connected';
    now_on boolean := TG_OP <> 'DELETE' AND NEW.status = 'connected';
    needed integer := 0;
    done integer := 0;
    br text;
BEGIN
    IF current_setting('noxportal.skip_report_rollups', true) = 'on' THEN
        RETURN NULL;
    END IF;
    SELECT timezone INTO tz FROM report_settings;
    IF TG_OP = 'INSERT' THEN
        d := (NEW.connected_at AT TIME ZONE tz)::date;
    ELSE
        d := (now() AT TIME ZONE tz)::date;
    END IF;
    IF TG_OP = 'DELETE' THEN br := OLD.manufacturer_id; ELSE br := NEW.manufacturer_id; END IF;
    IF TG_OP <> 'DELETE' AND NEW.status = 'relink_required' AND (TG_OP = 'INSERT' OR OLD.status <> 'relink_required') THEN
        needed := 1;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.status = 'relink_required' AND NEW.status = 'connected' THEN
        done := 1;
    END IF;
    IF was = now_on AND needed = 0 AND done = 0 THEN
        RETURN NULL;
    END IF;
    INSERT INTO report_device_daily AS t (day, brand, activated, deactivated, relink_needed, relink_done)
    VALUES (d, br, (now_on AND NOT was)::int, (was AND NOT now_on)::int, needed, done)
    ON CONFLICT (day, brand) DO UPDATE
    SET activated = t.activated + EXCLUDED.activated, deactivated = t.deactivated + EXCLUDED.deactivated,
        relink_needed = t.relink_needed + EXCLUDED.relink_needed, relink_done = t.relink_done + EXCLUDED.relink_done;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

DROP TABLE report_device_deltas, report_deltas;
