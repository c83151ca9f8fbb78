package db

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

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

// AnswerSandboxConsent answers a logged-in login of brand once: Allow issues
// a code valid for codeTTL, Deny an access_denied answer; it returns the
// redirect to the client with the state, and the login's language. A
// second submit of the same login (a double click) gets the first answer
// again, whatever it chose. ENOTFOUND when the login is unknown, expired or
// not logged in.
func (s *Store) AnswerSandboxConsent(ctx context.Context, brand, id string, allow bool, codeTTL time.Duration) (redirect, lang string, err error) {
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		var a struct {
			SandboxAuthorization
			AnswerEnc []byte `db:"answer_enc"`
		}
		if err := tx.GetContext(ctx, &a, `SELECT `+sandboxAuthCols+`, answer_enc FROM sandbox_authorizations
			WHERE id = $1 AND brand = $2 AND expires_at > now() AND username IS NOT NULL FOR UPDATE`, id, brand); err != nil {
			return fmt.Errorf("db: sandbox consent: %w", notFound(err, "login expired"))
		}
		lang = a.Language
		aad := []byte("sandbox-answer:" + a.ID)
		if a.AnswerEnc != nil {
			u, err := s.cipher.Open(a.AnswerEnc, aad)
			redirect = string(u)
			return err
		}
		params := [][2]string{{"error", "access_denied"}, {"state", a.State}}
		if allow {
			code := app.RandomToken(40)
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO sandbox_codes (code_hash, brand, client_id, redirect_uri, code_challenge, username, scope, expires_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))`,
				app.HashToken(code), a.Brand, a.ClientID, a.RedirectURI, a.CodeChallenge, a.Username, a.Scope, codeTTL.Seconds()); err != nil {
				return fmt.Errorf("db: sandbox code: %w", err)
			}
			params = [][2]string{{"code", code}, {"state", a.State}}
		}
		redirect = app.AppendQuery(a.RedirectURI, params)
		if _, err := tx.ExecContext(ctx, `UPDATE sandbox_authorizations SET answer_enc = $2 WHERE id = $1`,
			a.ID, s.cipher.Seal([]byte(redirect), aad)); err != nil {
			return fmt.Errorf("db: sandbox answer: %w", err)
		}
		return nil
	})
	return redirect, lang, err
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
