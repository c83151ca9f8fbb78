-- +goose Up
-- The time zone customer pages show times in: the one the customer's
-- browser last reported, or one the customer chose in the settings
-- (time_zone_chosen), which then wins over any browser.
ALTER TABLE portal_users
    ADD COLUMN time_zone text NOT NULL DEFAULT '' CHECK (length(time_zone) <= 64),
    ADD COLUMN time_zone_chosen boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE portal_users DROP COLUMN time_zone, DROP COLUMN time_zone_chosen;
