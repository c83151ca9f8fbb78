-- +goose Up
-- A supplier's redirect URIs keep the order they were given in (the first is
-- the one support's relinks use) in a position of their own, instead of
-- created_at stamps spaced a millisecond apart. Every insert names it.
ALTER TABLE supplier_redirect_uris ADD COLUMN position integer NOT NULL DEFAULT 0;
UPDATE supplier_redirect_uris u SET position = o.n
FROM (SELECT supplier_id, uri, row_number() OVER (PARTITION BY supplier_id ORDER BY created_at, uri) - 1 AS n
      FROM supplier_redirect_uris) o
WHERE o.supplier_id = u.supplier_id AND o.uri = u.uri;

-- +goose Down
ALTER TABLE supplier_redirect_uris DROP COLUMN position;
