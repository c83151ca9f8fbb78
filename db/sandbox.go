package db

import (
	"context"
	"fmt"
	"time"

	"noxportal/app"
)

// SandboxAuthorization is a login in progress at a sandbox manufacturer.
type SandboxAuthorization struct {
	ID            string  `db:"id"`
	Brand         string  `db:"brand"`
	ClientID      string  `db:"client_id"`
	RedirectURI   string  `db:"redirect_uri"`
	State         string  `db:"state"`
	CodeChallenge string  `db:"code_challenge"`
	Scope         string  `db:"scope"`
	Language      string  `db:"language"`
	Username      *string `db:"username"`
}

// SandboxCode is an authorization code issued by a sandbox manufacturer.
type SandboxCode struct {
	Brand         string `db:"brand"`
	ClientID      string `db:"client_id"`
	RedirectURI   string `db:"redirect_uri"`
	CodeChallenge string `db:"code_challenge"`
	Username      string `db:"username"`
	Scope         string `db:"scope"`
}

const sandboxAuthCols = `id, brand, client_id, redirect_uri, state, code_challenge, scope, language, username`

// CreateSandboxAuthorization stores a login that is valid for ttl.
func (s *Store) CreateSandboxAuthorization(ctx context.Context, a SandboxAuthorization, ttl time.Duration) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO sandbox_authorizations (id, brand, client_id, redirect_uri, state, code_challenge, scope, language, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(secs => $9))`,
		a.ID, a.Brand, a.ClientID, a.RedirectURI, a.State, a.CodeChallenge, a.Scope, a.Language, ttl.Seconds())
	if err != nil {
		return fmt.Errorf("db: create sandbox authorization: %w", err)
	}
	return nil
}

// SandboxAuthorization returns an unexpired login of brand, or ENOTFOUND.
func (s *Store) SandboxAuthorization(ctx context.Context, brand, id string) (SandboxAuthorization, error) {
	var a SandboxAuthorization
	err := s.db.GetContext(ctx, &a, `SELECT `+sandboxAuthCols+` FROM sandbox_authorizations
		WHERE id = $1 AND brand = $2 AND expires_at > now()`, id, brand)
	if err != nil {
		return a, fmt.Errorf("db: sandbox authorization: %w", notFound(err, "login expired"))
	}
	return a, nil
}

// SetSandboxUser records who logged in for a login.
func (s *Store) SetSandboxUser(ctx context.Context, id, username string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE sandbox_authorizations SET username = $2 WHERE id = $1`, id, username); err != nil {
		return fmt.Errorf("db: sandbox login: %w", err)
	}
	return nil
}

// FinishSandboxAuthorization consumes a logged-in login exactly once and,
// when allowed, issues a code valid for codeTTL. ENOTFOUND when the login is
// unknown, expired, not logged in or already finished.
func (s *Store) FinishSandboxAuthorization(ctx context.Context, brand, id, code string, allow bool, codeTTL time.Duration) (SandboxAuthorization, error) {
	var a SandboxAuthorization
	err := s.db.GetContext(ctx, &a, `
		WITH a AS (
			DELETE FROM sandbox_authorizations
			WHERE id = $1 AND brand = $2 AND expires_at > now() AND username IS NOT NULL
			RETURNING `+sandboxAuthCols+`
		), c AS (
			INSERT INTO sandbox_codes (code_hash, brand, client_id, redirect_uri, code_challenge, username, scope, expires_at)
			SELECT $3, brand, client_id, redirect_uri, code_challenge, username, scope, now() + make_interval(secs => $5)
			FROM a WHERE $4
		)
		SELECT `+sandboxAuthCols+` FROM a`, id, brand, app.HashToken(code), allow, codeTTL.Seconds())
	if err != nil {
		return a, fmt.Errorf("db: finish sandbox authorization: %w", notFound(err, "login expired"))
	}
	return a, nil
}

// RedeemSandboxCode marks an unexpired code of brand used and returns it;
// a used, expired or unknown code is ENOTFOUND.
func (s *Store) RedeemSandboxCode(ctx context.Context, brand, code string) (SandboxCode, error) {
	var c SandboxCode
	err := s.db.GetContext(ctx, &c, `
		UPDATE sandbox_codes SET used_at = now()
		WHERE code_hash = $1 AND brand = $2 AND used_at IS NULL AND expires_at > now()
		RETURNING brand, client_id, redirect_uri, code_challenge, username, scope`, app.HashToken(code), brand)
	if err != nil {
		return c, fmt.Errorf("db: redeem sandbox code: %w", notFound(err, "invalid code"))
	}
	return c, nil
}

// IssueSandboxToken stores a token of kind (access or refresh).
func (s *Store) IssueSandboxToken(ctx context.Context, brand, username, kind, token string, ttl time.Duration) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO sandbox_tokens (token_hash, brand, username, kind, expires_at)
		VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))`, app.HashToken(token), brand, username, kind, ttl.Seconds())
	if err != nil {
		return fmt.Errorf("db: issue sandbox token: %w", err)
	}
	return nil
}

// SandboxTokenUser returns the user of a valid token of brand and kind, or ENOTFOUND.
func (s *Store) SandboxTokenUser(ctx context.Context, brand, kind, token string) (string, error) {
	var u string
	err := s.db.GetContext(ctx, &u, `
		SELECT username FROM sandbox_tokens
		WHERE token_hash = $1 AND brand = $2 AND kind = $3 AND expires_at > now() AND revoked_at IS NULL`,
		app.HashToken(token), brand, kind)
	if err != nil {
		return "", fmt.Errorf("db: sandbox token: %w", notFound(err, "invalid token"))
	}
	return u, nil
}
