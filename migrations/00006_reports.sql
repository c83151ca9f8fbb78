-- +goose Up
-- Connection reports read daily rollups, never raw sessions. A session is
-- counted on the day it was created (in the report time zone), under its
-- current brand and outcome; triggers move it between rollup rows as it
-- changes, so the rollups always equal an aggregation of link_sessions.
-- `noxportal reports rebuild` recomputes them from scratch.

-- The report time zone the rollups are bucketed in (one row). The server
-- writes reports.timezone here at start-up and rebuilds when it changed.
CREATE TABLE report_settings (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    timezone text NOT NULL
);
INSERT INTO report_settings (timezone) VALUES ('Europe/Amsterdam');

-- Sessions per creation day × supplier × brand × flow × language × outcome.
-- supplier_id and brand are '' when the session has none (yet); outcome is
-- 'connected', the failure reason of a failed or expired session, or
-- 'pending' while the session is unfinished. The step columns count the
-- sessions that reached each step of the funnel.
CREATE TABLE report_daily (
    day            date NOT NULL,
    supplier_id    text NOT NULL,
    brand          text NOT NULL,
    kind           text NOT NULL,
    language       text NOT NULL,
    outcome        text NOT NULL,
    sessions       integer NOT NULL DEFAULT 0,
    opened         integer NOT NULL DEFAULT 0,
    brand_selected integer NOT NULL DEFAULT 0,
    authorizing    integer NOT NULL DEFAULT 0,
    PRIMARY KEY (day, supplier_id, brand, kind, language, outcome)
);

-- Connected sessions per day × supplier × brand × flow × language and time
-- to connect (opened → connected) bucket; bucket bounds are
-- app.ConnectBuckets. Medians and p90s are read from these histograms.
CREATE TABLE report_connect_times (
    day         date NOT NULL,
    supplier_id text NOT NULL,
    brand       text NOT NULL,
    kind        text NOT NULL,
    language    text NOT NULL,
    bucket      smallint NOT NULL,
    sessions    integer NOT NULL DEFAULT 0,
    PRIMARY KEY (day, supplier_id, brand, kind, language, bucket)
);

-- Device changes per day (report time zone) × brand: devices that became
-- connected (activated) or stopped being connected (deactivated), devices
-- that needed a relink and relinks done. The number of connected devices at
-- the end of a day is the running sum of activated - deactivated.
CREATE TABLE report_device_daily (
    day           date NOT NULL,
    brand         text NOT NULL,
    activated     integer NOT NULL DEFAULT 0,
    deactivated   integer NOT NULL DEFAULT 0,
    relink_needed integer NOT NULL DEFAULT 0,
    relink_done   integer NOT NULL DEFAULT 0,
    PRIMARY KEY (day, brand)
);

-- The histogram bucket (1-based) of a time to connect; keep in step with
-- app.ConnectBuckets.
-- +goose StatementBegin
CREATE FUNCTION report_connect_bucket(secs double precision) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (width_bucket(greatest(secs, 0),
        ARRAY[15, 30, 45, 60, 90, 120, 150, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 3600]::double precision[]) + 1)::smallint
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION report_outcome(status text, failure_reason text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN status = 'connected' THEN 'connected'
                WHEN status IN ('failed', 'expired') THEN coalesce(failure_reason, status)
                ELSE 'pending' END
$$;
-- +goose StatementEnd

-- report_apply adds sign × one session's contribution to the rollups.
-- +goose StatementBegin
CREATE FUNCTION report_apply(r link_sessions, sign integer, tz text) RETURNS void
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

-- The rollup trigger. Bulk loads may skip it (SET LOCAL
-- noxportal.skip_report_rollups = 'on') and rebuild afterwards. The old
-- and new contributions are applied in key order so two sessions moving
-- between the same rollup rows cannot deadlock.
-- +goose StatementBegin
CREATE FUNCTION link_sessions_report() RETURNS trigger
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

CREATE TRIGGER link_sessions_report AFTER INSERT OR DELETE ON link_sessions
    FOR EACH ROW EXECUTE FUNCTION link_sessions_report();
CREATE TRIGGER link_sessions_report_update AFTER UPDATE ON link_sessions
    FOR EACH ROW WHEN (
        OLD.status IS DISTINCT FROM NEW.status OR OLD.failure_reason IS DISTINCT FROM NEW.failure_reason OR
        OLD.manufacturer_id IS DISTINCT FROM NEW.manufacturer_id OR OLD.opened_at IS DISTINCT FROM NEW.opened_at OR
        OLD.brand_selected_at IS DISTINCT FROM NEW.brand_selected_at OR OLD.authorizing_at IS DISTINCT FROM NEW.authorizing_at OR
        OLD.finished_at IS DISTINCT FROM NEW.finished_at OR OLD.created_at IS DISTINCT FROM NEW.created_at OR
        OLD.supplier_id IS DISTINCT FROM NEW.supplier_id OR OLD.kind IS DISTINCT FROM NEW.kind OR
        OLD.language IS DISTINCT FROM NEW.language)
    EXECUTE FUNCTION link_sessions_report();

-- Device changes are counted on the day they happen (a new device on its
-- connected_at day).
-- +goose StatementBegin
CREATE FUNCTION devices_report() RETURNS trigger
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

CREATE TRIGGER devices_report AFTER INSERT OR UPDATE OF status OR DELETE ON devices
    FOR EACH ROW EXECUTE FUNCTION devices_report();

-- +goose Down
DROP TRIGGER devices_report ON devices;
DROP TRIGGER link_sessions_report_update ON link_sessions;
DROP TRIGGER link_sessions_report ON link_sessions;
DROP FUNCTION devices_report(), link_sessions_report(), report_apply(link_sessions, integer, text),
    report_outcome(text, text), report_connect_bucket(double precision);
DROP TABLE report_device_daily, report_connect_times, report_daily, report_settings;
