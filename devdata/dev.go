package devdata

import (
	"context"
	"fmt"

	"github.com/lib/pq"

	"noxportal/app"
	"noxportal/db"
)

// SeedDev creates the development data: the demo supplier with its API key
// and redirect URIs, its test twin with a test key (app.DevTestAPIKey), and one portal account per role (app.DevPortalAccounts,
// password app.DevPassword), and the support console's demo customers (two
// more suppliers, a few hundred sessions of every outcome). It is idempotent.
//
// extraRedirectURIs are added to the demo supplier's (the sandbox's demo
// supplier app, when the sandbox is on).
func Dev(ctx context.Context, s *db.Store, extraRedirectURIs ...string) error {
	uris := append(append([]string(nil), app.DevRedirectURIs...), extraRedirectURIs...)
	if err := s.UpsertSupplier(ctx, app.Supplier{ID: app.DevSupplierID, Name: app.DevSupplierName, RedirectURIs: uris}); err != nil {
		return err
	}
	if err := s.InsertAPIKey(ctx, app.APIKeyOwner{SupplierID: app.DevSupplierID}, "demo key", app.DevAPIKey); err != nil {
		return err
	}
	// Test mode is on for the demo supplier, with a test key of its own.
	twin, err := s.EnsureTestTwin(ctx, app.DevSupplierID, app.AuditEntry{})
	if err != nil {
		return err
	}
	if err := s.InsertAPIKey(ctx, app.APIKeyOwner{SupplierID: twin}, "demo test key", app.DevTestAPIKey); err != nil {
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
	if err := s.DB().SelectContext(ctx, &brands, `SELECT id FROM manufacturers WHERE enabled ORDER BY id`); err != nil {
		return fmt.Errorf("db: seed brands: %w", err)
	}
	if err := consoleDemo(ctx, s, brands); err != nil {
		return err
	}
	// Every other supplier (the sandbox supplier among them) gets the demo
	// redirect URIs, so support can create a link for any seeded customer.
	if _, err := s.DB().ExecContext(ctx, `
		INSERT INTO supplier_redirect_uris (supplier_id, uri, position)
		SELECT s.id, u, n - 1 FROM suppliers s, unnest($1::text[]) WITH ORDINALITY AS x(u, n)
		WHERE NOT EXISTS (SELECT 1 FROM supplier_redirect_uris r WHERE r.supplier_id = s.id)
		ON CONFLICT DO NOTHING`, pq.Array(app.DevRedirectURIs)); err != nil {
		return fmt.Errorf("db: seed redirect uris: %w", err)
	}
	s.CatalogChanged()
	return nil
}

// DevManufacturer gives a manufacturer the development API key and
// redirect URIs (idempotent).
func DevManufacturer(ctx context.Context, s *db.Store, manufacturerID, apiKey string, redirectURIs []string) error {
	if err := s.SetManufacturerRedirectURIs(ctx, manufacturerID, redirectURIs); err != nil {
		return err
	}
	return s.InsertAPIKey(ctx, app.APIKeyOwner{ManufacturerID: manufacturerID}, "demo key", apiKey)
}
