package db

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"noxportal/app"
)

// SetSupplierLoginPage sets (or, with authorizeURL "", clears) the OAuth
// login page users are sent to from the supplier selector.
func (s *Store) SetSupplierLoginPage(ctx context.Context, supplierID, authorizeURL, clientID string) error {
	defer s.catalog.invalidate()
	res, err := s.db.ExecContext(ctx, `
		UPDATE suppliers SET login_authorize_url = NULLIF($2, ''), login_client_id = NULLIF($3, ''), updated_at = now()
		WHERE id = $1`, supplierID, authorizeURL, clientID)
	if err != nil {
		return fmt.Errorf("db: set supplier login page: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return app.Errorf(app.ENOTFOUND, "supplier %q not found", supplierID)
	}
	return nil
}

// loginSuppliers reads the suppliers that have an OAuth login page, by
// name, leaving out the ids in exclude (LoginSuppliers keeps them).
func (s *Store) loginSuppliers(ctx context.Context, exclude []string) ([]app.LoginSupplier, error) {
	var out []app.LoginSupplier
	err := s.db.SelectContext(ctx, &out, `
		SELECT id, name, login_authorize_url, login_client_id FROM suppliers
		WHERE login_authorize_url IS NOT NULL AND NOT (id = ANY($1)) AND `+app.LiveSupplierSQL("id")+`
		ORDER BY lower(name), id`, pq.Array(nonNil(exclude)))
	if err != nil {
		return nil, fmt.Errorf("db: login suppliers: %w", err)
	}
	return out, nil
}

// LoginSupplier returns a supplier with an OAuth login page, or ENOTFOUND.
func (s *Store) LoginSupplier(ctx context.Context, id string) (app.LoginSupplier, error) {
	var out app.LoginSupplier
	err := s.db.GetContext(ctx, &out, `
		SELECT id, name, login_authorize_url, login_client_id FROM suppliers
		WHERE id = $1 AND login_authorize_url IS NOT NULL AND `+app.LiveSupplierSQL("id"), id)
	if err != nil {
		return out, fmt.Errorf("db: login supplier: %w", notFound(err, "supplier %q has no login page", id))
	}
	return out, nil
}

// SetManufacturerRedirectURIs replaces a manufacturer's allowed redirect URIs.
func (s *Store) SetManufacturerRedirectURIs(ctx context.Context, manufacturerID string, uris []string) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `
			DELETE FROM manufacturer_redirect_uris WHERE manufacturer_id = $1 AND NOT (uri = ANY($2))`,
			manufacturerID, pq.Array(nonNil(uris))); err != nil {
			return fmt.Errorf("db: prune manufacturer redirect uris: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO manufacturer_redirect_uris (manufacturer_id, uri)
			SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`,
			manufacturerID, pq.Array(nonNil(uris))); err != nil {
			return fmt.Errorf("db: insert manufacturer redirect uris: %w", err)
		}
		return nil
	})
}

// ManufacturerRedirectURIs returns a manufacturer's allowed redirect URIs.
func (s *Store) ManufacturerRedirectURIs(ctx context.Context, manufacturerID string) ([]string, error) {
	var out []string
	if err := s.db.SelectContext(ctx, &out, `
		SELECT uri FROM manufacturer_redirect_uris WHERE manufacturer_id = $1 ORDER BY uri`, manufacturerID); err != nil {
		return nil, fmt.Errorf("db: manufacturer redirect uris: %w", err)
	}
	return out, nil
}

// StartSupplierLogin records the supplier the user picked on the selector
// of a flow-2 session and the hash of a fresh one-time state, moving it to
// authorizing (app.StepChoose, as StartAuthorization: same browser, before
// the deadline (else expired, ECONFLICT), not finished).
func (s *Store) StartSupplierLogin(ctx context.Context, sessionID string, browserHash []byte, supplierID, state string) (app.LinkSession, error) {
	return s.choose(ctx, sessionID, app.KindSupplierSelect, stepData{BrowserHash: browserHash, SupplierID: supplierID, State: state})
}

// ReportSupplierLogin is the supplier's POST /post-login-redirect: supplierID
// says that the user of the session that issued state logged in as
// supplierUserID (app.StepReport). In one transaction it maps the session's
// manufacturer user and devices to (supplier, supplier_user_id) — a pair
// never gets a second nox user; when the pair exists, the devices join it —
// marks the session connected and writes supplier.linked webhooks for the
// supplier and the manufacturer.
//
// Nothing is mapped when: the state is unknown (ENOTFOUND unknown_state), it
// belongs to a login at another supplier (EFORBIDDEN wrong_supplier), the
// session already ended (ECONFLICT already_used), or the deadline passed
// (ECONFLICT expired; the session is recorded as expired_after_auth).
func (s *Store) ReportSupplierLogin(ctx context.Context, supplierID, state, supplierUserID string) (app.SupplierLinked, error) {
	var out app.SupplierLinked
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		ls, err := lockByState(ctx, tx, state, app.KindSupplierSelect, app.ErrUnknownState)
		if err != nil {
			return err
		}
		var deviceIDs pq.StringArray
		if err := openFirst(ctx, tx, &deviceIDs, `SELECT device_ids FROM link_sessions WHERE id = $1`, ls.ID); err != nil {
			return fmt.Errorf("db: session devices: %w", err)
		}
		in := app.StepInput{Step: app.StepReport, SupplierID: supplierID, SupplierUserID: supplierUserID, Devices: len(deviceIDs)}
		if tr := ls.decide(in, nil); !tr.Proceed {
			_, err := step(ctx, tx, &ls, in, stepData{})
			return err
		}
		noxUserID, err := mapUsers(ctx, tx, &ls, supplierID, supplierUserID)
		if err != nil {
			return err
		}
		devices := make([]app.DeviceInfo, len(deviceIDs))
		for i, id := range deviceIDs {
			devices[i] = app.DeviceInfo{ID: id}
		}
		if err := upsertDevices(ctx, tx, noxUserID, ls.Brand(), devices); err != nil {
			return err
		}
		if _, err := step(ctx, tx, &ls, in, stepData{NoxUserID: noxUserID, SupplierUserID: supplierUserID}); err != nil {
			return err
		}
		out = app.SupplierLinked{Session: ls.LinkSession, NoxUserID: noxUserID, ManufacturerID: ls.Brand(),
			ManufacturerUserID: ls.ManufacturerUserID, DeviceIDs: deviceIDs}
		data := linkEventData(ls.LinkSession, deviceIDs)
		if err := enqueueWebhook(ctx, tx, app.SupplierParty(supplierID), app.EventSupplierLinked, data); err != nil {
			return err
		}
		return enqueueWebhook(ctx, tx, app.ManufacturerParty(ls.Brand()), app.EventSupplierLinked, data)
	})
	return out, unwrapCommit(err)
}

// ClaimSupplierReturn handles the user's browser coming back from the
// supplier's login page with state (app.StepReturn). Only the first return
// counts: a second one is ECONFLICT already_used and changes nothing;
// another browser is EFORBIDDEN; an unknown state ENOTFOUND. The session is
// then ended if it is not yet: expired past the deadline, access_denied
// when the supplier says so (supplierError "access_denied"), supplier_error
// when the supplier sent the user back without reporting the login. It
// returns the session as it ended, for the redirect to the manufacturer.
func (s *Store) ClaimSupplierReturn(ctx context.Context, state string, browserHash []byte, supplierError string) (app.LinkSession, error) {
	lock := func(ctx context.Context, tx *sqlx.Tx) (lockedSession, error) {
		return lockByState(ctx, tx, state, app.KindSupplierSelect, app.ErrUnknownState)
	}
	ls, err := s.runStep(ctx, lock, app.StepInput{Step: app.StepReturn, Reason: supplierError}, stepData{BrowserHash: browserHash})
	return ls.LinkSession, err
}

func truncateDetail(s string) string { return app.CleanText(s, 200) }

// SyncSandboxSupplier brings the configured sandbox supplier, its login
// page and API key in line with the configuration at every start
// (idempotent; whenever the sandbox and its supplier are configured, not
// development seed data).
func (s *Store) SyncSandboxSupplier(ctx context.Context, sup app.LoginSupplier, apiKey string) error {
	// The redirect URIs an admin (or the dev seed) gave it are kept.
	if _, err := s.db.ExecContext(ctx, `
		INSERT INTO suppliers (id, name) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, updated_at = now()`, sup.ID, sup.Name); err != nil {
		return fmt.Errorf("db: sync sandbox supplier: %w", err)
	}
	s.catalog.invalidate()
	if err := s.SetSupplierLoginPage(ctx, sup.ID, sup.AuthorizeURL, sup.ClientID); err != nil {
		return err
	}
	return s.InsertAPIKey(ctx, app.APIKeyOwner{SupplierID: sup.ID}, "sandbox key", apiKey)
}
