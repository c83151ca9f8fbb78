-- +goose Up
-- A session still in status created is never in a view cache (its first
-- view opens it, which is a change), so its updates (the first open above
-- all, one per link) announce nothing. A notifying transaction holds
-- Postgres's notify lock through its commit, so every announcement left
-- out is a commit the others do not wait for.
DROP TRIGGER link_session_changed ON link_sessions;
CREATE TRIGGER link_session_changed AFTER UPDATE ON link_sessions
    FOR EACH ROW WHEN (OLD.status <> 'created') EXECUTE FUNCTION link_session_changed();

-- +goose Down
DROP TRIGGER link_session_changed ON link_sessions;
CREATE TRIGGER link_session_changed AFTER UPDATE ON link_sessions
    FOR EACH ROW EXECUTE FUNCTION link_session_changed();
