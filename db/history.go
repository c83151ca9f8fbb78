package db

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// HistoryMonthsAhead is how many months after the current one have their
// history partitions made in advance.
const HistoryMonthsAhead = 3

// historyTables are the tables partitioned by month (migration 00140), in
// the order their partitions are detached: webhook_attempts before the
// deliveries it references.
var historyTables = []string{"webhook_attempts", "webhook_deliveries", "link_events", "report_deltas", "link_sessions"}

var historyPartition = regexp.MustCompile(`^(webhook_attempts|webhook_deliveries|link_events|report_deltas|link_sessions)_p(\d{6})$`)

// HistoryRetention says how long each partitioned history is kept; a zero
// keeps it.
type HistoryRetention struct {
	// LinkEvents: months whose end is older than this are dropped.
	LinkEvents time.Duration
	// LinkSessions: months of finished link sessions (by creation) whose
	// end is older than this are dropped.
	LinkSessions time.Duration
	// Webhooks: a month of deliveries and their attempts is dropped once it
	// ended this long ago, none of its deliveries is pending and none
	// finished within this.
	Webhooks time.Duration
}

// HistoryChanges are the partitions one MaintainHistory made and dropped.
type HistoryChanges struct {
	Made    int
	Dropped []string
}

// MaintainHistory keeps the monthly partitions of the history tables: it
// makes them from the month before now to HistoryMonthsAhead months after
// (and for any month whose rows a default partition caught, moving them
// in), then detaches and drops the months past their retention:
// link_events after r.LinkEvents, finished link sessions after
// r.LinkSessions, webhook deliveries with their attempts after r.Webhooks,
// and report_deltas once the fold has emptied them; the
// current and the previous month always stay. Instances may run it at once: an advisory lock
// serialises them, and a lock it cannot get within lock_timeout fails this
// run rather than queue the tables' writers behind it.
func (s *Store) MaintainHistory(ctx context.Context, now time.Time, r HistoryRetention) (HistoryChanges, error) {
	var out HistoryChanges
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		out = HistoryChanges{}
		for _, q := range []string{`SET LOCAL lock_timeout = '1s'`, `SELECT pg_advisory_xact_lock(hashtext('noxportal.history_partitions'))`} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("db: history partitions: %w", err)
			}
		}
		if err := tx.GetContext(ctx, &out.Made, `
			SELECT coalesce(sum(history_ensure_month(m)), 0) FROM (
				SELECT (date_trunc('month', $1::timestamptz AT TIME ZONE 'UTC') + make_interval(months => k))::date AS m
				FROM generate_series(-1, $2::int) k
				UNION SELECT date_trunc('month', created_at AT TIME ZONE 'UTC')::date FROM link_events_default
				UNION SELECT date_trunc('month', created_at AT TIME ZONE 'UTC')::date FROM webhook_deliveries_default
				UNION SELECT date_trunc('month', delivery_created_at AT TIME ZONE 'UTC')::date FROM webhook_attempts_default
				UNION SELECT date_trunc('month', created_at AT TIME ZONE 'UTC')::date FROM report_deltas_default
				UNION SELECT history_month FROM link_sessions_default
			) months`, now, HistoryMonthsAhead); err != nil {
			return fmt.Errorf("db: make history partitions: %w", err)
		}
		parts, err := historyPartitions(ctx, tx)
		if err != nil {
			return err
		}
		// The month before this one is kept whatever its retention: it is
		// made again on every run.
		lastMonth := time.Date(now.UTC().Year(), now.UTC().Month()-1, 1, 0, 0, 0, 0, time.UTC)
		drop := map[string]bool{}
		for _, p := range parts {
			if !p.month.Before(lastMonth) {
				continue
			}
			end := p.month.AddDate(0, 1, 0)
			var ok bool
			switch p.table {
			case "link_events":
				ok = r.LinkEvents > 0 && !end.After(now.Add(-r.LinkEvents))
			case "link_sessions":
				// A month partition holds finished sessions only (the
				// open ones are in link_sessions_open).
				ok = r.LinkSessions > 0 && !end.After(now.Add(-r.LinkSessions))
			case "webhook_deliveries":
				if r.Webhooks > 0 && !end.After(now.Add(-r.Webhooks)) {
					if err := tx.GetContext(ctx, &ok, `SELECT NOT EXISTS (SELECT 1 FROM `+pq.QuoteIdentifier(p.name)+` WHERE status = 'pending')
						AND NOT EXISTS (SELECT 1 FROM `+pq.QuoteIdentifier(p.name)+` WHERE finished_at >= $1)`, now.Add(-r.Webhooks)); err != nil {
						return fmt.Errorf("db: history partition %s: %w", p.name, err)
					}
				}
			case "report_deltas":
				if err := tx.GetContext(ctx, &ok, `SELECT NOT EXISTS (SELECT 1 FROM `+pq.QuoteIdentifier(p.name)+`)`); err != nil {
					return fmt.Errorf("db: history partition %s: %w", p.name, err)
				}
			}
			if ok {
				drop[p.name] = true
			}
		}
		// A month of attempts goes with its deliveries, never alone.
		for _, p := range parts {
			if p.table == "webhook_attempts" {
				drop[p.name] = drop["webhook_deliveries_p"+p.month.Format("200601")]
			}
		}
		for _, p := range parts {
			if !drop[p.name] {
				continue
			}
			// Detached first: a partition of a table another table's
			// foreign key references can only be dropped once detached.
			if _, err := tx.ExecContext(ctx, `ALTER TABLE `+pq.QuoteIdentifier(p.table)+` DETACH PARTITION `+pq.QuoteIdentifier(p.name)); err != nil {
				return fmt.Errorf("db: detach %s: %w", p.name, err)
			}
			if _, err := tx.ExecContext(ctx, `DROP TABLE `+pq.QuoteIdentifier(p.name)); err != nil {
				return fmt.Errorf("db: drop %s: %w", p.name, err)
			}
			out.Dropped = append(out.Dropped, p.name)
		}
		return nil
	})
	return out, err
}

type historyPart struct {
	table, name string
	month       time.Time
}

// historyPartitions returns the month partitions of the history tables,
// oldest first, attempts before deliveries within a month.
func historyPartitions(ctx context.Context, tx *sqlx.Tx) ([]historyPart, error) {
	var names []string
	if err := tx.SelectContext(ctx, &names, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = ANY($1::regclass[])`, pq.Array(historyTables)); err != nil {
		return nil, fmt.Errorf("db: history partitions: %w", err)
	}
	order := map[string]int{}
	for i, t := range historyTables {
		order[t] = i
	}
	var out []historyPart
	for _, n := range names {
		m := historyPartition.FindStringSubmatch(n)
		if m == nil {
			continue
		}
		month, err := time.Parse("200601", m[2])
		if err != nil {
			continue
		}
		out = append(out, historyPart{table: m[1], name: n, month: month})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].month.Equal(out[j].month) {
			return out[i].month.Before(out[j].month)
		}
		return order[out[i].table] < order[out[j].table]
	})
	return out, nil
}
