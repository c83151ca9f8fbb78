package db

import (
	"context"
	"fmt"

	"noxportal/app"
)

// SeedDev creates the development data: the demo supplier with its API key
// and redirect URIs, and one portal account per role (app.DevPortalAccounts,
// password app.DevPassword), and the support console's demo customers (two
// more suppliers, a few hundred sessions of every outcome). It is idempotent.
func (s *Store) SeedDev(ctx context.Context) error {
	if err := s.UpsertSupplier(ctx, app.Supplier{ID: app.DevSupplierID, Name: app.DevSupplierName, RedirectURIs: app.DevRedirectURIs}); err != nil {
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
	return s.seedConsoleDemo(ctx, brands)
}
