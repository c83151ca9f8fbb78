package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Link sessions live in one of the partitions of link_sessions (migration
// 00141): link_sessions_open holds every unfinished session and those
// finished less than FinishedSessionsStayOpen ago; MoveFinishedSessions
// moves older finished ones into their creation month's partition. A
// reader that names only link_sessions sees every session wherever it is;
// the hosted flow's lookups by token, state or id look in the small open
// partition first (one index probe whatever the history size) and in the
// months only when it has no such session (an old link opened again).

// FinishedSessionsStayOpen is how long a finished session stays in the open
// partition: the steps that still come for it right after its end (the
// return to the supplier, a reload of the done page, the supplier's first
// GET) find it with one probe, and the mover rarely meets a step on the
// same row.
const FinishedSessionsStayOpen = 10 * time.Minute

// MoveFinishedSessionsBatch is how many sessions one move statement takes.
const MoveFinishedSessionsBatch = 1000

// sessionsOpen is the partition of link_sessions holding the sessions not
// moved into history; its history_month is 'infinity'.
const sessionsOpen = "link_sessions_open"

// MoveFinishedSessions moves the sessions that finished before
// finishedBefore from the open partition into their month, in batches of
// MoveFinishedSessionsBatch, and returns how many it moved. Each batch is
// one UPDATE of history_month in its own transaction: Postgres deletes the
// row from the open partition and inserts it into the month within that
// transaction, so a process that dies mid-move leaves every session in
// exactly one place. Rows another transaction holds (a step in progress,
// another instance's mover) are skipped and taken by a later run. The
// report triggers are off for the move (noxportal.skip_report_rollups): a
// move changes nothing the reports count.
func (s *Store) MoveFinishedSessions(ctx context.Context, finishedBefore time.Time) (int, error) {
	total := 0
	for {
		var n int64
		err := s.inTx(ctx, func(tx *sqlx.Tx) error {
			if _, err := tx.ExecContext(ctx, `SET LOCAL noxportal.skip_report_rollups = on`); err != nil {
				return fmt.Errorf("db: move finished sessions: %w", err)
			}
			res, err := tx.ExecContext(ctx, `
				WITH m AS (
					SELECT id FROM `+sessionsOpen+` WHERE finished_at < $1
					ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED)
				UPDATE link_sessions s SET history_month = date_trunc('month', s.created_at AT TIME ZONE 'UTC')::date
				FROM m WHERE s.history_month = 'infinity' AND s.id = m.id`, finishedBefore, MoveFinishedSessionsBatch)
			if err != nil {
				return fmt.Errorf("db: move finished sessions: %w", err)
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, err
		}
		total += int(n)
		if n < MoveFinishedSessionsBatch {
			return total, nil
		}
	}
}

// openFirst runs query, whose FROM names link_sessions, against the open
// partition, and when that finds no row against every partition. dest is
// filled as by sqlx.Get.
func openFirst(ctx context.Context, q sqlx.QueryerContext, dest any, query string, args ...any) error {
	open := strings.Replace(query, "FROM link_sessions ", "FROM "+sessionsOpen+" ", 1)
	if open == query {
		panic("db: openFirst: query does not read link_sessions: " + query)
	}
	err := sqlx.GetContext(ctx, q, dest, open, args...)
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	return sqlx.GetContext(ctx, q, dest, query, args...)
}

// isMovedRow reports whether err is Postgres refusing to lock or update a
// row that a concurrent transaction moved to another partition (a session
// the mover took while a step waited for it). Nothing was written; the
// transaction may run again and find the row in its new partition.
func isMovedRow(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && pe.Code == "40001" && strings.Contains(pe.Message, "moved to another partition")
}
