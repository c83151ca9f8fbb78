-- One link session row as POST /users/{id}/link writes it (prepared, one
-- statement, one commit). Rows are marked with the pgb_ id prefix and
-- deleted after the run.
INSERT INTO link_sessions (id, token_hash, kind, supplier_id, supplier_user_id, redirect_uri,
    language, initiator, manufacturer_id, brand_preselected, expires_at)
VALUES ('pgb_' || gen_random_uuid(), sha256(uuid_send(gen_random_uuid())), 'supplier_link', 'supplier_demo',
    'pgbench-' || :client_id, 'http://localhost:3000/callback', 'nl', 'api', NULL, false,
    now() + interval '15 minutes');
