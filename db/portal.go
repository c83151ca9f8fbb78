package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"noxportal/app"
)

const portalUserCols = `u.id, coalesce(u.email, '') AS email, u.name, u.role, u.password_hash,
	coalesce(u.nox_user_id, m.nox_user_id, '') AS nox_user_id,
	coalesce(u.supplier_id, '') AS supplier_id, coalesce(u.supplier_user_id, '') AS supplier_user_id,
	coalesce(s.name, '') AS supplier_name, coalesce(u.team_supplier_id, '') AS team_supplier_id,
	u.time_zone, u.time_zone_chosen`

// portalUserFrom joins what a PortalUser needs; a supplier's user gets its
// nox user from the supplier mapping (which exists once a device is linked).
const portalUserFrom = ` FROM portal_users u
	LEFT JOIN supplier_mappings m ON m.supplier_id = u.supplier_id AND m.supplier_user_id = u.supplier_user_id
	LEFT JOIN suppliers s ON s.id = coalesce(u.supplier_id, u.team_supplier_id)`

// CreatePortalUser creates an email + password account. A customer without
// a NoxUserID gets a new nox user. EINVALID for a bad role or password,
// ECONFLICT when the email is taken.
func (s *Store) CreatePortalUser(ctx context.Context, n app.NewPortalUser) (app.PortalUser, error) {
	var id int64
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		id, err = createPortalUser(ctx, tx, n)
		return err
	})
	if err != nil {
		return app.PortalUser{}, err
	}
	return s.GetPortalUser(ctx, id)
}

// createPortalUser is CreatePortalUser in tx; it returns the new id.
func createPortalUser(ctx context.Context, tx *sqlx.Tx, n app.NewPortalUser) (int64, error) {
	if !app.ValidRole(n.Role) {
		return 0, app.Errorf(app.EINVALID, "unknown role %q", n.Role)
	}
	if app.IsTeamRole(n.Role) != (n.TeamSupplierID != "") {
		return 0, app.Errorf(app.EINVALID, "role %q and supplier %q do not go together", n.Role, n.TeamSupplierID)
	}
	email := app.NormalizeEmail(n.Email)
	if len(email) < 3 || len(email) > 254 {
		return 0, app.ReasonErrorf(app.EINVALID, "invalid_email", "The email address is not valid.")
	}
	hash, err := app.HashPassword(n.Password)
	if err != nil {
		return 0, err
	}
	nox := n.NoxUserID
	if nox == "" && n.Role == app.RoleCustomer {
		nox = "nox_" + app.RandomToken(24)
		if _, err := tx.ExecContext(ctx, `INSERT INTO nox_users (id) VALUES ($1)`, nox); err != nil {
			return 0, fmt.Errorf("db: create nox user: %w", err)
		}
	}
	var id int64
	err = tx.GetContext(ctx, &id, `
		INSERT INTO portal_users (email, name, role, password_hash, nox_user_id, team_supplier_id)
		VALUES ($1, $2, $3, $4, NULLIF($5, ''), NULLIF($6, '')) RETURNING id`, email, n.Name, n.Role, hash, nox, n.TeamSupplierID)
	if isUniqueViolation(err) {
		return 0, app.ReasonErrorf(app.ECONFLICT, "email_taken", "An account with this email already exists.")
	} else if err != nil {
		return 0, fmt.Errorf("db: create portal user: %w", err)
	}
	return id, nil
}

// GetPortalUser returns an account by id, or ENOTFOUND (also for a disabled one).
func (s *Store) GetPortalUser(ctx context.Context, id int64) (app.PortalUser, error) {
	var u app.PortalUser
	err := s.db.GetContext(ctx, &u, `SELECT `+portalUserCols+portalUserFrom+` WHERE u.id = $1 AND u.disabled_at IS NULL`, id)
	if err != nil {
		return u, fmt.Errorf("db: get portal user: %w", notFound(err, "portal user not found"))
	}
	return u, nil
}

// PortalUserByEmail returns the enabled account with that email (any case), or ENOTFOUND.
func (s *Store) PortalUserByEmail(ctx context.Context, email string) (app.PortalUser, error) {
	var u app.PortalUser
	err := s.db.GetContext(ctx, &u, `SELECT `+portalUserCols+portalUserFrom+`
		WHERE lower(u.email) = $1 AND u.disabled_at IS NULL`, app.NormalizeEmail(email))
	if err != nil {
		return u, fmt.Errorf("db: portal user by email: %w", notFound(err, "portal user not found"))
	}
	return u, nil
}

// SupplierPortalUser returns the customer account of a supplier's user,
// creating it (without email or password) the first time.
func (s *Store) SupplierPortalUser(ctx context.Context, supplierID, supplierUserID string) (app.PortalUser, error) {
	var id int64
	err := s.db.GetContext(ctx, &id, `
		INSERT INTO portal_users (role, supplier_id, supplier_user_id) VALUES ('customer', $1, $2)
		ON CONFLICT (supplier_id, supplier_user_id) DO UPDATE SET updated_at = portal_users.updated_at
		RETURNING id`, supplierID, supplierUserID)
	if err != nil {
		return app.PortalUser{}, fmt.Errorf("db: supplier portal user: %w", err)
	}
	return s.GetPortalUser(ctx, id)
}

// CreatePortalSession starts a session for user that ends absolute after
// now at the latest. It returns the new session.
func (s *Store) CreatePortalSession(ctx context.Context, userID int64, absolute time.Duration, ip, userAgent string) (app.PortalSession, error) {
	var ps app.PortalSession
	err := s.db.GetContext(ctx, &ps, `
		INSERT INTO portal_sessions (id, portal_user_id, expires_at, ip, user_agent)
		VALUES ($1, $2, now() + make_interval(secs => $3), $4, $5)
		RETURNING id, portal_user_id, created_at, last_seen_at, expires_at`,
		"ps_"+app.RandomToken(32), userID, absolute.Seconds(), truncateStr(ip, 64), truncateStr(userAgent, 300))
	if err != nil {
		return ps, fmt.Errorf("db: create portal session: %w", err)
	}
	return ps, nil
}

// ActivePortalSession returns a session and its user when the session is
// not revoked, was used within idle and is before its absolute expiry, the
// user is enabled and is userID. Anything else is EUNAUTHORIZED.
func (s *Store) ActivePortalSession(ctx context.Context, sid string, userID int64, idle time.Duration) (app.PortalSession, app.PortalUser, error) {
	var ps app.PortalSession
	err := s.db.GetContext(ctx, &ps, `
		SELECT id, portal_user_id, created_at, last_seen_at, expires_at FROM portal_sessions
		WHERE id = $1 AND portal_user_id = $2 AND revoked_at IS NULL
		  AND expires_at > now() AND last_seen_at > now() - make_interval(secs => $3)`,
		sid, userID, idle.Seconds())
	if errors.Is(err, sql.ErrNoRows) {
		return ps, app.PortalUser{}, app.Errorf(app.EUNAUTHORIZED, "session ended")
	} else if err != nil {
		return ps, app.PortalUser{}, fmt.Errorf("db: portal session: %w", err)
	}
	u, err := s.GetPortalUser(ctx, userID)
	if app.IsNotFound(err) {
		return ps, u, app.Errorf(app.EUNAUTHORIZED, "session ended")
	}
	return ps, u, err
}

// TouchPortalSession records activity on a live session and returns its
// new last_seen_at.
func (s *Store) TouchPortalSession(ctx context.Context, sid string) (time.Time, error) {
	var t time.Time
	err := s.db.GetContext(ctx, &t, `UPDATE portal_sessions SET last_seen_at = now()
		WHERE id = $1 AND revoked_at IS NULL RETURNING last_seen_at`, sid)
	if err != nil {
		return t, fmt.Errorf("db: touch portal session: %w", notFound(err, "session not found"))
	}
	return t, nil
}

// RevokePortalSession ends one session; revoking an ended session is a no-op.
func (s *Store) RevokePortalSession(ctx context.Context, sid string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE portal_sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL`, sid); err != nil {
		return fmt.Errorf("db: revoke portal session: %w", err)
	}
	return nil
}

// RevokePortalSessions ends every session of a user and returns how many it ended.
func (s *Store) RevokePortalSessions(ctx context.Context, userID int64) (int, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE portal_sessions SET revoked_at = now()
		WHERE portal_user_id = $1 AND revoked_at IS NULL`, userID)
	if err != nil {
		return 0, fmt.Errorf("db: revoke portal sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// LoginThrottled reports whether sign-in is locked for the account key or
// the IP: at least maxAccount (or maxIP) failures within window. retry is
// when the oldest counted failure leaves the window.
func (s *Store) LoginThrottled(ctx context.Context, accountKey []byte, ip string, window time.Duration, maxAccount, maxIP int) (bool, time.Duration, error) {
	var row struct {
		Account int       `db:"account"`
		IP      int       `db:"ip"`
		Retry   *float64  `db:"retry"`
		Now     time.Time `db:"now"`
	}
	err := s.db.GetContext(ctx, &row, `
		WITH a AS (SELECT created_at FROM login_failures WHERE account_key = $1 AND created_at > now() - make_interval(secs => $3)),
		     i AS (SELECT created_at FROM login_failures WHERE ip = $2 AND created_at > now() - make_interval(secs => $3))
		SELECT (SELECT count(*) FROM a) AS account, (SELECT count(*) FROM i) AS ip,
		       extract(epoch FROM (least((SELECT min(created_at) FROM a), (SELECT min(created_at) FROM i))
		           + make_interval(secs => $3) - now()))::float8 AS retry,
		       now() AS now`, accountKey, ip, window.Seconds())
	if err != nil {
		return false, 0, fmt.Errorf("db: login throttle: %w", err)
	}
	if row.Account < maxAccount && row.IP < maxIP {
		return false, 0, nil
	}
	retry := window
	if row.Retry != nil && *row.Retry > 0 {
		retry = time.Duration(*row.Retry * float64(time.Second))
	}
	return true, retry, nil
}

// RecordLoginFailure counts one failed sign-in for the account key and IP.
func (s *Store) RecordLoginFailure(ctx context.Context, accountKey []byte, ip string) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO login_failures (account_key, ip) VALUES ($1, $2)`, accountKey, ip); err != nil {
		return fmt.Errorf("db: record login failure: %w", err)
	}
	return nil
}

// ClearLoginFailures forgets an account's failures after a successful sign-in.
func (s *Store) ClearLoginFailures(ctx context.Context, accountKey []byte) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM login_failures WHERE account_key = $1`, accountKey); err != nil {
		return fmt.Errorf("db: clear login failures: %w", err)
	}
	return nil
}

// WriteAudit appends one entry to the audit log.
func (s *Store) WriteAudit(ctx context.Context, e app.AuditEntry) error {
	return writeAudit(ctx, s.db, e)
}

// writeAudit appends an audit entry with q (the Store's pool or a
// transaction, so the entry commits with the change it describes).
func writeAudit(ctx context.Context, q sqlx.ExecerContext, e app.AuditEntry) error {
	before, err := auditJSON(e.Before)
	if err != nil {
		return err
	}
	after, err := auditJSON(e.After)
	if err != nil {
		return err
	}
	if _, err := q.ExecContext(ctx, `
		INSERT INTO audit_log (actor_id, action, object_type, object_id, before, after, ip)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		e.ActorID, e.Action, e.ObjectType, e.ObjectID, before, after, e.IP); err != nil {
		return fmt.Errorf("db: write audit: %w", err)
	}
	return nil
}

func auditJSON(v any) (*string, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("db: audit json: %w", err)
	}
	s := string(b)
	return &s, nil
}

func truncateStr(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
