package dbtest

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"noxportal/app"
	"noxportal/db"
)

// What tests read or set that the product does not: timelines, audit and
// device events, decrypted tokens, mail in the outbox, query plans, and a
// few direct changes (a revoked key, a brand's status).

// notFound is ENOTFOUND for sql.ErrNoRows, err otherwise.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return app.Errorf(app.ENOTFOUND, format, args...)
	}
	return err
}

// AuditEntries returns the newest audit entries (at most limit) about one
// object, or about every object when objectType is "".
func AuditEntries(ctx context.Context, s *db.Store, objectType, objectID string, limit int) ([]app.AuditEntry, error) {
	var rows []struct {
		app.AuditEntry
		BeforeJSON *string `db:"before"`
		AfterJSON  *string `db:"after"`
	}
	err := s.DB().SelectContext(ctx, &rows, `
		SELECT id, actor_id, action, object_type, object_id, before::text AS before, after::text AS after, ip, created_at
		FROM audit_log WHERE ($1 = '' OR (object_type = $1 AND object_id = $2))
		ORDER BY id DESC LIMIT $3`, objectType, objectID, limit)
	if err != nil {
		return nil, fmt.Errorf("db: audit entries: %w", err)
	}
	out := make([]app.AuditEntry, len(rows))
	for i, r := range rows {
		out[i] = r.AuditEntry
		if r.BeforeJSON != nil {
			out[i].Before = json.RawMessage(*r.BeforeJSON)
		}
		if r.AfterJSON != nil {
			out[i].After = json.RawMessage(*r.AfterJSON)
		}
	}
	return out, nil
}

// DeviceEvents returns a device's events, oldest first.
func DeviceEvents(ctx context.Context, s *db.Store, deviceID int64) ([]app.DeviceEvent, error) {
	var out []app.DeviceEvent
	if err := s.DB().SelectContext(ctx, &out, `SELECT id, device_id, type, detail, created_at FROM device_events
		WHERE device_id = $1 ORDER BY id`, deviceID); err != nil {
		return nil, fmt.Errorf("db: device events: %w", err)
	}
	return out, nil
}

// ExplainSearch returns Postgres' plan (EXPLAIN ANALYZE) of the search the
// console runs for f.
func ExplainSearch(ctx context.Context, s *db.Store, f app.MappingFilter, limit int) (string, error) {
	sups, err := s.MatchingSuppliers(ctx, f.Q)
	if err != nil {
		return "", err
	}
	q, args := db.SearchMappingsSQL(f, sups, nil, limit)
	var lines []string
	if err := s.DB().SelectContext(ctx, &lines, "EXPLAIN (ANALYZE, COSTS OFF) "+q, args...); err != nil {
		return "", fmt.Errorf("db: explain search: %w", err)
	}
	return strings.Join(lines, "\n"), nil
}

// ManufacturerTokens returns the decrypted tokens of a nox user's grant.
func ManufacturerTokens(ctx context.Context, s *db.Store, noxUserID, manufacturerID string) (app.OAuthTokens, error) {
	var row struct {
		Access  []byte     `db:"access_token_enc"`
		Refresh []byte     `db:"refresh_token_enc"`
		Expiry  *time.Time `db:"token_expires_at"`
	}
	err := s.DB().GetContext(ctx, &row, `
		SELECT access_token_enc, refresh_token_enc, token_expires_at FROM manufacturer_grants
		WHERE nox_user_id = $1 AND manufacturer_id = $2`, noxUserID, manufacturerID)
	if err != nil {
		return app.OAuthTokens{}, fmt.Errorf("db: grant: %w", notFound(err, "no grant"))
	}
	aad := []byte("grant:" + noxUserID + ":" + manufacturerID)
	var t app.OAuthTokens
	a, err := s.Cipher().Open(row.Access, aad)
	if err != nil {
		return t, fmt.Errorf("db: decrypt access token: %w", err)
	}
	t.AccessToken = string(a)
	if row.Refresh != nil {
		r, err := s.Cipher().Open(row.Refresh, aad)
		if err != nil {
			return t, fmt.Errorf("db: decrypt refresh token: %w", err)
		}
		t.RefreshToken = string(r)
	}
	if row.Expiry != nil {
		t.Expiry = *row.Expiry
	}
	return t, nil
}

// OutboxEmails returns the newest queued emails with ref (a session id).
func OutboxEmails(ctx context.Context, s *db.Store, ref string) ([]app.Email, error) {
	out := []app.Email{}
	if err := s.DB().SelectContext(ctx, &out, `
		SELECT id, to_address, subject, body, kind, ref, attempts, created_at FROM email_outbox
		WHERE ref = $1 ORDER BY id DESC LIMIT 20`, ref); err != nil {
		return nil, fmt.Errorf("db: outbox emails: %w", err)
	}
	return out, nil
}

// RevokeAPIKey revokes a key of the given supplier; ENOTFOUND if it has no such key.
func RevokeAPIKey(ctx context.Context, s *db.Store, supplierID string, keyID int64) error {
	res, err := s.DB().ExecContext(ctx, `
		UPDATE api_keys SET revoked_at = now()
		WHERE id = $1 AND supplier_id = $2 AND revoked_at IS NULL`, keyID, supplierID)
	if err != nil {
		return fmt.Errorf("db: revoke api key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return app.Errorf(app.ENOTFOUND, "api key not found")
	}
	return nil
}

// SessionEvents returns a session's timeline, oldest first. Its events are
// written at or after its creation: bounding them by it (with a day's
// margin) reads only the months from the session's on.
func SessionEvents(ctx context.Context, s *db.Store, sessionID string) ([]app.LinkEvent, error) {
	var out []app.LinkEvent
	err := s.DB().SelectContext(ctx, &out, `
		SELECT id, session_id, type, detail, created_at FROM link_events
		WHERE session_id = $1 AND created_at >= (SELECT created_at - interval '1 day' FROM link_sessions WHERE id = $1)
		ORDER BY id`, sessionID)
	if err != nil {
		return nil, fmt.Errorf("db: session events: %w", err)
	}
	return out, nil
}

// SetManufacturerStatus sets a brand's availability as users see it.
func SetManufacturerStatus(ctx context.Context, s *db.Store, id string, enabled bool, status, message string) error {
	defer s.CatalogChanged()
	res, err := s.DB().ExecContext(ctx, `
		UPDATE manufacturers SET enabled = $2, status = $3, status_message = $4, updated_at = now()
		WHERE id = $1`, id, enabled, status, message)
	if err != nil {
		return fmt.Errorf("db: set manufacturer status: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return app.Errorf(app.ENOTFOUND, "manufacturer %q not found", id)
	}
	return nil
}

// SupplierRedirectURI returns the supplier's first allowed redirect URI
// (the oldest; ties by URI), used for links support creates.
func SupplierRedirectURI(ctx context.Context, s *db.Store, supplierID string) (string, error) {
	var uri string
	err := s.DB().GetContext(ctx, &uri, `
		SELECT uri FROM supplier_redirect_uris WHERE supplier_id = $1 ORDER BY position, uri LIMIT 1`, supplierID)
	if err != nil {
		return "", fmt.Errorf("db: supplier redirect uri: %w", notFound(err, "supplier %q has no redirect URI", supplierID))
	}
	return uri, nil
}
