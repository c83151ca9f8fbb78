-- +goose Up
-- Supplier developers: portal accounts bound to one supplier
-- (supplier_admin may change its integration settings, supplier_viewer only
-- reads them). team_supplier_id is kept apart from supplier_id, which names
-- the supplier of a customer signed in through a dashboard link.
ALTER TABLE portal_users ADD COLUMN team_supplier_id text REFERENCES suppliers(id);
ALTER TABLE portal_users DROP CONSTRAINT portal_users_role_check;
ALTER TABLE portal_users ADD CONSTRAINT portal_users_role_check
    CHECK (role IN ('customer', 'agent', 'manager', 'admin', 'supplier_admin', 'supplier_viewer'));
ALTER TABLE portal_users ADD CONSTRAINT portal_users_team_check
    CHECK ((role IN ('supplier_admin', 'supplier_viewer')) = (team_supplier_id IS NOT NULL));
CREATE INDEX portal_users_team_idx ON portal_users (team_supplier_id) WHERE team_supplier_id IS NOT NULL;

-- One-time invitations to a supplier's team. Only the token's hash is
-- stored; the link is valid until expires_at and can be used once.
CREATE TABLE supplier_invitations (
    token_hash  bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    supplier_id text NOT NULL REFERENCES suppliers(id),
    email       text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    role        text NOT NULL CHECK (role IN ('supplier_admin', 'supplier_viewer')),
    invited_by  bigint REFERENCES portal_users(id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    used_by     bigint REFERENCES portal_users(id)
);
CREATE INDEX supplier_invitations_supplier_idx ON supplier_invitations (supplier_id, created_at DESC);

-- The Nox-Signature header each webhook attempt was sent with, for the
-- delivery log.
ALTER TABLE webhook_attempts ADD COLUMN signature text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE webhook_attempts DROP COLUMN signature;
DROP TABLE supplier_invitations;
DROP INDEX portal_users_team_idx;
ALTER TABLE portal_users DROP CONSTRAINT portal_users_team_check;
ALTER TABLE portal_users DROP CONSTRAINT portal_users_role_check;
ALTER TABLE portal_users ADD CONSTRAINT portal_users_role_check
    CHECK (role IN ('customer', 'agent', 'manager', 'admin'));
ALTER TABLE portal_users DROP COLUMN team_supplier_id;
