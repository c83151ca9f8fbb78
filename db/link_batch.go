package db

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"noxportal/app"
)

// Link sessions created at the same time are written together: one
// statement and one commit for every session that arrived while the
// previous writes were waiting for theirs. A request that finds a free slot
// writes at once (alone when nothing else is waiting), so batching adds no
// delay; under load, the per-row cost of a transaction (round trips,
// snapshot, commit record, WAL flush wait) is paid once per batch.

const (
	// linkBatchSlots is how many batches may be in flight at once, so one
	// batch can be sent while another waits for its commit.
	linkBatchSlots = 4
	// linkBatchMax caps the rows of one statement.
	linkBatchMax = 256
	// linkBatchTimeout bounds one batch: it runs for several callers, so
	// none of their contexts may cancel it.
	linkBatchTimeout = 10 * time.Second
)

// linkRow is one session to insert, with its generated id and token hash.
type linkRow struct {
	ID        string
	TokenHash []byte
	New       app.NewLinkSession
}

type linkWrite struct {
	ctx  context.Context
	row  linkRow
	sess app.LinkSession
	err  error
	done chan struct{}
}

type linkBatcher struct {
	mu      sync.Mutex
	pending []*linkWrite
	slots   chan struct{}
}

func newLinkBatcher() *linkBatcher {
	return &linkBatcher{slots: make(chan struct{}, linkBatchSlots)}
}

// insertBatched writes row in the next batch and returns the stored session.
func (s *Store) insertBatched(ctx context.Context, row linkRow) (app.LinkSession, error) {
	b := s.links
	w := &linkWrite{ctx: ctx, row: row, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, w)
	b.mu.Unlock()
	for {
		select {
		case <-w.done:
			return w.sess, w.err
		case <-ctx.Done():
			// A batch that already took w writes it anyway; the session
			// is never handed out and expires unused.
			return app.LinkSession{}, ctx.Err()
		case b.slots <- struct{}{}:
			b.mu.Lock()
			batch := b.pending
			if len(batch) > linkBatchMax {
				batch = batch[:linkBatchMax]
			}
			b.pending = b.pending[len(batch):]
			b.mu.Unlock()
			s.writeBatch(batch)
			<-b.slots
			if len(batch) == 0 {
				// Another batch has w: wait for it instead of taking
				// the slot again.
				select {
				case <-w.done:
					return w.sess, w.err
				case <-ctx.Done():
					return app.LinkSession{}, ctx.Err()
				}
			}
		}
	}
}

// writeBatch inserts the rows of the callers still waiting in one
// statement. When the statement fails, each row is retried alone, so a bad
// row fails only its own request.
func (s *Store) writeBatch(batch []*linkWrite) {
	live := batch[:0:0]
	for _, w := range batch {
		if w.ctx.Err() != nil {
			w.err = w.ctx.Err()
			close(w.done)
			continue
		}
		live = append(live, w)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), linkBatchTimeout)
	defer cancel()
	rows := make([]linkRow, len(live))
	for i, w := range live {
		rows[i] = w.row
	}
	got, err := insertLinkSessions(ctx, s.prep, rows)
	if err != nil && len(live) > 1 {
		for _, w := range live {
			one, err := insertLinkSessions(ctx, s.prep, []linkRow{w.row})
			if err == nil && len(one) == 1 {
				w.sess = one[0]
			} else {
				w.err = err
			}
			close(w.done)
		}
		return
	}
	byID := make(map[string]app.LinkSession, len(got))
	for _, g := range got {
		byID[g.ID] = g
	}
	for _, w := range live {
		switch g, ok := byID[w.row.ID]; {
		case err != nil:
			w.err = err
		case !ok:
			w.err = fmt.Errorf("db: create link session: %s not returned", w.row.ID)
		default:
			w.sess = g
		}
		close(w.done)
	}
}

// insertLinkSessions inserts rows, with their "created" events, in one
// statement whatever their number (the statement text does not change, so
// it is prepared once).
func insertLinkSessions(ctx context.Context, q sqlx.QueryerContext, rows []linkRow) ([]app.LinkSession, error) {
	n := len(rows)
	var (
		ids, kinds, suppliers, supplierUsers, redirects, langs, initiators = make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		brands, noxUsers, mfrUsers, devices = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		hashes                              = make([][]byte, n)
		ttls                                = make([]float64, n)
		portalUsers                         = make([]int64, n)
		screens                             = make([]bool, n)
	)
	for i, r := range rows {
		nw := r.New
		dev, err := json.Marshal(nonNil(nw.DeviceIDs))
		if err != nil {
			return nil, fmt.Errorf("db: create link session: %w", err)
		}
		ids[i], hashes[i], kinds[i], suppliers[i], supplierUsers[i] = r.ID, r.TokenHash, string(nw.Kind), nw.SupplierID, nw.SupplierUserID
		redirects[i], langs[i], initiators[i], brands[i], ttls[i] = nw.RedirectURI, nw.Language, nw.Initiator, nw.ManufacturerID, nw.TTL.Seconds()
		noxUsers[i], portalUsers[i], mfrUsers[i], devices[i] = nw.NoxUserID, nw.PortalUserID, nw.ManufacturerUserID, string(dev)
		screens[i] = !nw.NoFailureScreens
	}
	var out []app.LinkSession
	err := sqlx.SelectContext(ctx, q, &out, `
		WITH v AS (
			SELECT * FROM unnest($1::text[], $2::bytea[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
				$8::text[], $9::text[], $10::float8[], $11::text[], $12::bigint[], $13::text[], $14::text[], $15::bool[])
				AS v(id, token_hash, kind, supplier_id, supplier_user_id, redirect_uri, language, initiator,
					manufacturer_id, ttl, nox_user_id, portal_user_id, manufacturer_user_id, device_ids, failure_screens)
		), s AS (
			INSERT INTO link_sessions (id, token_hash, kind, supplier_id, supplier_user_id, redirect_uri,
				language, initiator, manufacturer_id, brand_preselected, expires_at, nox_user_id, portal_user_id,
				manufacturer_user_id, device_ids, failure_screens)
			SELECT id, token_hash, kind, NULLIF(supplier_id, ''), supplier_user_id, redirect_uri, language, initiator,
				NULLIF(manufacturer_id, ''), manufacturer_id <> '' AND kind = 'supplier_link',
				now() + make_interval(secs => ttl), NULLIF(nox_user_id, ''), NULLIF(portal_user_id, 0),
				manufacturer_user_id, ARRAY(SELECT jsonb_array_elements_text(device_ids::jsonb)), failure_screens
			FROM v
			RETURNING `+sessionCols+`
		), e AS (
			INSERT INTO link_events (session_id, type, detail) SELECT id, 'created', initiator FROM s
		)
		SELECT `+sessionCols+` FROM s`,
		pq.Array(ids), pq.ByteaArray(hashes), pq.Array(kinds), pq.Array(suppliers), pq.Array(supplierUsers),
		pq.Array(redirects), pq.Array(langs), pq.Array(initiators), pq.Array(brands), pq.Array(ttls),
		pq.Array(noxUsers), pq.Array(portalUsers), pq.Array(mfrUsers), pq.Array(devices), pq.BoolArray(screens))
	if err != nil {
		return nil, fmt.Errorf("db: create link session: %w", err)
	}
	return out, nil
}
