package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"noxportal/app"
)

const dashboardDeviceCols = `d.id, d.nox_user_id, d.manufacturer_id, d.external_id, d.name, d.model, d.status,
	d.connected_at, d.last_sync_at, m.name AS brand_name, m.kind,
	(SELECT max(e.created_at) FROM device_events e WHERE e.device_id = d.id AND e.type = 'disconnected') AS disconnected_at`

// CustomerDevices returns the devices of a nox user, connected ones first.
// An empty noxUserID (a supplier's user who has not linked anything yet)
// has none.
func (s *Store) CustomerDevices(ctx context.Context, noxUserID string) ([]app.DashboardDevice, error) {
	out := []app.DashboardDevice{}
	if noxUserID == "" {
		return out, nil
	}
	err := s.db.SelectContext(ctx, &out, `
		SELECT `+dashboardDeviceCols+` FROM devices d JOIN manufacturers m ON m.id = d.manufacturer_id
		WHERE d.nox_user_id = $1
		ORDER BY CASE d.status WHEN 'relink_required' THEN 0 WHEN 'connected' THEN 1 ELSE 2 END, m.name, d.external_id`, noxUserID)
	if err != nil {
		return nil, fmt.Errorf("db: customer devices: %w", err)
	}
	return out, nil
}

// CustomerDevice returns one device of a nox user; another user's device
// or an unknown id is ENOTFOUND.
func (s *Store) CustomerDevice(ctx context.Context, noxUserID string, deviceID int64) (app.DashboardDevice, error) {
	var d app.DashboardDevice
	err := s.db.GetContext(ctx, &d, `
		SELECT `+dashboardDeviceCols+` FROM devices d JOIN manufacturers m ON m.id = d.manufacturer_id
		WHERE d.id = $1 AND d.nox_user_id = $2 AND $2 <> ''`, deviceID, noxUserID)
	if err != nil {
		return d, fmt.Errorf("db: customer device: %w", notFound(err, "device not found"))
	}
	return d, nil
}

// PendingCustomerLinks returns the unfinished, unexpired device link
// sessions (flow 1) a portal user started from the dashboard, newest first;
// supplier links (flow 2) are not devices and are left out.
func (s *Store) PendingCustomerLinks(ctx context.Context, portalUserID int64) ([]app.LinkSession, error) {
	var out []app.LinkSession
	err := s.db.SelectContext(ctx, &out, `
		SELECT `+sessionCols+` FROM link_sessions
		WHERE portal_user_id = $1 AND kind = 'supplier_link' AND status IN `+unfinishedSQL+`
		  AND expires_at > now()
		ORDER BY created_at DESC LIMIT 10`, portalUserID)
	if err != nil {
		return nil, fmt.Errorf("db: pending customer links: %w", err)
	}
	return out, nil
}

// CustomerLink returns a link session the portal user started, or ENOTFOUND.
func (s *Store) CustomerLink(ctx context.Context, portalUserID int64, sessionID string) (app.LinkSession, error) {
	var out app.LinkSession
	err := s.db.GetContext(ctx, &out, `SELECT `+sessionCols+` FROM link_sessions WHERE id = $1 AND portal_user_id = $2`,
		sessionID, portalUserID)
	if err != nil {
		return out, fmt.Errorf("db: customer link: %w", notFound(err, "link session not found"))
	}
	return out, nil
}

// DisconnectDevice marks one of the nox user's devices disconnected and,
// when no other device of that manufacturer stays connected, deletes the
// manufacturer grant (its tokens). It writes a device event and an audit
// entry (actor gives its ActorID and IP) in the same transaction. ENOTFOUND
// for another user's device; disconnecting a disconnected device changes
// nothing.
func (s *Store) DisconnectDevice(ctx context.Context, noxUserID string, deviceID int64, actor app.AuditEntry) (app.Device, error) {
	var d app.Device
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		err := tx.GetContext(ctx, &d, `
			SELECT id, nox_user_id, manufacturer_id, external_id, name, model, status, connected_at, last_sync_at
			FROM devices WHERE id = $1 AND nox_user_id = $2 AND $2 <> '' FOR UPDATE`, deviceID, noxUserID)
		if err != nil {
			return fmt.Errorf("db: lock device: %w", notFound(err, "device not found"))
		}
		if d.Status == app.DeviceDisconnected {
			return nil
		}
		before := d.Status
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET status = 'disconnected', updated_at = now() WHERE id = $1`, d.ID); err != nil {
			return fmt.Errorf("db: disconnect device: %w", err)
		}
		d.Status = app.DeviceDisconnected
		var others int
		if err := tx.GetContext(ctx, &others, `
			SELECT count(*) FROM devices WHERE nox_user_id = $1 AND manufacturer_id = $2 AND id <> $3 AND status <> 'disconnected'`,
			noxUserID, d.ManufacturerID, d.ID); err != nil {
			return fmt.Errorf("db: count devices: %w", err)
		}
		detail := "by customer; tokens kept for other devices"
		if others == 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM manufacturer_grants WHERE nox_user_id = $1 AND manufacturer_id = $2`,
				noxUserID, d.ManufacturerID); err != nil {
				return fmt.Errorf("db: delete grant: %w", err)
			}
			detail = "by customer; manufacturer tokens deleted"
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO device_events (device_id, type, detail, portal_user_id) VALUES ($1, $2, $3, $4)`,
			d.ID, app.DeviceEventDisconnected, detail, actor.ActorID); err != nil {
			return fmt.Errorf("db: device event: %w", err)
		}
		if err := enqueueDeviceEvent(ctx, tx, noxUserID, d.ManufacturerID, d.ExternalID, app.DeviceDisconnected); err != nil {
			return err
		}
		actor.Action, actor.ObjectType, actor.ObjectID = "device.disconnect", "device", fmt.Sprint(d.ID)
		actor.Before = map[string]string{"status": before}
		actor.After = map[string]any{"status": app.DeviceDisconnected, "tokens_deleted": others == 0}
		return writeAudit(ctx, tx, actor)
	})
	return d, err
}

// CreateDashboardLink stores a one-time dashboard URL token for a
// supplier's user, valid for ttl, and returns the token (only its hash is
// stored) and its expiry.
func (s *Store) CreateDashboardLink(ctx context.Context, supplierID, supplierUserID, lang string, ttl time.Duration) (string, time.Time, error) {
	token := app.RandomToken(48)
	var exp time.Time
	err := s.db.GetContext(ctx, &exp, `
		INSERT INTO dashboard_links (token_hash, supplier_id, supplier_user_id, language, expires_at)
		SELECT $1, $2, $3, $4, now() + make_interval(secs => $5)
		WHERE EXISTS (SELECT 1 FROM supplier_mappings WHERE supplier_id = $2 AND supplier_user_id = $3)
		   OR EXISTS (SELECT 1 FROM link_sessions WHERE supplier_id = $2 AND supplier_user_id = $3)
		RETURNING expires_at`,
		app.HashToken(token), supplierID, supplierUserID, lang, ttl.Seconds())
	if err != nil {
		return "", exp, fmt.Errorf("db: create dashboard link: %w", notFound(err, "No user %q for this supplier.", supplierUserID))
	}
	return token, exp, nil
}

// Reasons a dashboard link cannot be used.
const (
	DashboardLinkUsed    = "dashboard_link_used"
	DashboardLinkExpired = "dashboard_link_expired"
)

// dashboardLinkMinutes is a dashboard link's lifetime rounded to whole
// minutes, at least one.
const dashboardLinkMinutes = `greatest(1, round(extract(epoch FROM expires_at - created_at) / 60))::int AS minutes`

// ClaimDashboardLink uses a dashboard URL token exactly once. Unknown →
// ENOTFOUND; already used or past its expiry → ECONFLICT with reason
// DashboardLinkUsed or DashboardLinkExpired. Two concurrent claims cannot
// both succeed (the claim is one conditional UPDATE).
func (s *Store) ClaimDashboardLink(ctx context.Context, token string) (app.DashboardLink, error) {
	var l app.DashboardLink
	err := s.db.GetContext(ctx, &l, `
		UPDATE dashboard_links SET used_at = now()
		WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
		RETURNING supplier_id, supplier_user_id, language, `+dashboardLinkMinutes, app.HashToken(token))
	if err == nil {
		return l, nil
	} else if !errors.Is(err, sql.ErrNoRows) {
		return l, fmt.Errorf("db: claim dashboard link: %w", err)
	}
	var row struct {
		app.DashboardLink
		Used bool `db:"used"`
	}
	err = s.db.GetContext(ctx, &row, `SELECT supplier_id, supplier_user_id, language, `+dashboardLinkMinutes+`, used_at IS NOT NULL AS used
		FROM dashboard_links WHERE token_hash = $1`, app.HashToken(token))
	if err != nil {
		return l, fmt.Errorf("db: dashboard link: %w", notFound(err, "dashboard link not found"))
	}
	if row.Used {
		return row.DashboardLink, app.ReasonErrorf(app.ECONFLICT, DashboardLinkUsed, "This dashboard link has already been used.")
	}
	return row.DashboardLink, app.ReasonErrorf(app.ECONFLICT, DashboardLinkExpired, "This dashboard link has expired.")
}

// CustomerSuppliers returns the suppliers a nox user is mapped to, oldest
// link first. An empty noxUserID has none.
func (s *Store) CustomerSuppliers(ctx context.Context, noxUserID string) ([]app.LinkedSupplier, error) {
	out := []app.LinkedSupplier{}
	if noxUserID == "" {
		return out, nil
	}
	err := s.db.SelectContext(ctx, &out, `
		SELECT sm.supplier_id, s.name, sm.supplier_user_id, sm.created_at
		FROM supplier_mappings sm JOIN suppliers s ON s.id = sm.supplier_id
		WHERE sm.nox_user_id = $1 ORDER BY sm.created_at, s.name`, noxUserID)
	if err != nil {
		return nil, fmt.Errorf("db: customer suppliers: %w", err)
	}
	return out, nil
}
