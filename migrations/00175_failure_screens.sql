-- +goose Up
-- The failure screen of the hosted flow: a failed sign-in the user can fix
-- (denied, no devices, manufacturer error) waits on a NOX screen with "try
-- again" before the session ends. failure_screens is the supplier's option
-- per link session (default on); held_reason is the failure waiting on the
-- screen (NULL: none). Both are metadata-only additions (no rewrite).
ALTER TABLE link_sessions
    ADD COLUMN failure_screens boolean NOT NULL DEFAULT true,
    ADD COLUMN held_reason text;

-- +goose Down
ALTER TABLE link_sessions DROP COLUMN held_reason, DROP COLUMN failure_screens;
