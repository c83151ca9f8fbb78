package db

import (
	"context"

	"noxportal/app"
)

// SeedDev creates the development data: the demo supplier with its API key
// and redirect URIs, and one portal account per role (app.DevPortalAccounts,
// password app.DevPassword). It is idempotent.
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
			_, err = s.CreatePortalUser(ctx, app.NewPortalUser{Email: a.Email, Name: a.Name, Role: a.Role, Password: app.DevPassword})
		}
		if err != nil && app.ErrorCode(err) != app.ECONFLICT {
			return err
		}
	}
	return nil
}
