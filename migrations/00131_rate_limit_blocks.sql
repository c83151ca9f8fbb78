-- +goose Up
-- A rate-limit counter now counts the requests that instances have reserved
-- in blocks (db/ratelimit.go), never more than the limit. granted is the
-- size of the block the latest reservation took: the reservation's UPDATE
-- sets it from the old count, and RETURNING reads it (RETURNING sees only
-- the new row).
ALTER TABLE rate_limits ADD COLUMN granted integer NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE rate_limits DROP COLUMN granted;
