package db

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"noxportal/app"
)

// UpsertSupplier creates or renames a supplier and replaces its allowed
// redirect URIs, in one transaction.
func (s *Store) UpsertSupplier(ctx context.Context, sup app.Supplier) error {
	defer s.catalog.invalidate()
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO suppliers (id, name) VALUES ($1, $2)
			ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, updated_at = now()`,
			sup.ID, sup.Name); err != nil {
			return fmt.Errorf("db: upsert supplier: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `
			DELETE FROM supplier_redirect_uris WHERE supplier_id = $1 AND NOT (uri = ANY($2))`,
			sup.ID, pq.Array(sup.RedirectURIs)); err != nil {
			return fmt.Errorf("db: prune redirect uris: %w", err)
		}
		// The URIs keep the order given (the first occurrence of a repeat).
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO supplier_redirect_uris (supplier_id, uri, position)
			SELECT DISTINCT ON (u) $1, u, n - 1 FROM unnest($2::text[]) WITH ORDINALITY AS x(u, n) ORDER BY u, n
			ON CONFLICT (supplier_id, uri) DO UPDATE SET position = EXCLUDED.position`,
			sup.ID, pq.Array(sup.RedirectURIs)); err != nil {
			return fmt.Errorf("db: insert redirect uris: %w", err)
		}
		return nil
	})
}

// GetSupplier returns a supplier with its allowed redirect URIs, or ENOTFOUND.
func (s *Store) GetSupplier(ctx context.Context, id string) (app.Supplier, error) {
	var row struct {
		app.Supplier
		URIs pq.StringArray `db:"uris"`
	}
	err := sqlx.GetContext(ctx, s.prep, &row, `
		SELECT s.id, s.name, s.created_at,
		       array(SELECT uri FROM supplier_redirect_uris u WHERE u.supplier_id = s.id ORDER BY uri) AS uris
		FROM suppliers s WHERE s.id = $1`, id)
	if err != nil {
		return app.Supplier{}, fmt.Errorf("db: get supplier: %w", notFound(err, "supplier %q not found", id))
	}
	row.Supplier.RedirectURIs = row.URIs
	return row.Supplier, nil
}

// CreateAPIKey issues a new API key for a supplier or a manufacturer (exactly
// one of the two ids is set) and returns its plaintext, which is never stored.
func (s *Store) CreateAPIKey(ctx context.Context, owner app.APIKeyOwner, name string) (string, error) {
	key := app.NewSupplierKey(owner.SupplierID)
	if err := s.InsertAPIKey(ctx, owner, name, key); err != nil {
		return "", err
	}
	return key, nil
}

// InsertAPIKey stores the hash of a given plaintext key (the dev seed uses a
// fixed key); inserting the same key twice is a no-op.
func (s *Store) InsertAPIKey(ctx context.Context, owner app.APIKeyOwner, name, key string) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO api_keys (supplier_id, manufacturer_id, name, prefix, key_hash)
		VALUES (NULLIF($1, ''), NULLIF($2, ''), $3, $4, $5)
		ON CONFLICT (key_hash) DO NOTHING`,
		owner.SupplierID, owner.ManufacturerID, name, app.KeyPrefix(key), app.HashToken(key))
	if err != nil {
		return fmt.Errorf("db: insert api key: %w", err)
	}
	return nil
}

// AuthenticateAPIKeyAndCount finds the active key with this plaintext and
// counts the request in the key's own rate-limit bucket ("api:" and the key
// id): it returns the owner (with its supplier's redirect URIs), whether
// this request is within limit requests per window, and when the window
// ends. An unknown or revoked key is EUNAUTHORIZED and counts nothing.
//
// The request waits for a read, not for a commit: the key is looked up by
// a plain SELECT (the lookups of concurrent requests with one key merged
// into one, each started after its requests arrived, so a revocation
// counts at once), and the request is counted by Allow, which mostly spends
// a block of requests this instance has already reserved (ratelimit.go).
// last_used_at is updated at most once a minute.
func (s *Store) AuthenticateAPIKeyAndCount(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (app.APIKeyOwner, bool, time.Duration, error) {
	type keyRow struct {
		ID             int64          `db:"id"`
		SupplierID     *string        `db:"supplier_id"`
		ManufacturerID *string        `db:"manufacturer_id"`
		URIs           pq.StringArray `db:"uris"`
		Stale          bool           `db:"stale"`
	}
	hash := app.HashToken(key)
	_, val, err := s.counts.add(ctx, "apikey\x00"+string(hash), func(ctx context.Context, _ int) (int, any, error) {
		var row keyRow
		err := sqlx.GetContext(ctx, s.prep, &row, `
			SELECT id, supplier_id, manufacturer_id,
				array(SELECT uri FROM supplier_redirect_uris u WHERE u.supplier_id = k.supplier_id ORDER BY uri) AS uris,
				last_used_at IS NULL OR last_used_at < now() - interval '1 minute' AS stale
			FROM api_keys k
			WHERE key_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`, hash)
		return 0, row, err
	})
	if err != nil {
		if app.IsNotFound(notFound(err, "")) {
			return app.APIKeyOwner{}, false, 0, app.ReasonErrorf(app.EUNAUTHORIZED, "invalid_api_key", "The API key is unknown or revoked.")
		}
		return app.APIKeyOwner{}, false, 0, fmt.Errorf("db: authenticate api key: %w", err)
	}
	row := val.(keyRow)
	if row.Stale {
		// Once a minute a key's requests wait for this update (merged), so
		// last_used_at is set when the answer leaves.
		if _, _, err := s.counts.add(ctx, "apitouch\x00"+strconv.FormatInt(row.ID, 10), func(ctx context.Context, _ int) (int, any, error) {
			_, err := s.db.ExecContext(ctx, `UPDATE api_keys SET last_used_at = now()
				WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`, row.ID)
			return 0, nil, err
		}); err != nil {
			return app.APIKeyOwner{}, false, 0, fmt.Errorf("db: api key last used: %w", err)
		}
	}
	owner := app.APIKeyOwner{KeyID: row.ID, RedirectURIs: row.URIs}
	if row.SupplierID != nil {
		owner.SupplierID = *row.SupplierID
	}
	if row.ManufacturerID != nil {
		owner.ManufacturerID = *row.ManufacturerID
	}
	ok, retry, err := s.Allow(ctx, "api:"+strconv.FormatInt(row.ID, 10), limit, window, now)
	if err != nil {
		return app.APIKeyOwner{}, false, 0, err
	}
	return owner, ok, retry, nil
}

// SyncManufacturers makes the manufacturers table hold every configured
// brand (name and kind follow config; status set by admins is kept).
func (s *Store) SyncManufacturers(ctx context.Context, ms []app.ManufacturerConfig) error {
	defer s.catalog.invalidate()
	for _, m := range ms {
		kind := m.Kind
		if kind == "" {
			kind = "heat_pump"
		}
		if _, err := s.db.ExecContext(ctx, `
			INSERT INTO manufacturers (id, name, kind) VALUES ($1, $2, $3)
			ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind`,
			m.ID, m.Name, kind); err != nil {
			return fmt.Errorf("db: sync manufacturer %s: %w", m.ID, err)
		}
	}
	return nil
}

// ListManufacturers returns the manufacturers with the given ids, by name.
func (s *Store) ListManufacturers(ctx context.Context, ids []string) ([]app.Manufacturer, error) {
	var out []app.Manufacturer
	err := sqlx.SelectContext(ctx, s.prep, &out, `
		SELECT id, name, kind, enabled, status, status_message FROM manufacturers
		WHERE id = ANY($1) ORDER BY name`, pq.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("db: list manufacturers: %w", err)
	}
	return out, nil
}

// BrandPage returns, in one round trip, the name of a supplier and the
// manufacturers with the given ids (by name): what the brand page shows.
// ENOTFOUND when the supplier does not exist.
func (s *Store) BrandPage(ctx context.Context, supplierID string, ids []string) (string, []app.Manufacturer, error) {
	key := catalogKey(supplierID, ids)
	e, ok, gen := s.catalog.get(key)
	if ok {
		return e.supplier, append([]app.Manufacturer(nil), e.brands...), nil
	}
	var rows []struct {
		Supplier      string         `db:"supplier_name"`
		ID            sql.NullString `db:"id"`
		Name          sql.NullString `db:"name"`
		Kind          sql.NullString `db:"kind"`
		Enabled       sql.NullBool   `db:"enabled"`
		Status        sql.NullString `db:"status"`
		StatusMessage sql.NullString `db:"status_message"`
	}
	err := sqlx.SelectContext(ctx, s.prep, &rows, `
		SELECT s.name AS supplier_name, m.id, m.name, m.kind, m.enabled, m.status, m.status_message
		FROM suppliers s LEFT JOIN manufacturers m ON m.id = ANY($2)
		WHERE s.id = $1 ORDER BY m.name`, supplierID, pq.Array(ids))
	if err != nil {
		return "", nil, fmt.Errorf("db: brand page: %w", err)
	}
	if len(rows) == 0 {
		return "", nil, app.Errorf(app.ENOTFOUND, "supplier %q not found", supplierID)
	}
	var ms []app.Manufacturer
	for _, r := range rows {
		if r.ID.Valid {
			ms = append(ms, app.Manufacturer{ID: r.ID.String, Name: r.Name.String, Kind: r.Kind.String,
				Enabled: r.Enabled.Bool, Status: r.Status.String, StatusMessage: r.StatusMessage.String})
		}
	}
	s.catalog.put(key, gen, catalogEntry{at: time.Now(), supplier: rows[0].Supplier, brands: append([]app.Manufacturer(nil), ms...)})
	return rows[0].Supplier, ms, nil
}

// GetManufacturer returns one manufacturer or ENOTFOUND.
func (s *Store) GetManufacturer(ctx context.Context, id string) (app.Manufacturer, error) {
	var m app.Manufacturer
	err := sqlx.GetContext(ctx, s.prep, &m, `
		SELECT id, name, kind, enabled, status, status_message FROM manufacturers WHERE id = $1`, id)
	if err != nil {
		return m, fmt.Errorf("db: get manufacturer: %w", notFound(err, "manufacturer %q not found", id))
	}
	return m, nil
}
