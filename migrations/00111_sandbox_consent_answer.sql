-- +goose Up
-- The redirect a sandbox consent answered with (encrypted), so a second
-- submit of the same consent (a double click) gets the same answer.
ALTER TABLE sandbox_authorizations ADD COLUMN answer_enc bytea;

-- +goose Down
ALTER TABLE sandbox_authorizations DROP COLUMN answer_enc;
