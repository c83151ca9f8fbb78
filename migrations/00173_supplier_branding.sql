-- +goose Up
-- A supplier's co-branding on its hosted pages: an accent colour and a logo
-- (PNG or JPEG, checked by its bytes, at most 48 KB). version changes with
-- every save so the asset URLs can be cached.
CREATE TABLE supplier_branding (
    supplier_id text PRIMARY KEY REFERENCES suppliers(id) ON DELETE CASCADE,
    accent      text NOT NULL DEFAULT '' CHECK (accent = '' OR accent ~ '^#[0-9a-f]{6}$'),
    logo        bytea CHECK (logo IS NULL OR length(logo) <= 49152),
    logo_type   text NOT NULL DEFAULT '' CHECK (logo_type IN ('', 'image/png', 'image/jpeg')),
    version     integer NOT NULL DEFAULT 1,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((logo IS NULL) = (logo_type = ''))
);

-- +goose Down
DROP TABLE supplier_branding;
