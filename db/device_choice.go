package db

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"noxportal/app"
)

// devicePayload is what waits, encrypted, between the callback and the
// user's choice of devices.
type devicePayload struct {
	Manufacturer string           `json:"manufacturer"`
	Devices      []app.DeviceInfo `json:"devices"`
	Access       string           `json:"access"`
	Refresh      string           `json:"refresh"`
	Expiry       int64            `json:"expiry"`
}

func choiceAAD(sessionID string) []byte { return []byte("devices:" + sessionID) }

// AwaitDeviceChoice (app.StepAwaitDevices) keeps the exchanged tokens and
// the account's devices of a claimed session, encrypted, until the user
// chooses which devices to link; it returns the one-time choice token that
// addresses them. ECONFLICT when the session ended or its deadline passed
// (then recorded as expired_after_auth).
func (s *Store) AwaitDeviceChoice(ctx context.Context, c app.Connection) (app.LinkSession, string, error) {
	choice := app.RandomToken(43)
	p := devicePayload{Manufacturer: c.ManufacturerID, Devices: c.Devices, Access: c.Tokens.AccessToken,
		Refresh: c.Tokens.RefreshToken}
	if !c.Tokens.Expiry.IsZero() {
		p.Expiry = c.Tokens.Expiry.Unix()
	}
	plain, err := json.Marshal(p)
	if err != nil {
		return app.LinkSession{}, "", err
	}
	var out app.LinkSession
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		ls, err := lockSession(ctx, tx, "id", c.SessionID)
		if err != nil {
			return err
		}
		defer func() { out = ls.LinkSession }()
		if _, err := step(ctx, tx, &ls, app.StepInput{Step: app.StepAwaitDevices, Devices: len(c.Devices)}, stepData{}); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO link_device_choices (session_id, choice_hash, payload_enc) VALUES ($1, $2, $3)
			ON CONFLICT (session_id) DO UPDATE SET choice_hash = excluded.choice_hash, payload_enc = excluded.payload_enc, created_at = now()`,
			ls.ID, app.HashToken(choice), s.cipher.Seal(plain, choiceAAD(ls.ID))); err != nil {
			return fmt.Errorf("db: keep device choice: %w", err)
		}
		return nil
	})
	if err != nil {
		return out, "", unwrapCommit(err)
	}
	return out, choice, nil
}

// DeviceChoice returns the session a choice token belongs to, how the
// browser presenting it relates to the session's, and the connection that
// waits for the choice (every device of the account). ENOTFOUND for an
// unknown token, or one whose session ended (its row is gone then).
func (s *Store) DeviceChoice(ctx context.Context, choice string, browserHash []byte) (app.LinkSession, app.Browser, app.Connection, error) {
	var row struct {
		app.LinkSession
		BrowserHash []byte `db:"browser_hash"`
		PayloadEnc  []byte `db:"payload_enc"`
	}
	err := openFirst(ctx, s.db, &row, `SELECT `+sessionCols+`, browser_hash, c.payload_enc
		FROM link_sessions JOIN (SELECT session_id, payload_enc FROM link_device_choices WHERE choice_hash = $1) c
		ON c.session_id = id`, app.HashToken(choice))
	if err != nil {
		return app.LinkSession{}, app.BrowserOther, app.Connection{}, fmt.Errorf("db: device choice: %w", notFound(err, "no devices wait for a choice under this token"))
	}
	plain, err := s.cipher.Open(row.PayloadEnc, choiceAAD(row.ID))
	if err != nil {
		return app.LinkSession{}, app.BrowserOther, app.Connection{}, fmt.Errorf("db: device choice: %w", err)
	}
	var p devicePayload
	if err := json.Unmarshal(plain, &p); err != nil {
		return app.LinkSession{}, app.BrowserOther, app.Connection{}, fmt.Errorf("db: device choice: %w", err)
	}
	c := app.Connection{SessionID: row.ID, SupplierID: row.SupplierID, SupplierUserID: row.SupplierUserID,
		ManufacturerID: p.Manufacturer, Devices: p.Devices,
		Tokens: app.OAuthTokens{AccessToken: p.Access, RefreshToken: p.Refresh}}
	if p.Expiry != 0 {
		c.Tokens.Expiry = time.Unix(p.Expiry, 0)
	}
	return row.LinkSession, app.MatchBrowser(row.BrowserHash, browserHash), c, nil
}

// dropDeviceChoice removes what waited for a choice of devices when the
// session ends, in tx.
func dropDeviceChoice(ctx context.Context, tx *sqlx.Tx, sessionID string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM link_device_choices WHERE session_id = $1`, sessionID); err != nil {
		return fmt.Errorf("db: drop device choice: %w", err)
	}
	return nil
}
