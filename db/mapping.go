package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"noxportal/app"
)

// mapUsers maps the connection of the locked session ls for the signed-in
// (supplierID, supplierUserID), in tx: it loads the mapping rows
// app.DecideMapping reads, locked, and writes the plan it returns. It
// returns the nox user the connection goes to. A refused mapping fails the
// session (app.StepFail with the refusal's reason) and comes back as an
// errCommit, so the failure is written.
//
// A pair that did not exist when loaded cannot be locked; when another
// transaction maps it first, the plan is dropped (savepoint) and decided
// again on the rows as they are now.
func mapUsers(ctx context.Context, tx *sqlx.Tx, ls *lockedSession, supplierID, supplierUserID string) (string, error) {
	if _, err := tx.ExecContext(ctx, `SAVEPOINT mapping`); err != nil {
		return "", fmt.Errorf("db: mapping savepoint: %w", err)
	}
	for attempt := 1; ; attempt++ {
		in := app.MappingInput{Session: ls.LinkSession, SupplierID: supplierID, SupplierUserID: supplierUserID}
		var err error
		if in.Rows, err = loadMappingRows(ctx, tx, ls.LinkSession, supplierID, supplierUserID); err != nil {
			return "", err
		}
		plan, refused := app.DecideMapping(in)
		if refused != nil {
			if _, err := step(ctx, tx, ls, app.StepInput{Step: app.StepFail, Reason: app.ErrorReason(refused),
				Detail: truncateDetail(refused.Error())}, stepData{}); err != nil {
				return "", err
			}
			return "", errCommit{refused}
		}
		noxUserID, written, err := writeMapping(ctx, tx, ls.LinkSession, supplierID, supplierUserID, plan)
		if err != nil || written {
			return noxUserID, err
		}
		if attempt == 3 {
			return "", app.Errorf(app.ECONFLICT, "the mapping of %s kept changing; try again", supplierUserID)
		}
		if _, err := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT mapping`); err != nil {
			return "", fmt.Errorf("db: roll back mapping: %w", err)
		}
	}
}

// loadMappingRows reads, locked, the manufacturer user's mapping (when the
// session has one) and the supplier's mappings of supplierUserID and of the
// nox users the connection could go to.
func loadMappingRows(ctx context.Context, tx *sqlx.Tx, ls app.LinkSession, supplierID, supplierUserID string) (app.MappingRows, error) {
	var r app.MappingRows
	var candidates []string
	if ls.NoxUserID != nil {
		candidates = append(candidates, *ls.NoxUserID)
	}
	if ls.Brand() != "" && ls.ManufacturerUserID != "" {
		err := tx.GetContext(ctx, &r.ManufacturerNoxUserID, `SELECT nox_user_id FROM manufacturer_mappings
			WHERE manufacturer_id = $1 AND manufacturer_user_id = $2 FOR UPDATE`, ls.Brand(), ls.ManufacturerUserID)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return r, fmt.Errorf("db: find manufacturer mapping: %w", err)
		}
		if r.ManufacturerNoxUserID != "" {
			candidates = append(candidates, r.ManufacturerNoxUserID)
		}
	}
	if err := tx.SelectContext(ctx, &r.AtSupplier, `SELECT supplier_user_id, nox_user_id FROM supplier_mappings
		WHERE supplier_id = $1 AND (supplier_user_id = $2 OR nox_user_id = ANY($3))
		ORDER BY supplier_user_id FOR UPDATE`, supplierID, supplierUserID, pq.Array(nonNil(candidates))); err != nil {
		return r, fmt.Errorf("db: find mappings: %w", err)
	}
	return r, nil
}

// writeMapping writes plan. written is false when a row the plan adds was
// added by another transaction since the rows were loaded (nothing of the
// plan may then be kept).
func writeMapping(ctx context.Context, tx *sqlx.Tx, ls app.LinkSession, supplierID, supplierUserID string, plan app.MappingPlan) (noxUserID string, written bool, err error) {
	noxUserID = plan.NoxUserID
	if plan.NewNoxUser {
		noxUserID = "nox_" + app.RandomToken(24)
		if _, err := tx.ExecContext(ctx, `INSERT INTO nox_users (id) VALUES ($1)`, noxUserID); err != nil {
			return "", false, fmt.Errorf("db: create nox user: %w", err)
		}
	}
	insert := func(what, q string, args ...any) (bool, error) {
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return false, fmt.Errorf("db: create %s: %w", what, err)
		}
		n, err := res.RowsAffected()
		return n == 1, err
	}
	if plan.MapSupplierUser {
		if ok, err := insert("mapping", `INSERT INTO supplier_mappings (supplier_id, supplier_user_id, nox_user_id)
			VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, supplierID, supplierUserID, noxUserID); !ok || err != nil {
			return "", false, err
		}
	}
	if plan.MapManufacturerUser {
		if ok, err := insert("manufacturer mapping", `INSERT INTO manufacturer_mappings (manufacturer_id, manufacturer_user_id, nox_user_id)
			VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, ls.Brand(), ls.ManufacturerUserID, noxUserID); !ok || err != nil {
			return "", false, err
		}
	}
	return noxUserID, true, nil
}
