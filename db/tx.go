package db

import (
	"context"

	"github.com/jmoiron/sqlx"

	"noxportal/app"
)

// InTx runs fn in one transaction: committed when fn returns nil, rolled
// back otherwise.
func (s *Store) InTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error { return s.inTx(ctx, fn) }

// Cipher is the cipher the store seals secrets at rest with.
func (s *Store) Cipher() *app.Cipher { return s.cipher }

// CatalogChanged drops the cached brand and supplier catalog after a write
// that went around the store (bulk loads, seeds).
func (s *Store) CatalogChanged() { s.catalog.invalidate() }

// TxSetSupplierWebhook sets (url "" removes) a supplier's webhook endpoint
// in tx; a new endpoint's signing secret is returned.
func TxSetSupplierWebhook(ctx context.Context, tx *sqlx.Tx, cipher *app.Cipher, supplierID, url string) (string, error) {
	return setSupplierWebhook(ctx, tx, cipher, supplierID, url)
}

// TxEmitDeviceRelinkRequired queues the device.relink_required webhook of d in tx.
func TxEmitDeviceRelinkRequired(ctx context.Context, tx *sqlx.Tx, d app.Device) error {
	return emitDeviceRelinkRequired(ctx, tx, d)
}
