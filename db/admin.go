package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"noxportal/app"
)

// ListSuppliers returns every supplier with its settings and counts, by name.
func (s *Store) ListSuppliers(ctx context.Context) ([]app.SupplierSettings, error) {
	var rows []struct {
		app.SupplierSettings
		URIs pq.StringArray `db:"uris"`
	}
	if err := s.db.SelectContext(ctx, &rows, `
		SELECT s.id, s.name, s.created_at, coalesce(w.url, '') AS webhook_url,
		       coalesce(s.login_authorize_url, '') AS login_authorize_url, coalesce(s.login_client_id, '') AS login_client_id,
		       array(SELECT uri FROM supplier_redirect_uris u WHERE u.supplier_id = s.id ORDER BY u.position, u.uri) AS uris,
		       (SELECT count(*) FROM supplier_mappings m WHERE m.supplier_id = s.id) AS mappings,
		       (SELECT count(*) FROM api_keys k WHERE k.supplier_id = s.id AND k.revoked_at IS NULL
		          AND (k.expires_at IS NULL OR k.expires_at > now())) AS active_keys
		FROM suppliers s LEFT JOIN webhook_endpoints w ON w.supplier_id = s.id WHERE s.test_of IS NULL ORDER BY s.name, s.id`); err != nil {
		return nil, fmt.Errorf("db: list suppliers: %w", err)
	}
	out := make([]app.SupplierSettings, len(rows))
	for i, r := range rows {
		out[i] = r.SupplierSettings
		out[i].RedirectURIs = r.URIs
	}
	return out, nil
}

// SupplierNames returns every supplier's id and name, by name: the cheap
// list for filters (ListSuppliers counts mappings, which is slow at scale).
func (s *Store) SupplierNames(ctx context.Context) ([]app.Supplier, error) {
	var out []app.Supplier
	if err := s.db.SelectContext(ctx, &out, `SELECT id, name, created_at FROM suppliers WHERE test_of IS NULL ORDER BY name, id`); err != nil {
		return nil, fmt.Errorf("db: supplier names: %w", err)
	}
	return out, nil
}

// GetSupplierSettings returns one supplier with its settings, or ENOTFOUND.
func (s *Store) GetSupplierSettings(ctx context.Context, id string) (app.SupplierSettings, error) {
	var row struct {
		app.SupplierSettings
		URIs pq.StringArray `db:"uris"`
	}
	err := s.db.GetContext(ctx, &row, `
		SELECT s.id, s.name, s.created_at, coalesce(w.url, '') AS webhook_url,
		       coalesce(s.login_authorize_url, '') AS login_authorize_url, coalesce(s.login_client_id, '') AS login_client_id,
		       array(SELECT uri FROM supplier_redirect_uris u WHERE u.supplier_id = s.id ORDER BY u.position, u.uri) AS uris,
		       0 AS mappings, 0 AS active_keys
		FROM suppliers s LEFT JOIN webhook_endpoints w ON w.supplier_id = s.id WHERE s.id = $1`, id)
	if err != nil {
		return app.SupplierSettings{}, fmt.Errorf("db: supplier settings: %w", notFound(err, "supplier %q not found", id))
	}
	row.SupplierSettings.RedirectURIs = row.URIs
	return row.SupplierSettings, nil
}

// SaveSupplier creates (create=true; ECONFLICT when the id exists) or
// updates (ENOTFOUND when missing) a supplier with its redirect URIs, flow-2
// login page and webhook endpoint, and writes the audit entry with
// before/after, in one transaction. A new webhook endpoint gets a signing
// secret, which is returned (shown once); otherwise the secret is "".
func (s *Store) SaveSupplier(ctx context.Context, sup app.SupplierSettings, create bool, e app.AuditEntry) (string, error) {
	defer s.catalog.invalidate()
	if err := sup.Validate(); err != nil {
		return "", err
	}
	var secret string
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var before *app.SupplierSettings
		if !create {
			var cur app.SupplierSettings
			var uris pq.StringArray
			row := tx.QueryRowxContext(ctx, `
				SELECT s.id, s.name, coalesce((SELECT url FROM webhook_endpoints w WHERE w.supplier_id = s.id), ''),
				       coalesce(s.login_authorize_url, ''), coalesce(s.login_client_id, ''),
				       array(SELECT uri FROM supplier_redirect_uris u WHERE u.supplier_id = s.id ORDER BY u.position, u.uri), s.created_at
				FROM suppliers s WHERE s.id = $1 FOR UPDATE`, sup.ID)
			if err := row.Scan(&cur.ID, &cur.Name, &cur.WebhookURL, &cur.OAuthLoginURL, &cur.OAuthClientID, &uris, &cur.CreatedAt); err != nil {
				return fmt.Errorf("db: save supplier: %w", notFound(err, "supplier %q not found", sup.ID))
			}
			cur.RedirectURIs = uris
			before = &cur
			sup.CreatedAt = cur.CreatedAt
			if _, err := tx.ExecContext(ctx, `
				UPDATE suppliers SET name = $2, login_authorize_url = NULLIF($3, ''), login_client_id = NULLIF($4, ''), updated_at = now()
				WHERE id = $1`, sup.ID, sup.Name, sup.OAuthLoginURL, sup.OAuthClientID); err != nil {
				return fmt.Errorf("db: update supplier: %w", err)
			}
		} else {
			err := tx.GetContext(ctx, &sup.CreatedAt, `
				INSERT INTO suppliers (id, name, login_authorize_url, login_client_id) VALUES ($1, $2, NULLIF($3, ''), NULLIF($4, ''))
				ON CONFLICT (id) DO NOTHING RETURNING created_at`, sup.ID, sup.Name, sup.OAuthLoginURL, sup.OAuthClientID)
			if errors.Is(err, sql.ErrNoRows) {
				return app.Errorf(app.ECONFLICT, "A supplier with id %q already exists.", sup.ID)
			} else if err != nil {
				return fmt.Errorf("db: create supplier: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM supplier_redirect_uris WHERE supplier_id = $1 AND NOT (uri = ANY($2))`,
			sup.ID, pq.Array(sup.RedirectURIs)); err != nil {
			return fmt.Errorf("db: prune redirect uris: %w", err)
		}
		for i, u := range sup.RedirectURIs {
			// position keeps the admin's order: the first URI is the one support links use.
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO supplier_redirect_uris (supplier_id, uri, position) VALUES ($1, $2, $3)
				ON CONFLICT (supplier_id, uri) DO UPDATE SET position = EXCLUDED.position`,
				sup.ID, u, i); err != nil {
				return fmt.Errorf("db: insert redirect uri: %w", err)
			}
		}
		var err error
		if secret, err = setSupplierWebhook(ctx, tx, s.cipher, sup.ID, sup.WebhookURL); err != nil {
			return err
		}
		e.ObjectType, e.ObjectID = "supplier", sup.ID
		e.Action = "supplier.update"
		if create {
			e.Action = "supplier.create"
		} else {
			e.Before = before
		}
		after := sup
		e.After = after
		return writeAudit(ctx, tx, e)
	})
	return secret, err
}

// setSupplierWebhook sets (url "" removes) a supplier's webhook endpoint in
// tx, like SetWebhookEndpoint; a new endpoint's signing secret is returned.
func setSupplierWebhook(ctx context.Context, tx *sqlx.Tx, cipher *app.Cipher, supplierID, url string) (string, error) {
	if url == "" {
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE supplier_id = $1`, supplierID); err != nil {
			return "", fmt.Errorf("db: remove webhook endpoint: %w", err)
		}
		return "", nil
	}
	owner := app.SupplierParty(supplierID)
	secret := app.NewWebhookSecret()
	var created bool
	if err := tx.GetContext(ctx, &created, `
		INSERT INTO webhook_endpoints (supplier_id, url, secret_enc) VALUES ($1, $2, $3)
		ON CONFLICT (supplier_id) DO UPDATE SET url = EXCLUDED.url, updated_at = now()
		RETURNING (xmax = 0)`, supplierID, url, cipher.Seal([]byte(secret), secretAAD(owner))); err != nil {
		return "", fmt.Errorf("db: set webhook endpoint: %w", err)
	}
	if created {
		return secret, nil
	}
	return "", nil
}

// SupplierAPIKeys returns a supplier's keys, newest first.
func (s *Store) SupplierAPIKeys(ctx context.Context, supplierID string) ([]app.APIKey, error) {
	out := []app.APIKey{}
	if err := s.db.SelectContext(ctx, &out, `
		SELECT id, supplier_id, name, prefix, created_at, last_used_at, expires_at, revoked_at, replaces_id
		FROM api_keys WHERE supplier_id = $1 ORDER BY id DESC`, supplierID); err != nil {
		return nil, fmt.Errorf("db: supplier api keys: %w", err)
	}
	return out, nil
}

// IssueAPIKey creates a supplier key and writes the audit entry (which
// holds the prefix, never the key) in one transaction; it returns the key,
// which is shown once and never stored.
func (s *Store) IssueAPIKey(ctx context.Context, supplierID, name string, e app.AuditEntry) (app.APIKey, string, error) {
	var k app.APIKey
	key := app.NewSupplierKey(supplierID)
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		k, err = insertKey(ctx, tx, supplierID, name, key, nil)
		if err != nil {
			return err
		}
		e.Action, e.ObjectType, e.ObjectID = "api_key.create", "api_key", strconv.FormatInt(k.ID, 10)
		e.After = map[string]any{"supplier_id": supplierID, "name": name, "prefix": k.Prefix}
		return writeAudit(ctx, tx, e)
	})
	return k, key, err
}

func insertKey(ctx context.Context, tx *sqlx.Tx, supplierID, name, key string, replaces *int64) (app.APIKey, error) {
	var k app.APIKey
	err := tx.GetContext(ctx, &k, `
		INSERT INTO api_keys (supplier_id, name, prefix, key_hash, replaces_id) VALUES ($1, $2, $3, $4, $5)
		RETURNING id, supplier_id, name, prefix, created_at, last_used_at, expires_at, revoked_at, replaces_id`,
		supplierID, name, app.KeyPrefix(key), app.HashToken(key), replaces)
	if err != nil {
		if isForeignKeyViolation(err) {
			return k, app.Errorf(app.ENOTFOUND, "supplier %q not found", supplierID)
		}
		return k, fmt.Errorf("db: insert api key: %w", err)
	}
	return k, nil
}

// RevokeSupplierKey revokes an active key of a supplier with an audit entry;
// ENOTFOUND when the supplier has no such active key.
func (s *Store) RevokeSupplierKey(ctx context.Context, supplierID string, keyID int64, e app.AuditEntry) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		var prefix string
		err := tx.GetContext(ctx, &prefix, `
			UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND supplier_id = $2 AND revoked_at IS NULL RETURNING prefix`,
			keyID, supplierID)
		if err != nil {
			return fmt.Errorf("db: revoke key: %w", notFound(err, "api key not found"))
		}
		e.Action, e.ObjectType, e.ObjectID = "api_key.revoke", "api_key", strconv.FormatInt(keyID, 10)
		e.Before = map[string]any{"supplier_id": supplierID, "prefix": prefix, "revoked": false}
		e.After = map[string]any{"supplier_id": supplierID, "prefix": prefix, "revoked": true}
		return writeAudit(ctx, tx, e)
	})
}

// RotateSupplierKey issues a new key replacing keyID; the old key keeps
// working for overlap and then expires. ENOTFOUND when the supplier has no
// such active key. It returns the new key (shown once).
func (s *Store) RotateSupplierKey(ctx context.Context, supplierID string, keyID int64, overlap time.Duration, e app.AuditEntry) (app.APIKey, string, error) {
	var k app.APIKey
	key := app.NewSupplierKey(supplierID)
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var old struct {
			Name   string `db:"name"`
			Prefix string `db:"prefix"`
		}
		err := tx.GetContext(ctx, &old, `
			UPDATE api_keys SET expires_at = least(coalesce(expires_at, 'infinity'), now() + make_interval(secs => $3))
			WHERE id = $1 AND supplier_id = $2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
			RETURNING name, prefix`, keyID, supplierID, overlap.Seconds())
		if err != nil {
			return fmt.Errorf("db: rotate key: %w", notFound(err, "api key not found"))
		}
		if k, err = insertKey(ctx, tx, supplierID, app.RotatedKeyName(old.Name, old.Prefix), key, &keyID); err != nil {
			return err
		}
		e.Action, e.ObjectType, e.ObjectID = "api_key.rotate", "api_key", strconv.FormatInt(keyID, 10)
		e.Before = map[string]any{"prefix": old.Prefix}
		e.After = map[string]any{"prefix": k.Prefix, "new_key_id": k.ID, "old_key_expires_in": overlap.String()}
		return writeAudit(ctx, tx, e)
	})
	return k, key, err
}

// AllManufacturers returns every manufacturer, by name.
func (s *Store) AllManufacturers(ctx context.Context) ([]app.Manufacturer, error) {
	out := []app.Manufacturer{}
	if err := s.db.SelectContext(ctx, &out, `
		SELECT id, name, kind, enabled, status, status_message FROM manufacturers ORDER BY name`); err != nil {
		return nil, fmt.Errorf("db: all manufacturers: %w", err)
	}
	return out, nil
}

// UpdateManufacturer sets a brand's availability with an audit entry
// holding before and after; ENOTFOUND for an unknown brand, EINVALID for an
// unknown status.
func (s *Store) UpdateManufacturer(ctx context.Context, m app.Manufacturer, e app.AuditEntry) error {
	defer s.catalog.invalidate()
	switch m.Status {
	case app.ManufacturerOK, app.ManufacturerDegraded, app.ManufacturerDown:
	default:
		return app.Errorf(app.EINVALID, "unknown status %q", m.Status)
	}
	if !utf8.ValidString(m.StatusMessage) || utf8.RuneCountInString(m.StatusMessage) > 500 {
		return app.Errorf(app.EINVALID, "The message must be at most 500 characters.")
	}
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		var before app.Manufacturer
		if err := tx.GetContext(ctx, &before, `
			SELECT id, name, kind, enabled, status, status_message FROM manufacturers WHERE id = $1 FOR UPDATE`, m.ID); err != nil {
			return fmt.Errorf("db: update manufacturer: %w", notFound(err, "manufacturer %q not found", m.ID))
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE manufacturers SET enabled = $2, status = $3, status_message = $4, updated_at = now() WHERE id = $1`,
			m.ID, m.Enabled, m.Status, m.StatusMessage); err != nil {
			return fmt.Errorf("db: update manufacturer: %w", err)
		}
		after := before
		after.Enabled, after.Status, after.StatusMessage = m.Enabled, m.Status, m.StatusMessage
		e.Action, e.ObjectType, e.ObjectID = "manufacturer.update", "manufacturer", m.ID
		e.Before, e.After = before, after
		return writeAudit(ctx, tx, e)
	})
}

// SearchAudit returns up to limit audit entries matching f, newest first.
func (s *Store) SearchAudit(ctx context.Context, f app.AuditFilter, limit int) ([]app.AuditRow, error) {
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	w := []string{"TRUE"}
	if f.Action != "" {
		w = append(w, "a.action LIKE "+arg(app.EscapeLike(f.Action)+"%"))
	}
	if f.ObjectType != "" {
		w = append(w, "a.object_type = "+arg(f.ObjectType))
	}
	if f.ActorEmail != "" {
		w = append(w, "lower(p.email) = lower("+arg(f.ActorEmail)+")")
	}
	if !f.Since.IsZero() {
		w = append(w, "a.created_at >= "+arg(f.Since))
	}
	if f.BeforeID > 0 {
		w = append(w, "a.id < "+arg(f.BeforeID))
	}
	out := []app.AuditRow{}
	if err := s.db.SelectContext(ctx, &out, `
		SELECT a.id, a.actor_id, a.action, a.object_type, a.object_id, a.ip, a.created_at,
		       coalesce(p.email, '') AS actor_email, coalesce(a.before::text, '') AS before_json, coalesce(a.after::text, '') AS after_json
		FROM audit_log a LEFT JOIN portal_users p ON p.id = a.actor_id
		WHERE `+strings.Join(w, " AND ")+` ORDER BY a.id DESC LIMIT `+arg(limit), args...); err != nil {
		return nil, fmt.Errorf("db: search audit: %w", err)
	}
	return out, nil
}

const bulkTargets = `
	FROM devices d JOIN supplier_mappings m ON m.nox_user_id = d.nox_user_id
	WHERE d.status = 'relink_required' AND d.manufacturer_id = $1 AND ($2 = '' OR m.supplier_id = $2)`

// CountBulkRelink counts the devices (per supplier user) a bulk relink with
// f would relink.
func (s *Store) CountBulkRelink(ctx context.Context, f app.BulkRelinkFilter) (int, error) {
	var n int
	if err := s.db.GetContext(ctx, &n, `SELECT count(*) `+bulkTargets, f.Brand, f.SupplierID); err != nil {
		return 0, fmt.Errorf("db: count bulk relink: %w", err)
	}
	return n, nil
}

// StartBulkRelink records a bulk relink of every device matching f, with
// its items, the audit entry and the job (app.JobBulkRelink) that calls
// ProcessBulkRelink until it is done.
func (s *Store) StartBulkRelink(ctx context.Context, f app.BulkRelinkFilter, e app.AuditEntry) (app.BulkRelink, error) {
	var b app.BulkRelink
	f.Status = app.DeviceRelinkRequired
	filter, err := json.Marshal(f)
	if err != nil {
		return b, fmt.Errorf("db: bulk filter: %w", err)
	}
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := tx.GetContext(ctx, &b, `
			INSERT INTO bulk_relinks (actor_id, filter, total) VALUES ($1, $2, 0)
			RETURNING id, actor_id, filter::text AS filter, total, done, failed, created_at, finished_at`, e.ActorID, string(filter)); err != nil {
			return fmt.Errorf("db: start bulk relink: %w", err)
		}
		res, err := tx.ExecContext(ctx, `
			INSERT INTO bulk_relink_items (bulk_id, device_id, supplier_id, supplier_user_id, manufacturer_id)
			SELECT $3, d.id, m.supplier_id, m.supplier_user_id, d.manufacturer_id `+bulkTargets+`
			ON CONFLICT DO NOTHING`, f.Brand, f.SupplierID, b.ID)
		if err != nil {
			return fmt.Errorf("db: bulk relink items: %w", err)
		}
		n, _ := res.RowsAffected()
		b.Total = int(n)
		if _, err := tx.ExecContext(ctx, `UPDATE bulk_relinks SET total = $2, finished_at = CASE WHEN $2 = 0 THEN now() END WHERE id = $1`,
			b.ID, b.Total); err != nil {
			return fmt.Errorf("db: bulk relink total: %w", err)
		}
		if b.Total > 0 {
			if err := enqueueJob(ctx, tx, app.JobBulkRelink, strconv.FormatInt(b.ID, 10), b.Total); err != nil {
				return err
			}
		}
		e.Action, e.ObjectType, e.ObjectID = "mapping.bulk_relink", "bulk_relink", strconv.FormatInt(b.ID, 10)
		e.After = map[string]any{"filter": f, "count": b.Total}
		return writeAudit(ctx, tx, e)
	})
	return b, err
}

// ProcessBulkRelink relinks up to n pending items of a bulk relink, one
// supplier user at a time (a new agent session per device's brand, and an
// email when the customer's address is known), skipping items another
// worker holds. It returns the job's progress; FinishedAt is set once every
// item is processed.
func (s *Store) ProcessBulkRelink(ctx context.Context, id int64, n int, ttl time.Duration,
	linkURL func(string) string, mail func(lang, link string) (string, string)) (app.BulkRelink, error) {
	var b app.BulkRelink
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var items []struct {
			DeviceID       int64  `db:"device_id"`
			SupplierID     string `db:"supplier_id"`
			SupplierUserID string `db:"supplier_user_id"`
			Brand          string `db:"manufacturer_id"`
			Email          string `db:"email"`
		}
		if err := tx.SelectContext(ctx, &items, `
			SELECT i.device_id, i.supplier_id, i.supplier_user_id, i.manufacturer_id,
			       coalesce((SELECT p.email FROM portal_users p JOIN supplier_mappings m ON m.supplier_id = i.supplier_id
			                 AND m.supplier_user_id = i.supplier_user_id
			                 WHERE (p.nox_user_id = m.nox_user_id OR (p.supplier_id = m.supplier_id AND p.supplier_user_id = m.supplier_user_id))
			                   AND p.email IS NOT NULL ORDER BY p.id LIMIT 1), '') AS email
			FROM bulk_relink_items i WHERE i.bulk_id = $1 AND i.processed_at IS NULL
			ORDER BY i.supplier_id, i.supplier_user_id, i.device_id LIMIT $2 FOR UPDATE OF i SKIP LOCKED`, id, n); err != nil {
			return fmt.Errorf("db: claim bulk items: %w", err)
		}
		done, failed := 0, 0
		for _, it := range items {
			token := app.RandomToken(48)
			if _, err := tx.ExecContext(ctx, `SAVEPOINT item`); err != nil {
				return fmt.Errorf("db: savepoint: %w", err)
			}
			sess, err := createRelinkTx(ctx, tx, app.Relink{SupplierID: it.SupplierID, SupplierUserID: it.SupplierUserID,
				Brand: it.Brand, TTL: ttl}, token)
			if err == nil && it.Email != "" {
				subject, body := mail(sess.Language, linkURL(token))
				err = queueEmail(ctx, tx, app.Email{To: it.Email, Subject: subject, Body: body, Kind: "relink", Ref: sess.ID})
			}
			if err != nil {
				if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT item`); rerr != nil {
					return fmt.Errorf("db: rollback item: %w", rerr)
				}
				failed++
				if _, err := tx.ExecContext(ctx, `
					UPDATE bulk_relink_items SET processed_at = now(), error = $5
					WHERE bulk_id = $1 AND device_id = $2 AND supplier_id = $3 AND supplier_user_id = $4`,
					id, it.DeviceID, it.SupplierID, it.SupplierUserID, app.BulkFailureReason(err)); err != nil {
					return fmt.Errorf("db: bulk item failed: %w", err)
				}
				continue
			}
			done++
			if _, err := tx.ExecContext(ctx, `
				UPDATE bulk_relink_items SET processed_at = now(), session_id = $5
				WHERE bulk_id = $1 AND device_id = $2 AND supplier_id = $3 AND supplier_user_id = $4`,
				id, it.DeviceID, it.SupplierID, it.SupplierUserID, sess.ID); err != nil {
				return fmt.Errorf("db: bulk item done: %w", err)
			}
		}
		if err := tx.GetContext(ctx, &b, `
			UPDATE bulk_relinks SET done = done + $2, failed = failed + $3,
			       finished_at = CASE WHEN NOT EXISTS (SELECT 1 FROM bulk_relink_items WHERE bulk_id = $1 AND processed_at IS NULL)
			                          THEN coalesce(finished_at, now()) END
			WHERE id = $1 RETURNING id, actor_id, filter::text AS filter, total, done, failed, created_at, finished_at`,
			id, done, failed); err != nil {
			return fmt.Errorf("db: bulk progress: %w", notFound(err, "bulk relink not found"))
		}
		return nil
	})
	return b, err
}

// GetBulkRelink returns a bulk relink's progress, or ENOTFOUND.
func (s *Store) GetBulkRelink(ctx context.Context, id int64) (app.BulkRelink, error) {
	var b app.BulkRelink
	err := s.db.GetContext(ctx, &b, `SELECT `+bulkCols+` `+bulkFrom+` WHERE b.id = $1`, id)
	if err != nil {
		return b, fmt.Errorf("db: bulk relink: %w", notFound(err, "bulk relink not found"))
	}
	return b, nil
}

// RecentBulkRelinks returns the newest bulk relinks.
func (s *Store) RecentBulkRelinks(ctx context.Context, limit int) ([]app.BulkRelink, error) {
	out := []app.BulkRelink{}
	if err := s.db.SelectContext(ctx, &out, `SELECT `+bulkCols+` `+bulkFrom+` ORDER BY b.id DESC LIMIT $1`, limit); err != nil {
		return nil, fmt.Errorf("db: recent bulk relinks: %w", err)
	}
	return out, nil
}

// bulkCols and bulkFrom read a bulk relink b with the names of its filter's
// brand and supplier.
const (
	bulkCols = `b.id, b.actor_id, b.filter::text AS filter, b.total, b.done, b.failed, b.created_at, b.finished_at,
		coalesce(mf.name, b.filter->>'brand', '') AS brand_name, coalesce(s.name, '') AS supplier_name`
	bulkFrom = `FROM bulk_relinks b LEFT JOIN manufacturers mf ON mf.id = b.filter->>'brand'
		LEFT JOIN suppliers s ON s.id = b.filter->>'supplier_id'`
)

// BulkRelinkFailures returns up to limit items of a bulk relink that got no
// link, with the reason, grouped by reason and supplier.
func (s *Store) BulkRelinkFailures(ctx context.Context, id int64, limit int) ([]app.BulkRelinkFailure, error) {
	out := []app.BulkRelinkFailure{}
	if err := s.db.SelectContext(ctx, &out, `
		SELECT i.supplier_id, coalesce(s.name, i.supplier_id) AS supplier_name, i.supplier_user_id, i.error AS reason
		FROM bulk_relink_items i LEFT JOIN suppliers s ON s.id = i.supplier_id
		WHERE i.bulk_id = $1 AND i.processed_at IS NOT NULL AND i.session_id IS NULL
		ORDER BY i.error, i.supplier_id, i.supplier_user_id LIMIT $2`, id, limit); err != nil {
		return nil, fmt.Errorf("db: bulk relink failures: %w", err)
	}
	return out, nil
}
