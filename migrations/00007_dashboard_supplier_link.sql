-- +goose Up
-- A customer can link an energy supplier from the dashboard (flow 2 started
-- by the customer): such a session has no manufacturer; it links the
-- customer's own nox user and belongs to their portal account.
ALTER TABLE link_sessions
    DROP CONSTRAINT link_sessions_check3,
    ADD CONSTRAINT link_sessions_supplier_select_party CHECK (kind <> 'supplier_select'
        OR (manufacturer_id IS NOT NULL AND manufacturer_user_id <> '')
        OR (initiator = 'customer' AND manufacturer_id IS NULL AND manufacturer_user_id = ''
            AND nox_user_id IS NOT NULL AND portal_user_id IS NOT NULL));

-- +goose Down
ALTER TABLE link_sessions
    DROP CONSTRAINT link_sessions_supplier_select_party,
    ADD CONSTRAINT link_sessions_check3 CHECK (kind <> 'supplier_select'
        OR (manufacturer_id IS NOT NULL AND manufacturer_user_id <> ''));
