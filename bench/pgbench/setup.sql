-- What the ceilings read and write, made by bench/run.sh and bench/cluster.sh
-- (psql -v ntokens=N -f bench/pgbench/setup.sql).
--
-- The POST /link ceiling (insert_free.sql) writes one session and its
-- "created" event into trigger-free copies of link_sessions and link_events
-- of the same shape the product writes: partitioned the same way (a new
-- session goes to the open partition, its event to the current month), the
-- same columns, defaults, checks and indexes (the open partition's own
-- index too), and the one foreign key such an insert checks (the session's
-- supplier; events no longer reference sessions), but no triggers: no
-- report work on the write path.
DROP TABLE IF EXISTS bench_free_events, bench_free_sessions;
CREATE TABLE bench_free_sessions (LIKE link_sessions INCLUDING ALL) PARTITION BY RANGE (history_month);
CREATE TABLE bench_free_sessions_open PARTITION OF bench_free_sessions FOR VALUES FROM ('infinity') TO (MAXVALUE);
CREATE TABLE bench_free_sessions_default PARTITION OF bench_free_sessions DEFAULT;
CREATE INDEX ON bench_free_sessions_open (finished_at) WHERE finished_at IS NOT NULL;
ALTER TABLE bench_free_sessions ADD FOREIGN KEY (supplier_id) REFERENCES suppliers (id);
CREATE TABLE bench_free_events (LIKE link_events INCLUDING ALL) PARTITION BY RANGE (created_at);
SELECT format('CREATE TABLE bench_free_events_month PARTITION OF bench_free_events FOR VALUES FROM (%L) TO (%L)',
    date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
    (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC') \gexec
CREATE TABLE bench_free_events_default PARTITION OF bench_free_events DEFAULT;

-- Known tokens for the SELECT ceiling (select.sql): unfinished sessions,
-- which the product reads from the open partition.
INSERT INTO link_sessions (id, token_hash, kind, supplier_id, supplier_user_id, redirect_uri, language, initiator, expires_at)
SELECT 'pgt_' || n, sha256(convert_to('pgb-token-' || n, 'UTF8')), 'supplier_link', 'supplier_demo', 'pgbench-' || n,
    'http://localhost:3000/callback', 'nl', 'api', now() + interval '1 day'
FROM generate_series(1, :ntokens) n ON CONFLICT DO NOTHING;
ANALYZE link_sessions;
