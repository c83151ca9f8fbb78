package db

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"noxportal/app"
)

// RecordBrowserTimeZone stores the time zone a customer's browser reported,
// unless the customer chose one (which wins over any browser).
func (s *Store) RecordBrowserTimeZone(ctx context.Context, portalUserID int64, zone string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE portal_users SET time_zone = $2
		WHERE id = $1 AND NOT time_zone_chosen AND time_zone <> $2`, portalUserID, zone); err != nil {
		return fmt.Errorf("db: record browser time zone: %w", err)
	}
	return nil
}

// ChooseTimeZone stores the customer's choice: a zone, which then wins over
// any browser, or "" to follow the browser again (browserZone, the one it
// reports now, is kept as the stored zone). The change is audited in the
// same transaction.
func (s *Store) ChooseTimeZone(ctx context.Context, portalUserID int64, zone, browserZone string, actor app.AuditEntry) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		var before struct {
			Zone   string `db:"time_zone"`
			Chosen bool   `db:"time_zone_chosen"`
		}
		if err := tx.GetContext(ctx, &before, `SELECT time_zone, time_zone_chosen FROM portal_users WHERE id = $1 FOR UPDATE`,
			portalUserID); err != nil {
			return fmt.Errorf("db: lock portal user: %w", notFound(err, "portal user not found"))
		}
		stored, chosen := zone, zone != ""
		if !chosen {
			stored = browserZone
		}
		if _, err := tx.ExecContext(ctx, `UPDATE portal_users SET time_zone = $2, time_zone_chosen = $3, updated_at = now()
			WHERE id = $1`, portalUserID, stored, chosen); err != nil {
			return fmt.Errorf("db: choose time zone: %w", err)
		}
		actor.Action, actor.ObjectType, actor.ObjectID = "portal_user.time_zone", "portal_user", fmt.Sprint(portalUserID)
		actor.Before = map[string]any{"time_zone": before.Zone, "chosen": before.Chosen}
		actor.After = map[string]any{"time_zone": stored, "chosen": chosen}
		return writeAudit(ctx, tx, actor)
	})
}

// ReissueCustomerLink gives a link in progress that the portal user started
// a new token, so the dashboard can send them back into it (the token
// itself is stored only as a hash). The old token stops working. ENOTFOUND
// for another user's link or one that has ended or expired.
func (s *Store) ReissueCustomerLink(ctx context.Context, portalUserID int64, sessionID string) (string, error) {
	token := app.RandomToken(48)
	res, err := s.db.ExecContext(ctx, `UPDATE `+sessionsOpen+` SET token_hash = $3
		WHERE id = $1 AND portal_user_id = $2 AND status IN `+unfinishedSQL+`
		  AND expires_at > now()`, sessionID, portalUserID, app.HashToken(token))
	if err != nil {
		return "", fmt.Errorf("db: reissue customer link: %w", err)
	}
	s.views.dropIDs([]string{sessionID})
	if n, _ := res.RowsAffected(); n == 0 {
		return "", app.Errorf(app.ENOTFOUND, "link session not found")
	}
	return token, nil
}
