package db

import (
	"context"
	"fmt"

	"github.com/lib/pq"

	"noxportal/app"
)

// SeedDev creates the development data: the demo supplier with its API key
// and redirect URIs, and one portal account per role (app.DevPortalAccounts,
// password app.DevPassword), and the support console's demo customers (two
// more suppliers, a few hundred sessions of every outcome). It is idempotent.
//
// extraRedirectURIs are added to the demo supplier's (the sandbox's demo
// supplier app, when the sandbox is on).
func (s *Store) SeedDev(ctx context.Context, extraRedirectURIs ...string) error {
	uris := append(append([]string(nil), app.DevRedirectURIs...), extraRedirectURIs...)
	if err := s.UpsertSupplier(ctx, app.Supplier{ID: app.DevSupplierID, Name: app.DevSupplierName, RedirectURIs: uris}); err != nil {
		return err
	}
	if err := s.InsertAPIKey(ctx, app.APIKeyOwner{SupplierID: app.DevSupplierID}, "demo key", app.DevAPIKey); err != nil {
		return err
	}
	for _, a := range app.DevPortalAccounts {
		_, err := s.PortalUserByEmail(ctx, a.Email)
		if app.IsNotFound(err) {
			_, err = s.CreatePortalUser(ctx, app.NewPortalUser{Email: a.Email, Name: a.Name, Role: a.Role, Password: app.DevPassword,
				TeamSupplierID: a.Supplier})
		}
		if err != nil && app.ErrorCode(err) != app.ECONFLICT {
			return err
		}
	}
	var brands []string
	if err := s.db.SelectContext(ctx, &brands, `SELECT id FROM manufacturers WHERE enabled ORDER BY id`); err != nil {
		return fmt.Errorf("db: seed brands: %w", err)
	}
	if err := s.seedConsoleDemo(ctx, brands); err != nil {
		return err
	}
	// Every other supplier (the sandbox supplier among them) gets the demo
	// redirect URIs, so support can create a link for any seeded customer.
	if _, err := s.db.ExecContext(ctx, `
		INSERT INTO supplier_redirect_uris (supplier_id, uri)
		SELECT s.id, u FROM suppliers s, unnest($1::text[]) u
		WHERE NOT EXISTS (SELECT 1 FROM supplier_redirect_uris r WHERE r.supplier_id = s.id)
		ON CONFLICT DO NOTHING`, pq.Array(app.DevRedirectURIs)); err != nil {
		return fmt.Errorf("db: seed redirect uris: %w", err)
	}
	s.catalog.invalidate()
	return nil
}
