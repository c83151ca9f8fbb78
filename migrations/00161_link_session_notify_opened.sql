-- +goose Up
-- A session still in status created is never in a view cache (its first
-- view opens it, which is a change), so its updates (the first open above
-- all, one per link) announce nothing. A notifying transaction holds
-- Postgres's notify lock through its commit, so every announcement left
-- out is a commit the others do not wait for. Only the function changes:
-- replacing it takes no lock on link_sessions, so instances serving
-- during the migration do not deadlock with it (replacing the trigger
-- did).
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION link_session_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status <> 'created' THEN
        PERFORM pg_notify('link_session_changed', encode(OLD.token_hash, 'hex'));
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION link_session_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('link_session_changed', encode(OLD.token_hash, 'hex'));
    RETURN NULL;
END $$;
-- +goose StatementEnd
