-- +goose Up
-- Every change of a link session row is announced on the channel
-- link_session_changed with the hex of its token hash (as it was before the
-- change), when the changing transaction commits. Each server instance
-- listens and drops its cached view of that session (db/session_view_cache.go),
-- so a repeat view of a hosted page can skip the database read while the
-- session is unchanged. A move into history (db.Store.MoveFinishedSessions)
-- is a DELETE and an INSERT, not an UPDATE, and changes nothing a page shows:
-- it announces nothing.
-- +goose StatementBegin
CREATE FUNCTION link_session_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('link_session_changed', encode(OLD.token_hash, 'hex'));
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER link_session_changed AFTER UPDATE ON link_sessions
    FOR EACH ROW EXECUTE FUNCTION link_session_changed();

-- +goose Down
DROP TRIGGER link_session_changed ON link_sessions;
DROP FUNCTION link_session_changed();
