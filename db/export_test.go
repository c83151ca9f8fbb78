package db

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"noxportal/app"
)

// SweepAgreement runs, at the database's now, the SQL selection of the
// sweep step st and app.Decide of st on every open session; it returns the
// ids each takes, and writes nothing.
func SweepAgreement(ctx context.Context, s *Store, st app.Step) (selected, decided []string, err error) {
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		var now time.Time
		if err := tx.GetContext(ctx, &now, `SELECT now()`); err != nil {
			return err
		}
		cands, err := sweepCandidates(ctx, tx, st, now, 1_000_000)
		if err != nil {
			return err
		}
		for _, c := range cands {
			selected = append(selected, c.ID)
		}
		var all []sweepCandidate
		if err := tx.SelectContext(ctx, &all, `SELECT `+sessionCols+`, callback_lease_until FROM `+sessionsOpen+` ORDER BY id`); err != nil {
			return err
		}
		for _, c := range all {
			if c.Decide(c.input(st, now)).Ends() {
				decided = append(decided, c.ID)
			}
		}
		return errRollback
	})
	if err == errRollback {
		err = nil
	}
	return selected, decided, err
}

var errRollback = app.Errorf(app.EINTERNAL, "rolled back")
