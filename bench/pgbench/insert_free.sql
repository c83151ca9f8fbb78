-- The POST /link ceiling: one link session row and its "created" event as
-- the request writes them (prepared, one statement, one commit), into
-- trigger-free copies of link_sessions and link_events, partitioned as they
-- are (bench/pgbench/setup.sql makes them).
WITH s AS (
    INSERT INTO bench_free_sessions (id, token_hash, kind, supplier_id, supplier_user_id, redirect_uri,
        language, initiator, manufacturer_id, brand_preselected, expires_at)
    VALUES ('pgb_' || gen_random_uuid(), sha256(uuid_send(gen_random_uuid())), 'supplier_link', 'supplier_demo',
        'pgbench-' || :client_id, 'http://localhost:3000/callback', 'nl', 'api', NULL, false,
        now() + interval '15 minutes')
    RETURNING id, initiator)
INSERT INTO bench_free_events (session_id, type, detail) SELECT id, 'created', initiator FROM s;
