package db

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"noxportal/app"
)

// The hosted pages read a session on every view, by its token. That read is
// most of a repeat view's work, so it scans straight into the fields
// instead of going through sqlx's mapping of columns to struct fields by
// reflection (about a quarter of the read's CPU), and it is one prepared
// statement per partition choice: one round trip (Bind, Execute, Sync in one
// write) for a session in the open partition.

const viewSessionQuery = `SELECT id, kind, coalesce(supplier_id, ''), supplier_user_id, redirect_uri, language, initiator,
	status, failure_reason, manufacturer_id, brand_preselected, nox_user_id, created_at,
	opened_at, brand_selected_at, authorizing_at, callback_at, finished_at, expires_at, manufacturer_user_id,
	failure_screens, held_reason, browser_hash, now()
	FROM link_sessions WHERE token_hash = $1`

var viewSessionOpenQuery = strings.Replace(viewSessionQuery, "FROM link_sessions ", "FROM "+sessionsOpen+" ", 1)

// viewSession returns the session of the token hash with its browser hash
// and the database's now (no PKCE verifier), looking in the open partition
// first; sql.ErrNoRows when there is none.
func (s *Store) viewSession(ctx context.Context, tokenHash []byte) (lockedSession, error) {
	ls, err := s.scanViewSession(ctx, viewSessionOpenQuery, tokenHash)
	if errors.Is(err, sql.ErrNoRows) {
		ls, err = s.scanViewSession(ctx, viewSessionQuery, tokenHash)
	}
	return ls, err
}

func (s *Store) scanViewSession(ctx context.Context, query string, tokenHash []byte) (lockedSession, error) {
	var (
		ls                                  lockedSession
		kind, status                        string
		reason, brand, noxUser, held        sql.NullString
		opened, chosen, authz, callback, fi sql.NullTime
	)
	err := s.prep.QueryRowxContext(ctx, query, tokenHash).Scan(&ls.ID, &kind, &ls.SupplierID, &ls.SupplierUserID,
		&ls.RedirectURI, &ls.Language, &ls.Initiator, &status, &reason, &brand, &ls.Preselected, &noxUser, &ls.CreatedAt,
		&opened, &chosen, &authz, &callback, &fi, &ls.ExpiresAt, &ls.ManufacturerUserID,
		&ls.FailureScreens, &held, &ls.BrowserHash, &ls.Now)
	if err != nil {
		return ls, err
	}
	ls.Kind, ls.Status = app.SessionKind(kind), app.SessionStatus(status)
	ls.FailureReason, ls.ManufacturerID, ls.NoxUserID = nullString(reason), nullString(brand), nullString(noxUser)
	ls.HeldReason = nullString(held)
	ls.OpenedAt, ls.BrandAt, ls.AuthorizingAt = nullTime(opened), nullTime(chosen), nullTime(authz)
	ls.CallbackAt, ls.FinishedAt = nullTime(callback), nullTime(fi)
	return ls, nil
}

func nullString(v sql.NullString) *string {
	if !v.Valid {
		return nil
	}
	return &v.String
}

func nullTime(v sql.NullTime) *time.Time {
	if !v.Valid {
		return nil
	}
	return &v.Time
}
