package db

import (
	"context"

	"noxportal/app"
)

// SeedDev creates the development data: the demo supplier with its API key
// and redirect URIs. It is idempotent.
func (s *Store) SeedDev(ctx context.Context) error {
	if err := s.UpsertSupplier(ctx, app.Supplier{ID: app.DevSupplierID, Name: app.DevSupplierName, RedirectURIs: app.DevRedirectURIs}); err != nil {
		return err
	}
	return s.InsertAPIKey(ctx, app.APIKeyOwner{SupplierID: app.DevSupplierID}, "demo key", app.DevAPIKey)
}
