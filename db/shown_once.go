package db

import (
	"context"
	"fmt"
	"time"

	"noxportal/app"
)

// shownOnceTTL is how long a secret waits for the page view after its action.
const shownOnceTTL = 10 * time.Minute

func shownOnceAAD(id, sessionID, kind string) []byte {
	return []byte("shown_once:" + id + ":" + sessionID + ":" + kind)
}

// KeepShownOnce stores secret (encrypted) for one later read by the same
// portal session and returns the id to read it with. Expired secrets of
// every session are dropped on the way.
func (s *Store) KeepShownOnce(ctx context.Context, sessionID, kind, secret string) (string, error) {
	id := app.RandomToken(24)
	if _, err := s.db.ExecContext(ctx, `DELETE FROM shown_once WHERE expires_at < now()`); err != nil {
		return "", fmt.Errorf("db: drop expired shown-once secrets: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `
		INSERT INTO shown_once (id, portal_session_id, kind, secret_enc, expires_at)
		VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))`,
		id, sessionID, kind, s.cipher.Seal([]byte(secret), shownOnceAAD(id, sessionID, kind)), shownOnceTTL.Seconds()); err != nil {
		return "", fmt.Errorf("db: keep shown-once secret: %w", err)
	}
	return id, nil
}

// TakeShownOnce returns the secret KeepShownOnce stored under id for this
// portal session and kind, and deletes it; ENOTFOUND when it was already
// read, expired or belongs to another session.
func (s *Store) TakeShownOnce(ctx context.Context, sessionID, kind, id string) (string, error) {
	var enc []byte
	err := s.db.GetContext(ctx, &enc, `
		DELETE FROM shown_once WHERE id = $1 AND portal_session_id = $2 AND kind = $3 AND expires_at > now()
		RETURNING secret_enc`, id, sessionID, kind)
	if err != nil {
		return "", fmt.Errorf("db: take shown-once secret: %w", notFound(err, "the secret was already shown"))
	}
	b, err := s.cipher.Open(enc, shownOnceAAD(id, sessionID, kind))
	if err != nil {
		return "", fmt.Errorf("db: open shown-once secret: %w", err)
	}
	return string(b), nil
}
