package db

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"noxportal/app"
)

// The support console's queries. The search is written so every branch can
// use an index at the scale of millions of mappings: each way a query can
// match (supplier user id, nox user id, device id, customer email, supplier)
// is its own index-backed branch, filtered and keyset-limited on its own,
// and the branches are merged and limited again.

// mappingRowCols are the columns of a MappingRow computed for one mapping m.
const mappingRowCols = `m.supplier_id, s.name AS supplier_name, m.supplier_user_id, m.nox_user_id, m.created_at,
	coalesce((SELECT p.email FROM portal_users p WHERE p.nox_user_id = m.nox_user_id AND p.email IS NOT NULL ORDER BY p.id LIMIT 1),
	         (SELECT p.email FROM portal_users p WHERE p.supplier_id = m.supplier_id AND p.supplier_user_id = m.supplier_user_id
	            AND p.email IS NOT NULL), '') AS email,
	dv.devices, dv.connected, dv.relink_required, dv.brands,
	coalesce(ls.status, '') AS last_status, coalesce(ls.failure_reason, '') AS last_reason,
	EXISTS (SELECT 1 FROM devices d JOIN devices o ON o.manufacturer_id = d.manufacturer_id AND o.external_id = d.external_id
	        AND o.nox_user_id <> d.nox_user_id WHERE d.nox_user_id = m.nox_user_id) AS duplicate`

// mappingRowFrom joins what mappingRowCols reads.
const mappingRowFrom = `JOIN suppliers s ON s.id = m.supplier_id
	CROSS JOIN LATERAL (SELECT count(*) AS devices, count(*) FILTER (WHERE d.status = 'connected') AS connected,
	                           count(*) FILTER (WHERE d.status = 'relink_required') AS relink_required,
	                           coalesce(string_agg(DISTINCT mf.name, ', '), '') AS brands
	                    FROM devices d JOIN manufacturers mf ON mf.id = d.manufacturer_id WHERE d.nox_user_id = m.nox_user_id) dv
	LEFT JOIN LATERAL (SELECT l.status, l.failure_reason FROM link_sessions l
	                   WHERE l.supplier_id = m.supplier_id AND l.supplier_user_id = m.supplier_user_id
	                   ORDER BY l.created_at DESC LIMIT 1) ls ON true`

// SearchMappingsSQL builds the search query for f after cursor (nil: first
// page), returning at most limit rows. It is exported so benchmarks can
// EXPLAIN exactly what the console runs.
//
// suppliers are the ids of the suppliers whose id or name matches the query
// (MatchingSuppliers); their mappings are results too.
func SearchMappingsSQL(f app.MappingFilter, suppliers []string, after *app.MappingCursor, limit int) (string, []any) {
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }

	// Test-mode suppliers (test twins) are never found by the console.
	filters := []string{app.LiveSupplierSQL("m.supplier_id")}
	if f.SupplierID != "" {
		filters = append(filters, "m.supplier_id = "+arg(f.SupplierID))
	}
	if f.Brand != "" || f.Status != "" {
		cond := "d.nox_user_id = m.nox_user_id"
		if f.Brand != "" {
			cond += " AND d.manufacturer_id = " + arg(f.Brand)
		}
		if f.Status != "" {
			cond += " AND d.status = " + arg(f.Status)
		}
		filters = append(filters, "EXISTS (SELECT 1 FROM devices d WHERE "+cond+")")
	}
	if !f.From.IsZero() {
		filters = append(filters, "m.created_at >= "+arg(f.From))
	}
	if !f.To.IsZero() {
		filters = append(filters, "m.created_at < "+arg(f.To))
	}
	if after != nil {
		filters = append(filters, fmt.Sprintf("(m.created_at, m.supplier_id, m.supplier_user_id) < (%s, %s, %s)",
			arg(after.CreatedAt), arg(after.SupplierID), arg(after.SupplierUserID)))
	}
	lim := arg(limit)
	order := " ORDER BY m.created_at DESC, m.supplier_id DESC, m.supplier_user_id DESC LIMIT " + lim

	var branches []string
	q := strings.TrimSpace(f.Q)
	if q == "" {
		branches = []string{"TRUE"}
	} else {
		pat, prefix := app.SearchPattern(q)
		if prefix {
			// Ids by prefix, any case: b-tree range scans on the
			// lower(...) pattern-ops indexes.
			p := arg(strings.ToLower(pat))
			branches = []string{
				"lower(m.supplier_user_id) LIKE " + p,
				"lower(m.nox_user_id) LIKE " + p,
				"m.nox_user_id IN (SELECT d.nox_user_id FROM devices d WHERE lower(d.external_id) LIKE " + p + ")",
			}
		} else {
			p := arg(pat)
			branches = []string{
				"m.supplier_user_id ILIKE " + p,
				"m.nox_user_id ILIKE " + p,
				"m.nox_user_id IN (SELECT d.nox_user_id FROM devices d WHERE d.external_id ILIKE " + p + ")",
				"m.nox_user_id IN (SELECT p.nox_user_id FROM portal_users p WHERE p.email ILIKE " + p + " AND p.email IS NOT NULL)",
				"(m.supplier_id, m.supplier_user_id) IN (SELECT p.supplier_id, p.supplier_user_id FROM portal_users p WHERE p.email ILIKE " + p + " AND p.email IS NOT NULL)",
			}
			if len(suppliers) > 0 {
				branches = append(branches, "m.supplier_id = ANY("+arg(pq.Array(suppliers))+")")
			}
		}
	}
	where := ""
	if len(filters) > 0 {
		where = " AND " + strings.Join(filters, " AND ")
	}
	parts := make([]string, len(branches))
	for i, b := range branches {
		parts[i] = "(SELECT m.supplier_id, m.supplier_user_id, m.nox_user_id, m.created_at FROM supplier_mappings m WHERE " +
			b + where + order + ")"
	}
	sqlText := `WITH hits AS (` + strings.Join(parts, "\nUNION\n") + `),
		page AS (SELECT * FROM hits m ` + order + `)
		SELECT ` + mappingRowCols + ` FROM page m ` + mappingRowFrom + `
		ORDER BY m.created_at DESC, m.supplier_id DESC, m.supplier_user_id DESC`
	return sqlText, args
}

// SearchMappings returns one page of mappings matching f, newest first,
// after cursor (nil: the first page), and the cursor of the next page (nil
// when this is the last). The query text is literal: %, _, quotes and
// backslashes match themselves; queries of one or two characters match ids
// by prefix.
func (s *Store) SearchMappings(ctx context.Context, f app.MappingFilter, after *app.MappingCursor, limit int) ([]app.MappingRow, *app.MappingCursor, error) {
	sups, err := s.MatchingSuppliers(ctx, f.Q)
	if err != nil {
		return nil, nil, err
	}
	q, args := SearchMappingsSQL(f, sups, after, limit+1)
	out := []app.MappingRow{}
	if err := s.db.SelectContext(ctx, &out, q, args...); err != nil {
		return nil, nil, fmt.Errorf("db: search mappings: %w", err)
	}
	if len(out) <= limit {
		return out, nil, nil
	}
	out = out[:limit]
	next := out[limit-1].Cursor()
	return out, &next, nil
}

// MatchingSuppliers returns the ids of the suppliers whose id or name
// contains q (3+ characters; none for shorter queries).
func (s *Store) MatchingSuppliers(ctx context.Context, q string) ([]string, error) {
	q = strings.TrimSpace(q)
	pat, prefix := app.SearchPattern(q)
	if q == "" || prefix {
		return nil, nil
	}
	var out []string
	if err := s.db.SelectContext(ctx, &out, `SELECT id FROM suppliers WHERE (name ILIKE $1 OR id ILIKE $1) AND test_of IS NULL ORDER BY id LIMIT 50`, pat); err != nil {
		return nil, fmt.Errorf("db: matching suppliers: %w", err)
	}
	return out, nil
}

// GetMapping returns what support sees of one supplier user: its mapping
// (when it has one), the nox user's other mappings, devices and the
// timeline of every link session of the supplier user. ENOTFOUND when the
// supplier user has neither a mapping nor a session.
func (s *Store) GetMapping(ctx context.Context, supplierID, supplierUserID string) (app.Mapping, error) {
	out := app.Mapping{SupplierID: supplierID, SupplierUserID: supplierUserID}
	if err := s.db.GetContext(ctx, &out.SupplierName, `SELECT name FROM suppliers WHERE id = $1`, supplierID); err != nil {
		return out, fmt.Errorf("db: mapping supplier: %w", notFound(err, "supplier %q not found", supplierID))
	}
	var m struct {
		NoxUserID string    `db:"nox_user_id"`
		CreatedAt time.Time `db:"created_at"`
	}
	err := s.db.GetContext(ctx, &m, `SELECT nox_user_id, created_at FROM supplier_mappings WHERE supplier_id = $1 AND supplier_user_id = $2`,
		supplierID, supplierUserID)
	switch {
	case err == nil:
		out.NoxUserID, out.CreatedAt = m.NoxUserID, &m.CreatedAt
	case !errors.Is(err, sql.ErrNoRows):
		return out, fmt.Errorf("db: mapping: %w", err)
	}
	if err := s.db.GetContext(ctx, &out.RedirectURI, `
		SELECT coalesce((SELECT uri FROM supplier_redirect_uris WHERE supplier_id = $1 ORDER BY position, uri LIMIT 1), '')`,
		supplierID); err != nil {
		return out, fmt.Errorf("db: mapping redirect uri: %w", err)
	}
	if err := s.db.GetContext(ctx, &out.Email, `
		SELECT coalesce((SELECT email FROM portal_users
		  WHERE ((nox_user_id = $1 AND $1 <> '') OR (supplier_id = $2 AND supplier_user_id = $3)) AND email IS NOT NULL
		  ORDER BY id LIMIT 1), '')`, out.NoxUserID, supplierID, supplierUserID); err != nil {
		return out, fmt.Errorf("db: mapping email: %w", err)
	}
	if out.NoxUserID != "" {
		if err := s.db.SelectContext(ctx, &out.Others, `
			SELECT `+mappingRowCols+` FROM supplier_mappings m `+mappingRowFrom+`
			WHERE m.nox_user_id = $1 AND NOT (m.supplier_id = $2 AND m.supplier_user_id = $3)
			ORDER BY m.created_at DESC LIMIT 50`, out.NoxUserID, supplierID, supplierUserID); err != nil {
			return out, fmt.Errorf("db: other mappings: %w", err)
		}
		if out.Devices, err = s.consoleDevices(ctx, out.NoxUserID, supplierID, supplierUserID); err != nil {
			return out, err
		}
	}
	var sessions []app.LinkSession
	if err := s.db.SelectContext(ctx, &sessions, `
		SELECT `+sessionCols+` FROM link_sessions WHERE supplier_id = $1 AND supplier_user_id = $2
		ORDER BY created_at DESC, id DESC LIMIT 50`, supplierID, supplierUserID); err != nil {
		return out, fmt.Errorf("db: mapping sessions: %w", err)
	}
	if out.NoxUserID == "" && len(sessions) == 0 {
		return out, app.Errorf(app.ENOTFOUND, "No user %q at supplier %q.", supplierUserID, supplierID)
	}
	out.Sessions, err = s.withEvents(ctx, sessions)
	return out, err
}

// withEvents returns the sessions with their events, in order.
func (s *Store) withEvents(ctx context.Context, sessions []app.LinkSession) ([]app.SessionTimeline, error) {
	ids := make([]string, len(sessions))
	var oldest time.Time
	for i, ls := range sessions {
		ids[i] = ls.ID
		if i == 0 || ls.CreatedAt.Before(oldest) {
			oldest = ls.CreatedAt
		}
	}
	// A session's events are written at or after its creation: the bound
	// (with a day's margin) lets the planner skip the older months.
	var events []app.LinkEvent
	if err := s.db.SelectContext(ctx, &events, `
		SELECT id, session_id, type, detail, created_at FROM link_events
		WHERE session_id = ANY($1) AND created_at >= $2::timestamptz - interval '1 day' ORDER BY id`,
		pq.Array(ids), oldest); err != nil {
		return nil, fmt.Errorf("db: session events: %w", err)
	}
	byID := map[string][]app.LinkEvent{}
	for _, e := range events {
		byID[e.SessionID] = append(byID[e.SessionID], e)
	}
	out := make([]app.SessionTimeline, 0, len(sessions))
	for _, ls := range sessions {
		out = append(out, app.SessionTimeline{LinkSession: ls, Events: byID[ls.ID]})
	}
	return out, nil
}

// SessionTimeline returns one link session with its events, or ENOTFOUND.
func (s *Store) SessionTimeline(ctx context.Context, id string) (app.SessionTimeline, error) {
	sess, err := s.GetLinkSession(ctx, id)
	if err != nil {
		return app.SessionTimeline{}, err
	}
	tl, err := s.withEvents(ctx, []app.LinkSession{sess})
	if err != nil {
		return app.SessionTimeline{}, err
	}
	return tl[0], nil
}

func (s *Store) consoleDevices(ctx context.Context, noxUserID, supplierID, supplierUserID string) ([]app.ConsoleDevice, error) {
	out := []app.ConsoleDevice{}
	err := s.db.SelectContext(ctx, &out, `
		SELECT d.id, d.nox_user_id, d.manufacturer_id, d.external_id, d.name, d.model, d.status, d.connected_at, d.last_sync_at,
		       mf.name AS brand_name, g.token_expires_at, g.updated_at AS token_updated_at,
		       coalesce((SELECT l.id FROM link_sessions l
		                 WHERE l.supplier_id = $2 AND l.supplier_user_id = $3 AND l.initiator = 'agent'
		                   AND l.manufacturer_id = d.manufacturer_id
		                   AND l.status IN `+unfinishedSQL+` AND l.expires_at > now()
		                 ORDER BY l.created_at DESC LIMIT 1), '') AS relink_session_id
		FROM devices d JOIN manufacturers mf ON mf.id = d.manufacturer_id
		LEFT JOIN manufacturer_grants g ON g.nox_user_id = d.nox_user_id AND g.manufacturer_id = d.manufacturer_id
		WHERE d.nox_user_id = $1 ORDER BY mf.name, d.external_id`, noxUserID, supplierID, supplierUserID)
	if err != nil {
		return nil, fmt.Errorf("db: console devices: %w", err)
	}
	for i := range out {
		var others []string
		if err := s.db.SelectContext(ctx, &others, `
			SELECT m.supplier_id || '/' || m.supplier_user_id FROM devices o
			JOIN supplier_mappings m ON m.nox_user_id = o.nox_user_id
			WHERE o.manufacturer_id = $1 AND o.external_id = $2 AND o.nox_user_id <> $3
			ORDER BY 1 LIMIT 20`, out[i].ManufacturerID, out[i].ExternalID, noxUserID); err != nil {
			return nil, fmt.Errorf("db: duplicate devices: %w", err)
		}
		out[i].AlsoLinkedTo = others
	}
	return out, nil
}

// queueWhere returns the WHERE clause of the failed/expired queue for f.
func queueWhere(f app.QueueFilter, withReason bool, arg func(any) string) string {
	w := []string{"l.status IN ('failed', 'expired')", app.LiveSupplierSQL("l.supplier_id")}
	if withReason && f.Reason != "" {
		w = append(w, "l.failure_reason = "+arg(f.Reason))
	}
	if f.Brand != "" {
		w = append(w, "l.manufacturer_id = "+arg(f.Brand))
	}
	if f.SupplierID != "" {
		w = append(w, "l.supplier_id = "+arg(f.SupplierID))
	}
	if !f.Since.IsZero() {
		w = append(w, "l.finished_at >= "+arg(f.Since))
	}
	return strings.Join(w, " AND ")
}

// FailedSessions returns one page of the sessions that ended failed,
// expired or expired_after_auth, newest first, and the next page's cursor
// (nil on the last page).
func (s *Store) FailedSessions(ctx context.Context, f app.QueueFilter, after *app.QueueCursor, limit int) ([]app.QueueRow, *app.QueueCursor, error) {
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	where := queueWhere(f, true, arg)
	if after != nil {
		where += fmt.Sprintf(" AND (l.finished_at, l.id) < (%s, %s)", arg(after.FinishedAt), arg(after.ID))
	}
	q := `SELECT ` + queueSessionCols + `, coalesce(s.name, '') AS supplier_name, coalesce(mf.name, '') AS brand_name,
		       l.supplier_user_id <> '' AND EXISTS (SELECT 1 FROM supplier_redirect_uris r WHERE r.supplier_id = l.supplier_id) AS can_relink
		FROM link_sessions l LEFT JOIN suppliers s ON s.id = l.supplier_id LEFT JOIN manufacturers mf ON mf.id = l.manufacturer_id
		WHERE ` + where + ` ORDER BY l.finished_at DESC, l.id DESC LIMIT ` + arg(limit+1)
	out := []app.QueueRow{}
	if err := s.db.SelectContext(ctx, &out, q, args...); err != nil {
		return nil, nil, fmt.Errorf("db: failed sessions: %w", err)
	}
	if len(out) <= limit {
		return out, nil, nil
	}
	out = out[:limit]
	next := out[limit-1].Cursor()
	return out, &next, nil
}

// FailureCounts counts the queue's sessions per reason under f (its Reason
// ignored), most frequent first.
func (s *Store) FailureCounts(ctx context.Context, f app.QueueFilter) ([]app.QueueReasonCount, error) {
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	out := []app.QueueReasonCount{}
	if err := s.db.SelectContext(ctx, &out, `
		SELECT coalesce(l.failure_reason, '') AS reason, count(*) AS n FROM link_sessions l
		WHERE `+queueWhere(f, false, arg)+` GROUP BY 1 ORDER BY 2 DESC, 1`, args...); err != nil {
		return nil, fmt.Errorf("db: failure counts: %w", err)
	}
	return out, nil
}

// queueSessionCols is sessionCols for the link_sessions row l.
const queueSessionCols = `l.id, l.kind, coalesce(l.supplier_id, '') AS supplier_id, l.supplier_user_id, l.redirect_uri, l.language,
	l.initiator, l.status, l.failure_reason, l.manufacturer_id, l.brand_preselected, l.nox_user_id, l.created_at,
	l.opened_at, l.brand_selected_at, l.authorizing_at, l.callback_at, l.finished_at, l.expires_at`

// CreateRelink creates a link session for a supplier user on behalf of
// support (initiator "agent", the brand preselected when given, the
// supplier's first redirect URI) and, when r.Email is set, queues an email
// with the link whose subject and body come from mail(linkURL). The audit
// entry is written in the same transaction. It returns the session and its
// link token.
func (s *Store) CreateRelink(ctx context.Context, r app.Relink, linkURL func(token string) string,
	mail func(link string) (subject, body string)) (app.LinkSession, string, error) {
	// A form submitted again with the same fields is the same request: it
	// goes through the idempotency keys like an API Idempotency-Key.
	key, reqHash := "", []byte(nil)
	if r.FormKey != "" {
		h := sha256.Sum256([]byte(strings.Join([]string{r.SupplierUserID, r.Brand, r.Language, r.Email}, "\x00")))
		key, reqHash = "console:"+r.FormKey+":"+hex.EncodeToString(h[:8]), h[:]
	}
	token := app.RandomToken(48)
	create := func(tx *sqlx.Tx) (app.LinkSession, string, error) {
		sess, err := createRelinkTx(ctx, tx, r, token)
		if err != nil {
			return sess, "", err
		}
		if r.Email != "" {
			subject, body := mail(linkURL(token))
			if err := queueEmail(ctx, tx, app.Email{To: r.Email, Subject: subject, Body: body, Kind: "relink", Ref: sess.ID}); err != nil {
				return sess, "", err
			}
		}
		return sess, token, writeAudit(ctx, tx, app.AuditEntry{ActorID: r.ActorID, Action: "mapping.relink", ObjectType: "supplier_user",
			ObjectID: r.SupplierID + "/" + r.SupplierUserID, IP: r.IP,
			After: map[string]any{"session_id": sess.ID, "brand": r.Brand, "email": r.Email != ""}})
	}
	if key != "" {
		sess, token, _, err := s.onceUnderKey(ctx, r.SupplierID, key, reqHash, create)
		return sess, token, err
	}
	var sess app.LinkSession
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		sess, token, err = create(tx)
		return err
	})
	return sess, token, err
}

func createRelinkTx(ctx context.Context, tx *sqlx.Tx, r app.Relink, token string) (app.LinkSession, error) {
	var sess app.LinkSession
	var uri string
	err := tx.GetContext(ctx, &uri, `
		SELECT uri FROM supplier_redirect_uris WHERE supplier_id = $1 ORDER BY position, uri LIMIT 1`, r.SupplierID)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return sess, app.ReasonErrorf(app.ECONFLICT, app.ReasonNoRedirectURI,
				"Supplier %s has no redirect URI, so a link would have nowhere to send the customer back.", r.SupplierID)
		}
		return sess, fmt.Errorf("db: relink redirect uri: %w", err)
	}
	if r.Brand != "" {
		var ok bool
		if err := tx.GetContext(ctx, &ok, `SELECT enabled AND status <> 'down' FROM manufacturers WHERE id = $1`, r.Brand); err != nil {
			return sess, fmt.Errorf("db: relink brand: %w", notFound(err, "manufacturer %q not found", r.Brand))
		}
		if !ok {
			return sess, app.ReasonErrorf(app.ECONFLICT, app.ReasonManufacturerDown, "This brand is disabled or down; it cannot be preselected now.")
		}
	}
	id := "ls_" + app.RandomToken(24)
	err = tx.GetContext(ctx, &sess, `
		WITH s AS (
			INSERT INTO link_sessions (id, token_hash, kind, supplier_id, supplier_user_id, redirect_uri,
				language, initiator, manufacturer_id, brand_preselected, expires_at)
			VALUES ($1, $2, 'supplier_link', $3, $4, $5,
				coalesce(NULLIF($6, ''), (SELECT language FROM link_sessions WHERE supplier_id = $3 AND supplier_user_id = $4
				                          ORDER BY created_at DESC LIMIT 1), 'en'), 'agent', NULLIF($7, ''), $7 <> '', now() + make_interval(secs => $8))
			RETURNING `+sessionCols+`
		), e AS (
			INSERT INTO link_events (session_id, type, detail) SELECT id, 'created', 'agent' FROM s
		)
		SELECT `+sessionCols+` FROM s`,
		id, app.HashToken(token), r.SupplierID, r.SupplierUserID, uri, r.Language, r.Brand, r.TTL.Seconds())
	if err != nil {
		return sess, fmt.Errorf("db: create relink session: %w", err)
	}
	app.ObserverFrom(ctx).SessionCreated(string(sess.Kind), sess.Brand())
	return sess, nil
}

// queueEmail adds an email to the outbox in tx.
func queueEmail(ctx context.Context, tx *sqlx.Tx, e app.Email) error {
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO email_outbox (to_address, subject, body, kind, ref) VALUES ($1, $2, $3, $4, $5)`,
		e.To, e.Subject, e.Body, e.Kind, e.Ref); err != nil {
		return fmt.Errorf("db: queue email: %w", err)
	}
	return nil
}

// SendEmails claims up to n due emails with a lease (rows another sender
// holds are skipped), commits the claim, and hands each to send outside
// any transaction; a sent email is marked sent, a failed one keeps its
// error and is retried after a doubling delay, at most maxAttempts times.
// An email whose sender died is sent again once its lease runs out. It
// returns how many were sent.
func (s *Store) SendEmails(ctx context.Context, n int, lease time.Duration, maxAttempts int,
	send func(context.Context, app.Email) error) (int, error) {
	var batch []app.Email
	if err := s.db.SelectContext(ctx, &batch, `
		UPDATE email_outbox SET attempts = attempts + 1, leased_until = now() + make_interval(secs => $2)
		WHERE id IN (
			SELECT id FROM email_outbox
			WHERE sent_at IS NULL AND attempts < $3 AND next_attempt_at <= now()
			  AND (leased_until IS NULL OR leased_until < now())
			ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
		RETURNING id, to_address, subject, body, kind, ref, attempts, created_at`, n, lease.Seconds(), maxAttempts); err != nil {
		return 0, fmt.Errorf("db: claim emails: %w", err)
	}
	sent := 0
	for _, e := range batch {
		err := send(ctx, e)
		if err != nil && ctx.Err() != nil {
			return sent, nil // stopping: the lease hands the rest to the next sender
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if err != nil {
			_, err = s.db.ExecContext(rctx, `
				UPDATE email_outbox SET leased_until = NULL, last_error = $2,
				       next_attempt_at = now() + make_interval(secs => least(30 * power(2, attempts - 1), 3600))
				WHERE id = $1`, e.ID, app.JobErrorText(err))
		} else {
			sent++
			_, err = s.db.ExecContext(rctx, `UPDATE email_outbox SET sent_at = now(), leased_until = NULL, last_error = '' WHERE id = $1`, e.ID)
		}
		cancel()
		if err != nil {
			return sent, fmt.Errorf("db: record email %d: %w", e.ID, err)
		}
	}
	return sent, nil
}

// MarkRelinkRequired sets a device of a supplier user's nox user to
// relink_required, records a device event and an audit entry, and queues
// the device.relink_required notification — all in one transaction. A
// device already in that status is left as it is (no second event).
func (s *Store) MarkRelinkRequired(ctx context.Context, supplierID, supplierUserID string, deviceID int64, e app.AuditEntry) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		var d app.Device
		err := tx.GetContext(ctx, &d, `
			SELECT d.id, d.nox_user_id, d.manufacturer_id, d.external_id, d.name, d.model, d.status, d.connected_at, d.last_sync_at
			FROM devices d JOIN supplier_mappings m ON m.nox_user_id = d.nox_user_id
			WHERE d.id = $1 AND m.supplier_id = $2 AND m.supplier_user_id = $3 FOR UPDATE OF d`, deviceID, supplierID, supplierUserID)
		if err != nil {
			return fmt.Errorf("db: mark relink: %w", notFound(err, "device not found"))
		}
		if d.Status == app.DeviceRelinkRequired {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET status = 'relink_required', updated_at = now() WHERE id = $1`, d.ID); err != nil {
			return fmt.Errorf("db: mark relink: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO device_events (device_id, type, detail, portal_user_id) VALUES ($1, 'relink_required', 'marked by support', $2)`,
			d.ID, e.ActorID); err != nil {
			return fmt.Errorf("db: device event: %w", err)
		}
		if err := emitDeviceRelinkRequired(ctx, tx, d); err != nil {
			return err
		}
		e.Action, e.ObjectType, e.ObjectID = "device.relink_required", "device", strconv.FormatInt(d.ID, 10)
		e.Before, e.After = map[string]string{"status": d.Status}, map[string]string{"status": app.DeviceRelinkRequired}
		return writeAudit(ctx, tx, e)
	})
}

// emitDeviceRelinkRequired queues the device.relink_required webhook for
// every party linked to the device's nox user, in the transaction that
// changed the device.
func emitDeviceRelinkRequired(ctx context.Context, tx *sqlx.Tx, d app.Device) error {
	return enqueueDeviceEvent(ctx, tx, d.NoxUserID, d.ManufacturerID, d.ExternalID, app.DeviceRelinkRequired)
}

// UserWebhookDeliveries returns the newest deliveries (at most limit) to a
// supplier's webhook endpoint whose event is about the nox user.
func (s *Store) UserWebhookDeliveries(ctx context.Context, supplierID, noxUserID string, limit int) ([]app.WebhookDelivery, error) {
	out := []app.WebhookDelivery{}
	if noxUserID == "" {
		return out, nil
	}
	if err := s.db.SelectContext(ctx, &out, `
		SELECT `+deliveryCols+` FROM webhook_deliveries
		WHERE endpoint_id = (SELECT id FROM webhook_endpoints WHERE supplier_id = $1)
		  AND position($2 in convert_from(body, 'UTF8')) > 0
		ORDER BY created_at DESC, id LIMIT $3`, supplierID, noxUserID, limit); err != nil {
		return nil, fmt.Errorf("db: user webhook deliveries: %w", err)
	}
	return out, nil
}
