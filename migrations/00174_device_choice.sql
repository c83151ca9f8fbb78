-- +goose Up
-- A manufacturer account with several devices: between the callback and the
-- user's choice the exchanged tokens and the device list wait here,
-- encrypted together (as tokens are at rest), found by the hash of a
-- one-time choice token. The row goes when the session ends (deleted in the
-- same transaction; no foreign key: link_sessions is partitioned and its key
-- names the partition).
CREATE TABLE link_device_choices (
    session_id  text PRIMARY KEY,
    choice_hash bytea NOT NULL UNIQUE CHECK (length(choice_hash) = 32),
    payload_enc bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE link_device_choices;
