package db

import (
	"context"
	"fmt"
)

// SetLinkSessionLanguage changes the language of an unfinished link
// session's pages (the user chose another one on a hosted page).
func (s *Store) SetLinkSessionLanguage(ctx context.Context, sessionID, lang string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE link_sessions SET language = $2
		WHERE id = $1 AND language <> $2`, sessionID, lang); err != nil {
		return fmt.Errorf("db: link session language: %w", err)
	}
	s.views.dropIDs([]string{sessionID})
	return nil
}
