package db

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"noxportal/app"
)

// The API request log is written off the request path: RecordAPIRequest
// puts the row in a bounded buffer and returns at once; RunRequestLog
// writes what the buffer holds in one statement every requestLogFlush and
// keeps the day partitions (creates the next days', drops those past
// app.RequestLogRetention). When the buffer is full a row is dropped and
// counted rather than making a request wait; a killed process loses at most
// the rows of its last flush interval.

const (
	requestLogBuffer   = 8192
	requestLogBatchMax = 1000
	requestLogFlush    = 250 * time.Millisecond
	requestLogMaintain = time.Hour
	// requestLogAhead is how many days after today get a partition.
	requestLogAhead = 2
)

type requestLog struct {
	rows    chan app.APIRequest
	dropped atomic.Int64
	// reported is the dropped count last told to the observer (only the
	// RunRequestLog loop reads and writes it).
	reported int64
}

func newRequestLog() *requestLog {
	return &requestLog{rows: make(chan app.APIRequest, requestLogBuffer)}
}

// RecordAPIRequest queues r for the request log without waiting; it is
// dropped (and counted) when the buffer is full.
func (s *Store) RecordAPIRequest(r app.APIRequest) {
	select {
	case s.reqlog.rows <- r:
	default:
		s.reqlog.dropped.Add(1)
	}
}

// RunRequestLog writes queued requests and maintains the partitions until
// ctx ends, then writes what is left.
func (s *Store) RunRequestLog(ctx context.Context, log *slog.Logger) {
	if err := s.MaintainRequestLog(ctx, time.Now()); err != nil && ctx.Err() == nil {
		log.Error("request log maintenance failed", "err", err)
	}
	flush := time.NewTicker(requestLogFlush)
	defer flush.Stop()
	maintain := time.NewTicker(requestLogMaintain)
	defer maintain.Stop()
	for {
		select {
		case <-ctx.Done():
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			for s.flushRequestLog(wctx, log) > 0 {
			}
			return
		case <-flush.C:
			for s.flushRequestLog(ctx, log) == requestLogBatchMax {
			}
		case <-maintain.C:
			if err := s.MaintainRequestLog(ctx, time.Now()); err != nil && ctx.Err() == nil {
				log.Error("request log maintenance failed", "err", err)
			}
		}
	}
}

// flushRequestLog writes up to requestLogBatchMax queued rows and returns
// how many it took from the buffer. Rows written and dropped since the last
// flush go to the context's observer.
func (s *Store) flushRequestLog(ctx context.Context, log *slog.Logger) int {
	var batch []app.APIRequest
	for len(batch) < requestLogBatchMax {
		select {
		case r := <-s.reqlog.rows:
			batch = append(batch, r)
			continue
		default:
		}
		break
	}
	written := len(batch)
	if written > 0 {
		if err := s.insertAPIRequests(ctx, batch); err != nil {
			s.reqlog.dropped.Add(int64(written))
			written = 0
			log.Error("request log write failed", "rows", len(batch), "err", err)
		}
	}
	dropped := s.reqlog.dropped.Load()
	if d := dropped - s.reqlog.reported; d > 0 || written > 0 {
		s.reqlog.reported = dropped
		app.ObserverFrom(ctx).APIRequestsLogged(written, int(d))
	}
	return len(batch)
}

func (s *Store) insertAPIRequests(ctx context.Context, rows []app.APIRequest) error {
	n := len(rows)
	at, sup, key := make([]time.Time, n), make([]string, n), make([]int64, n)
	method, route, suid := make([]string, n), make([]string, n), make([]string, n)
	status, code, lat := make([]int64, n), make([]string, n), make([]int64, n)
	rid, idem := make([]string, n), make([]string, n)
	for i, r := range rows {
		at[i], sup[i], key[i], method[i], route[i], suid[i] = r.At, r.SupplierID, r.KeyID, r.Method, r.Route, r.SupplierUserID
		status[i], code[i], lat[i], rid[i], idem[i] = int64(r.Status), r.ErrorCode, int64(r.LatencyUS), r.RequestID, r.IdempotencyKey
	}
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO api_requests (created_at, supplier_id, key_id, method, route, supplier_user_id, status, error_code,
			latency_us, request_id, idempotency_key)
		SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[],
			$7::smallint[], $8::text[], $9::integer[], $10::text[], $11::text[])`,
		pq.Array(at), pq.Array(sup), pq.Array(key), pq.Array(method), pq.Array(route), pq.Array(suid),
		pq.Array(status), pq.Array(code), pq.Array(lat), pq.Array(rid), pq.Array(idem))
	if err != nil {
		return fmt.Errorf("db: insert api requests: %w", err)
	}
	return nil
}

var requestLogPartition = regexp.MustCompile(`^api_requests_p(\d{8})$`)

// MaintainRequestLog creates the day partitions from yesterday to
// requestLogAhead days after now (moving any rows the default partition
// caught for those days), drops the partitions whose day ended more than
// app.RequestLogRetention before now, and deletes such rows from the
// default partition. Instances may run it at once: an advisory lock
// serialises them.
func (s *Store) MaintainRequestLog(ctx context.Context, now time.Time) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('api_requests_partitions'))`); err != nil {
			return fmt.Errorf("db: request log lock: %w", err)
		}
		var have []string
		if err := tx.SelectContext(ctx, &have, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent = 'api_requests'::regclass`); err != nil {
			return fmt.Errorf("db: request log partitions: %w", err)
		}
		exists := map[string]bool{}
		cutoff := now.Add(-app.RequestLogRetention)
		for _, name := range have {
			exists[name] = true
			m := requestLogPartition.FindStringSubmatch(name)
			if m == nil {
				continue
			}
			day, err := time.Parse("20060102", m[1])
			if err == nil && !day.AddDate(0, 0, 1).After(cutoff) {
				if _, err := tx.ExecContext(ctx, `DROP TABLE `+pq.QuoteIdentifier(name)); err != nil {
					return fmt.Errorf("db: drop request log partition: %w", err)
				}
			}
		}
		today := now.UTC().Truncate(24 * time.Hour)
		for d := -1; d <= requestLogAhead; d++ {
			from := today.AddDate(0, 0, d)
			name := "api_requests_p" + from.Format("20060102")
			if exists[name] || !from.AddDate(0, 0, 1).After(cutoff) {
				continue
			}
			if err := createRequestLogPartition(ctx, tx, name, from, from.AddDate(0, 0, 1)); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM api_requests_default WHERE created_at < $1`, cutoff); err != nil {
			return fmt.Errorf("db: prune request log: %w", err)
		}
		return nil
	})
}

// createRequestLogPartition makes the partition for [from, to) and moves
// into it the rows the default partition holds for that range (attaching
// a range the default partition has rows for would fail).
func createRequestLogPartition(ctx context.Context, tx *sqlx.Tx, name string, from, to time.Time) error {
	q := pq.QuoteIdentifier(name)
	if _, err := tx.ExecContext(ctx, `CREATE TABLE `+q+` (LIKE api_requests INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`); err != nil {
		return fmt.Errorf("db: create request log partition: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `WITH moved AS (DELETE FROM api_requests_default WHERE created_at >= $1 AND created_at < $2 RETURNING *)
		INSERT INTO `+q+` SELECT * FROM moved`, from, to); err != nil {
		return fmt.Errorf("db: move request log rows: %w", err)
	}
	bounds := fmt.Sprintf(`FOR VALUES FROM (%s) TO (%s)`, pq.QuoteLiteral(from.Format(time.RFC3339)), pq.QuoteLiteral(to.Format(time.RFC3339)))
	if _, err := tx.ExecContext(ctx, `ALTER TABLE api_requests ATTACH PARTITION `+q+` `+bounds); err != nil {
		return fmt.Errorf("db: attach request log partition: %w", err)
	}
	return nil
}

// APIRequests returns the logged requests f selects (at most f.Limit,
// 1..200), newest first, from the last app.RequestLogRetention.
func (s *Store) APIRequests(ctx context.Context, f app.RequestLogFilter) ([]app.APIRequest, error) {
	if f.Limit < 1 || f.Limit > 200 {
		f.Limit = 50
	}
	lo, hi := 0, 999
	if c, ok := app.StatusClasses[f.Status]; ok {
		lo, hi = c[0], c[1]
	}
	before := f.Before
	if before.IsZero() {
		before = time.Now().Add(time.Minute)
	}
	out := []app.APIRequest{}
	err := s.db.SelectContext(ctx, &out, `
		SELECT created_at, supplier_id, key_id, method, route, supplier_user_id, status, error_code, latency_us,
			request_id, idempotency_key
		FROM api_requests
		WHERE supplier_id = $1 AND created_at < $2 AND created_at > now() - make_interval(secs => $3)
			AND status BETWEEN $4 AND $5 AND ($6 = '' OR route = $6) AND ($7 = '' OR supplier_user_id = $7)
		ORDER BY created_at DESC LIMIT $8`,
		f.SupplierID, before, app.RequestLogRetention.Seconds(), lo, hi, f.Route, f.SupplierUserID, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("db: api requests: %w", err)
	}
	return out, nil
}
