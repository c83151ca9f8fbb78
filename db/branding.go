package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"noxportal/app"
)

// SupplierBranding returns a supplier's co-branding (without the logo's
// bytes); a supplier without any has Version 0.
func (s *Store) SupplierBranding(ctx context.Context, supplierID string) (app.SupplierBranding, error) {
	b := app.SupplierBranding{SupplierID: supplierID}
	err := s.db.GetContext(ctx, &b, `SELECT supplier_id, accent, logo_type, version FROM supplier_branding WHERE supplier_id = $1`, supplierID)
	if errors.Is(err, sql.ErrNoRows) {
		return b, nil
	} else if err != nil {
		return b, fmt.Errorf("db: supplier branding: %w", err)
	}
	return b, nil
}

// SupplierLogo returns a supplier's logo and its content type; ENOTFOUND
// when it has none.
func (s *Store) SupplierLogo(ctx context.Context, supplierID string) ([]byte, string, error) {
	var row struct {
		Logo []byte `db:"logo"`
		Type string `db:"logo_type"`
	}
	err := s.db.GetContext(ctx, &row, `SELECT logo, logo_type FROM supplier_branding WHERE supplier_id = $1 AND logo IS NOT NULL`, supplierID)
	if err != nil {
		return nil, "", fmt.Errorf("db: supplier logo: %w", notFound(err, "no logo"))
	}
	return row.Logo, row.Type, nil
}

// BrandingChange is what an admin saves: the accent ("" for none) and,
// when Logo is set, a new logo (checked by app.CheckLogo), or RemoveLogo.
type BrandingChange struct {
	Accent     string
	Logo       []byte
	LogoType   string
	RemoveLogo bool
}

// SaveSupplierBranding stores a supplier's co-branding with a new version
// and audits it (actor gives ActorID and IP) in the same transaction.
func (s *Store) SaveSupplierBranding(ctx context.Context, supplierID string, ch BrandingChange, actor app.AuditEntry) (app.SupplierBranding, error) {
	var out app.SupplierBranding
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		before := app.SupplierBranding{SupplierID: supplierID}
		if err := tx.GetContext(ctx, &before, `SELECT supplier_id, accent, logo_type, version FROM supplier_branding WHERE supplier_id = $1 FOR UPDATE`,
			supplierID); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("db: lock supplier branding: %w", err)
		}
		logoSQL := `supplier_branding.logo`
		typeSQL := `supplier_branding.logo_type`
		switch {
		case ch.Logo != nil:
			logoSQL, typeSQL = `EXCLUDED.logo`, `EXCLUDED.logo_type`
		case ch.RemoveLogo:
			logoSQL, typeSQL = `NULL`, `''`
		}
		var logo any
		if ch.Logo != nil {
			logo = ch.Logo
		}
		err := tx.GetContext(ctx, &out, `
			INSERT INTO supplier_branding (supplier_id, accent, logo, logo_type) VALUES ($1, $2, $3, $4)
			ON CONFLICT (supplier_id) DO UPDATE SET accent = EXCLUDED.accent, logo = `+logoSQL+`, logo_type = `+typeSQL+`,
			    version = supplier_branding.version + 1, updated_at = now()
			RETURNING supplier_id, accent, logo_type, version`, supplierID, ch.Accent, logo, ch.LogoType)
		if err != nil {
			return fmt.Errorf("db: save supplier branding: %w", err)
		}
		actor.Action, actor.ObjectType, actor.ObjectID = "supplier.branding", "supplier", supplierID
		actor.Before = map[string]any{"accent": before.Accent, "logo_type": before.LogoType}
		actor.After = map[string]any{"accent": out.Accent, "logo_type": out.LogoType, "logo_bytes": len(ch.Logo)}
		return writeAudit(ctx, tx, actor)
	})
	return out, err
}
