package db

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"noxportal/app"
)

// EnsureTestTwin makes the test twin of a live supplier if it has none:
// a supplier row app.TestTwinID(liveID) with the live supplier's name and a
// copy of its redirect URIs (the twin's allowlist is its own from then on),
// with an audit entry. It returns the twin's id; ENOTFOUND when liveID is
// not a live supplier.
func (s *Store) EnsureTestTwin(ctx context.Context, liveID string, e app.AuditEntry) (string, error) {
	twin := app.TestTwinID(liveID)
	if app.IsTestSupplier(liveID) {
		return "", app.Errorf(app.EINVALID, "%q is a test supplier", liveID)
	}
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `
			INSERT INTO suppliers (id, name, test_of) SELECT $2, name, id FROM suppliers WHERE id = $1 AND test_of IS NULL
			ON CONFLICT (id) DO NOTHING`, liveID, twin)
		if err != nil {
			return fmt.Errorf("db: create test twin: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var exists bool
			if err := tx.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM suppliers WHERE id = $1 AND test_of = $2)`, twin, liveID); err != nil {
				return fmt.Errorf("db: find test twin: %w", err)
			}
			if !exists {
				return app.Errorf(app.ENOTFOUND, "supplier %q not found", liveID)
			}
			return nil
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO supplier_redirect_uris (supplier_id, uri, position)
			SELECT $2, uri, position FROM supplier_redirect_uris WHERE supplier_id = $1`, liveID, twin); err != nil {
			return fmt.Errorf("db: copy redirect uris to test twin: %w", err)
		}
		e.Action, e.ObjectType, e.ObjectID = "supplier.test_mode.create", "supplier", twin
		e.After = map[string]any{"test_of": liveID}
		return writeAudit(ctx, tx, e)
	})
	if err != nil {
		return "", err
	}
	s.catalog.invalidate()
	return twin, nil
}
