package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"noxportal/app"
)

// NoxUserOf returns the nox user that party knows as userID: a supplier's
// supplier_user_id or a manufacturer's manufacturer_user_id. ENOTFOUND when
// the party has no such user.
func (s *Store) NoxUserOf(ctx context.Context, party app.Party, userID string) (string, error) {
	var q string
	switch party.Kind {
	case app.PartySupplier:
		q = `SELECT nox_user_id FROM supplier_mappings WHERE supplier_id = $1 AND supplier_user_id = $2`
	case app.PartyManufacturer:
		q = `SELECT nox_user_id FROM manufacturer_mappings WHERE manufacturer_id = $1 AND manufacturer_user_id = $2`
	default:
		return "", app.Errorf(app.EINVALID, "unknown party %q", party.Kind)
	}
	var id string
	if err := s.db.GetContext(ctx, &id, q, party.ID, userID); err != nil {
		return "", fmt.Errorf("db: nox user of %s: %w", party, notFound(err, "No linked user %q.", userID))
	}
	return id, nil
}

type boundsRow struct {
	NoxUserID    string    `db:"nox_user_id"`
	IndoorMinC   float64   `db:"indoor_min_c"`
	IndoorMaxC   float64   `db:"indoor_max_c"`
	HotWaterMinC *float64  `db:"hot_water_min_c"`
	HotWaterMaxC *float64  `db:"hot_water_max_c"`
	Version      int       `db:"version"`
	Party        string    `db:"updated_by_party"`
	PartyID      string    `db:"updated_by_id"`
	UpdatedAt    time.Time `db:"updated_at"`
}

func (r boundsRow) bounds() app.ComfortBounds {
	return app.ComfortBounds{NoxUserID: r.NoxUserID, IndoorMinC: r.IndoorMinC, IndoorMaxC: r.IndoorMaxC,
		HotWaterMinC: r.HotWaterMinC, HotWaterMaxC: r.HotWaterMaxC, Version: r.Version,
		UpdatedBy: app.Party{Kind: r.Party, ID: r.PartyID}, UpdatedAt: r.UpdatedAt}
}

const boundsCols = `nox_user_id, indoor_min_c, indoor_max_c, hot_water_min_c, hot_water_max_c, version,
	updated_by_party, updated_by_id, updated_at`

// ComfortBounds returns a nox user's comfort bounds, ENOTFOUND when none
// were set yet.
func (s *Store) ComfortBounds(ctx context.Context, noxUserID string) (app.ComfortBounds, error) {
	var r boundsRow
	if err := s.db.GetContext(ctx, &r, `SELECT `+boundsCols+` FROM comfort_bounds WHERE nox_user_id = $1`, noxUserID); err != nil {
		return app.ComfortBounds{}, fmt.Errorf("db: comfort bounds: %w",
			notFound(err, "No comfort bounds are set for this user yet; create them with PUT and version 0."))
	}
	return r.bounds(), nil
}

// SetComfortBounds writes b (validated) for b.NoxUserID as party by, if
// b.ExpectVersion is the current version (0: none set yet); otherwise it is
// ECONFLICT stale_version and nothing changes. The new version is one more.
// In the same transaction, a comfort_bounds.updated webhook is written for
// every other party linked to the user (its suppliers and manufacturers).
func (s *Store) SetComfortBounds(ctx context.Context, b app.ComfortBounds, by app.Party) (app.ComfortBounds, error) {
	if err := b.Validate(); err != nil {
		return b, err
	}
	var out app.ComfortBounds
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var current int
		err := tx.GetContext(ctx, &current, `SELECT version FROM comfort_bounds WHERE nox_user_id = $1 FOR UPDATE`, b.NoxUserID)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("db: lock comfort bounds: %w", err)
		}
		if current != b.ExpectVersion {
			return app.ErrStaleVersion(b.ExpectVersion, current)
		}
		var r boundsRow
		if current == 0 {
			err = tx.GetContext(ctx, &r, `
				INSERT INTO comfort_bounds (nox_user_id, indoor_min_c, indoor_max_c, hot_water_min_c, hot_water_max_c,
					version, updated_by_party, updated_by_id)
				VALUES ($1, $2, $3, $4, $5, 1, $6, $7)
				ON CONFLICT (nox_user_id) DO NOTHING RETURNING `+boundsCols,
				b.NoxUserID, b.IndoorMinC, b.IndoorMaxC, b.HotWaterMinC, b.HotWaterMaxC, by.Kind, by.ID)
			if errors.Is(err, sql.ErrNoRows) {
				return app.ErrStaleVersion(0, 1)
			}
		} else {
			err = tx.GetContext(ctx, &r, `
				UPDATE comfort_bounds SET indoor_min_c = $2, indoor_max_c = $3, hot_water_min_c = $4, hot_water_max_c = $5,
					version = version + 1, updated_by_party = $6, updated_by_id = $7, updated_at = now()
				WHERE nox_user_id = $1 RETURNING `+boundsCols,
				b.NoxUserID, b.IndoorMinC, b.IndoorMaxC, b.HotWaterMinC, b.HotWaterMaxC, by.Kind, by.ID)
		}
		if err != nil {
			return fmt.Errorf("db: set comfort bounds: %w", err)
		}
		out = r.bounds()
		parties, err := linkedParties(ctx, tx, b.NoxUserID)
		if err != nil {
			return err
		}
		for _, p := range parties {
			if p.Party == by {
				continue
			}
			data := app.ComfortBoundsEventData{NoxUserID: out.NoxUserID, IndoorMinC: out.IndoorMinC, IndoorMaxC: out.IndoorMaxC,
				HotWaterMinC: out.HotWaterMinC, HotWaterMaxC: out.HotWaterMaxC, Version: out.Version,
				UpdatedBy: by.Kind, UpdatedAt: out.UpdatedAt.Unix()}
			if p.Kind == app.PartySupplier {
				data.SupplierUserID = p.UserID
			} else {
				data.ManufacturerUserID = p.UserID
				data.DeviceIDs = p.DeviceIDs
			}
			if err := enqueueWebhook(ctx, tx, p.Party, app.EventComfortBoundsUpdated, data); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// linkedParty is a party linked to a nox user, with its own id of the user
// (and, for manufacturers, the user's devices of that brand).
type linkedParty struct {
	app.Party
	UserID    string
	DeviceIDs []string
}

// linkedParties returns every supplier and manufacturer linked to a nox user:
// suppliers through their mappings, manufacturers through their mappings or
// the user's devices.
func linkedParties(ctx context.Context, tx *sqlx.Tx, noxUserID string) ([]linkedParty, error) {
	var rows []struct {
		Kind    string         `db:"kind"`
		ID      string         `db:"id"`
		UserID  string         `db:"user_id"`
		Devices pq.StringArray `db:"devices"`
	}
	err := tx.SelectContext(ctx, &rows, `
		SELECT 'supplier' AS kind, supplier_id AS id, supplier_user_id AS user_id, '{}'::text[] AS devices
		FROM supplier_mappings WHERE nox_user_id = $1
		UNION ALL
		SELECT 'manufacturer', m.id, coalesce(mm.manufacturer_user_id, ''),
			array(SELECT external_id FROM devices d WHERE d.nox_user_id = $1 AND d.manufacturer_id = m.id ORDER BY external_id)
		FROM manufacturers m LEFT JOIN manufacturer_mappings mm ON mm.manufacturer_id = m.id AND mm.nox_user_id = $1
		WHERE mm.nox_user_id IS NOT NULL
		   OR EXISTS (SELECT 1 FROM devices d WHERE d.nox_user_id = $1 AND d.manufacturer_id = m.id)
		ORDER BY 1, 2, 3`, noxUserID)
	if err != nil {
		return nil, fmt.Errorf("db: linked parties: %w", err)
	}
	out := make([]linkedParty, len(rows))
	for i, r := range rows {
		out[i] = linkedParty{Party: app.Party{Kind: r.Kind, ID: r.ID}, UserID: r.UserID, DeviceIDs: r.Devices}
	}
	return out, nil
}

// enqueueDeviceEvent writes device.relink_required or device.disconnected
// (by status) for every party linked to the nox user, in tx.
func enqueueDeviceEvent(ctx context.Context, tx *sqlx.Tx, noxUserID, manufacturerID, externalID, status string) error {
	typ := map[string]string{app.DeviceRelinkRequired: app.EventDeviceRelinkRequired, app.DeviceDisconnected: app.EventDeviceDisconnected}[status]
	parties, err := linkedParties(ctx, tx, noxUserID)
	if err != nil || typ == "" {
		return err
	}
	for _, p := range parties {
		data := app.DeviceEventData{NoxUserID: noxUserID, Manufacturer: manufacturerID, DeviceID: externalID,
			Status: status, At: time.Now().Unix()}
		if p.Kind == app.PartySupplier {
			data.SupplierUserID = p.UserID
		} else {
			data.ManufacturerUserID = p.UserID
		}
		if err := enqueueWebhook(ctx, tx, p.Party, typ, data); err != nil {
			return err
		}
	}
	return nil
}
