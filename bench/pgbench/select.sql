-- Read one link session by its unique token hash, the columns the app reads
-- (prepared), from the open partition where the hosted flow looks first.
-- bench/pgbench/setup.sql creates the :ntokens sessions it looks up.
\set n random(1, :ntokens)
SELECT id, kind, coalesce(supplier_id, '') AS supplier_id, supplier_user_id, redirect_uri, language, initiator,
    status, failure_reason, manufacturer_id, brand_preselected, nox_user_id, created_at,
    opened_at, brand_selected_at, authorizing_at, callback_at, finished_at, expires_at
FROM link_sessions_open WHERE token_hash = sha256(convert_to('pgb-token-' || :n, 'UTF8'));
