package db

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"noxportal/app"
)

const sessionCols = `id, kind, coalesce(supplier_id, '') AS supplier_id, supplier_user_id, redirect_uri, language, initiator,
	status, failure_reason, manufacturer_id, brand_preselected, nox_user_id, created_at,
	opened_at, brand_selected_at, authorizing_at, callback_at, finished_at, expires_at, manufacturer_user_id,
	failure_screens, held_reason`

// CreateLinkSession stores a new session for n and returns it with its link
// token (only the token's hash is stored). With an idempotency key, a retry
// with the same request returns the first session and token (replayed=true);
// the same key with another request is EUNPROCESSABLE (see onceUnderKey).
func (s *Store) CreateLinkSession(ctx context.Context, n app.NewLinkSession) (sess app.LinkSession, token string, replayed bool, err error) {
	token = app.RandomToken(48)
	row := linkRow{ID: "ls_" + app.RandomToken(24), TokenHash: app.HashToken(token), New: n}
	defer func() {
		if err == nil && !replayed {
			app.ObserverFrom(ctx).SessionCreated(string(sess.Kind), sess.Brand())
		}
	}()
	if n.IdempotencyKey == "" {
		sess, err = s.insertBatched(ctx, row)
		if err != nil {
			return sess, "", false, err
		}
		return sess, token, false, nil
	}
	return s.onceUnderKey(ctx, n.SupplierID, n.IdempotencyKey, n.RequestHash, func(tx *sqlx.Tx) (app.LinkSession, string, error) {
		got, err := insertLinkSessions(ctx, tx, []linkRow{row})
		if err != nil {
			return app.LinkSession{}, "", err
		}
		if len(got) != 1 {
			return app.LinkSession{}, "", fmt.Errorf("db: create link session: %d rows returned", len(got))
		}
		return got[0], token, nil
	})
}

// onceUnderKey runs create in a transaction unless an idempotency key
// younger than 24 hours already holds a session for the same request, in
// which case that session and its token are returned (replayed=true). The
// same key with another request is EUNPROCESSABLE. Requests under one key
// are serialised by a transaction-scoped lock on the key, so a key yields
// one session whatever the concurrency, and an expired key is replaced in
// the transaction that stores its successor.
func (s *Store) onceUnderKey(ctx context.Context, supplierID, key string, reqHash []byte,
	create func(tx *sqlx.Tx) (app.LinkSession, string, error)) (sess app.LinkSession, token string, replayed bool, err error) {
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('idem:' || $1 || ':' || $2, 0))`,
			supplierID, key); err != nil {
			return fmt.Errorf("db: lock idempotency key: %w", err)
		}
		var err error
		sess, token, replayed, err = s.idempotentSession(ctx, tx, supplierID, key, reqHash)
		if err != nil || replayed {
			return err
		}
		if sess, token, err = create(tx); err != nil {
			return err
		}
		return s.rememberIdempotent(ctx, tx, supplierID, key, reqHash, sess.ID, token)
	})
	if err != nil {
		return app.LinkSession{}, "", false, err
	}
	return sess, token, replayed, nil
}

func idemAAD(supplierID, key string) []byte { return []byte("idem:" + supplierID + ":" + key) }

// rememberIdempotent stores, in tx, the session and its token (encrypted)
// under an idempotency key, replacing an expired entry of the same key.
func (s *Store) rememberIdempotent(ctx context.Context, tx *sqlx.Tx, supplierID, key string, reqHash []byte,
	sessionID, token string) error {
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO idempotency_keys (supplier_id, key, request_hash, session_id, token_enc)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (supplier_id, key) DO UPDATE
		SET request_hash = EXCLUDED.request_hash, session_id = EXCLUDED.session_id,
		    token_enc = EXCLUDED.token_enc, created_at = now()`,
		supplierID, key, reqHash, sessionID, s.cipher.Seal([]byte(token), idemAAD(supplierID, key))); err != nil {
		return fmt.Errorf("db: store idempotency key: %w", err)
	}
	return nil
}

// idempotentSession returns, in tx, the session stored under an
// idempotency key younger than 24 hours (found=true); an older entry is
// ignored. A stored entry for another request is EUNPROCESSABLE.
func (s *Store) idempotentSession(ctx context.Context, tx *sqlx.Tx, supplierID, key string, reqHash []byte) (sess app.LinkSession, token string, found bool, err error) {
	var row struct {
		RequestHash []byte `db:"request_hash"`
		SessionID   string `db:"session_id"`
		TokenEnc    []byte `db:"token_enc"`
	}
	err = tx.GetContext(ctx, &row, `
		SELECT request_hash, session_id, token_enc FROM idempotency_keys
		WHERE supplier_id = $1 AND key = $2 AND created_at > now() - interval '24 hours'`, supplierID, key)
	if errors.Is(err, sql.ErrNoRows) {
		return sess, "", false, nil
	} else if err != nil {
		return sess, "", false, fmt.Errorf("db: idempotency key: %w", err)
	}
	if subtle.ConstantTimeCompare(row.RequestHash, reqHash) != 1 {
		return sess, "", false, app.ReasonErrorf(app.EUNPROCESSABLE, "idempotency_key_reused",
			"This Idempotency-Key was already used with a different request.")
	}
	tok, err := s.cipher.Open(row.TokenEnc, idemAAD(supplierID, key))
	if err != nil {
		return sess, "", false, fmt.Errorf("db: idempotency token: %w", err)
	}
	err = openFirst(ctx, tx, &sess, `SELECT `+sessionCols+` FROM link_sessions WHERE id = $1`, row.SessionID)
	if err != nil {
		return sess, "", false, fmt.Errorf("db: idempotent session: %w", err)
	}
	return sess, string(tok), true, nil
}

// GetLinkSession returns a session by id or ENOTFOUND.
func (s *Store) GetLinkSession(ctx context.Context, id string) (app.LinkSession, error) {
	var sess app.LinkSession
	err := openFirst(ctx, s.prep, &sess, `SELECT `+sessionCols+` FROM link_sessions WHERE id = $1`, id)
	if err != nil {
		return sess, fmt.Errorf("db: get link session: %w", notFound(err, "link session not found"))
	}
	return sess, nil
}

// LinkSessionByToken returns the session a link token belongs to, or ENOTFOUND.
func (s *Store) LinkSessionByToken(ctx context.Context, token string) (app.LinkSession, error) {
	var sess app.LinkSession
	err := openFirst(ctx, s.prep, &sess, `SELECT `+sessionCols+` FROM link_sessions WHERE token_hash = $1`, app.HashToken(token))
	if err != nil {
		return sess, fmt.Errorf("db: session by token: %w", notFound(err, "link not found"))
	}
	return sess, nil
}

// OpenLinkSession records that the link was opened: created → opened, with
// one "opened" event. It never binds the session to a browser — that
// happens at the user's first deliberate step (app.StepChoose) — so a mail
// scanner's fetch changes nothing a user's browser depends on. It returns
// the session as it now is (an overdue session is expired first) and
// whether the session is bound to a browser other than browserHash's.
func (s *Store) OpenLinkSession(ctx context.Context, token string, browserHash []byte) (app.LinkSession, bool, error) {
	elsewhere := func(bound []byte) bool {
		return bound != nil && app.MatchBrowser(bound, browserHash) != app.BrowserSame
	}
	// Most views change nothing (any view after the first, or of an ended
	// session): answer those from one plain read, without the transaction
	// and row lock (and the commit flush) a change needs.
	// A repeat view is answered from this instance's cache of the read
	// while the session is unchanged (session_view_cache.go).
	hash := app.HashToken(token)
	if seen, ok := s.views.get(hash); ok && !seen.decide(app.StepInput{Step: app.StepOpen}, browserHash).Changes() {
		return seen.LinkSession, elsewhere(seen.BrowserHash), nil
	}
	gen, readAt := s.views.begin(), time.Now()
	seen, err := s.viewSession(ctx, hash)
	if err != nil {
		return app.LinkSession{}, false, fmt.Errorf("db: open session: %w", notFound(err, "link session not found"))
	}
	if !seen.decide(app.StepInput{Step: app.StepOpen}, browserHash).Changes() {
		s.views.put(hash, seen, gen, readAt)
		return seen.LinkSession, elsewhere(seen.BrowserHash), nil
	}
	ls, err := s.runStep(ctx, byColumn("token_hash", hash), app.StepInput{Step: app.StepOpen}, stepData{})
	return ls.LinkSession, elsewhere(ls.BrowserHash), err
}

// TakeOverLink moves an unfinished session to the browser of browserHash at
// the user's explicit request ("continue here instead"), recorded as a
// browser_takeover event on the session. The browser it was bound to can
// no longer take a step or finish a sign-in. A finished session is
// ECONFLICT; past the deadline the session is expired and ECONFLICT
// "expired" returned.
func (s *Store) TakeOverLink(ctx context.Context, token string, browserHash []byte) (app.LinkSession, error) {
	ls, err := s.runStep(ctx, byColumn("token_hash", app.HashToken(token)), app.StepInput{Step: app.StepTakeover},
		stepData{BrowserHash: browserHash})
	return ls.LinkSession, err
}

// StartAuthorization records the user's brand choice and the OAuth state
// (hash) and PKCE verifier (encrypted) of a fresh authorization request
// (app.StepChoose: the first choice binds the session to browserHash's
// browser, later ones must come from it). Past the deadline the session is
// expired and an ECONFLICT "expired" error returned.
func (s *Store) StartAuthorization(ctx context.Context, sessionID string, browserHash []byte, brand, state, verifier string) (app.LinkSession, error) {
	return s.choose(ctx, sessionID, app.KindSupplierLink, stepData{BrowserHash: browserHash, Brand: brand, State: state,
		VerifierEnc: s.cipher.Seal([]byte(verifier), []byte("pkce:"+sessionID))})
}

// choose runs app.StepChoose on the session of kind: a brand (flow 1) or
// supplier (flow 2) is chosen and its authorization starts. A session of
// another kind is ENOTFOUND.
func (s *Store) choose(ctx context.Context, sessionID string, kind app.SessionKind, d stepData) (app.LinkSession, error) {
	choice := d.Brand
	if kind == app.KindSupplierSelect {
		choice = d.SupplierID
	}
	ls, err := s.runStep(ctx, ofKind(sessionID, kind), app.StepInput{Step: app.StepChoose, Choice: choice}, d)
	return ls.LinkSession, err
}

func nonNil(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

// ClaimCallback claims the session that issued state for the manufacturer's
// callback at brand (app.StepCallback); only the first claim succeeds, so a
// replayed state or a concurrent second callback gets ECONFLICT
// "already_used" and changes nothing. A callback past the deadline expires
// the session with reason expired_after_auth when the manufacturer granted
// access (granted=true). On success it returns the session and its PKCE
// verifier.
//
// The callback must come from the browser the session is bound to
// (browserHash); from another browser it is EFORBIDDEN and changes nothing.
// The claim holds a lease: when it runs out without an outcome (the
// instance died during the token exchange), FailAbandonedCallbacks fails
// the session with manufacturer_error.
func (s *Store) ClaimCallback(ctx context.Context, brand, state string, granted bool, browserHash []byte, lease time.Duration) (app.LinkSession, string, error) {
	var out app.LinkSession
	var verifier string
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		ls, err := lockByState(ctx, tx, state, app.KindSupplierLink, app.ErrUnknownCallback)
		if err != nil {
			return err
		}
		defer func() { out = ls.LinkSession }()
		if _, err := step(ctx, tx, &ls, app.StepInput{Step: app.StepCallback, Choice: brand, Granted: granted},
			stepData{BrowserHash: browserHash, Lease: lease}); err != nil {
			return err
		}
		v, err := s.cipher.Open(ls.VerifierEnc, []byte("pkce:"+ls.ID))
		if err != nil {
			return fmt.Errorf("db: pkce verifier: %w", err)
		}
		verifier = string(v)
		return nil
	})
	if err != nil {
		return out, "", unwrapCommit(err)
	}
	return out, verifier, nil
}

// SignInFailed records that flow 1's sign-in failed with reason
// (app.StepSignInFailed): a failure the user can fix is held on the failure
// screen (the session stays unfinished, no webhook yet), any other ends the
// session as FailLinkSession does. It returns the session.
func (s *Store) SignInFailed(ctx context.Context, sessionID, reason, detail string) (app.LinkSession, error) {
	ls, err := s.runStep(ctx, byColumn("id", sessionID), app.StepInput{Step: app.StepSignInFailed, Reason: reason, Detail: detail}, stepData{})
	return ls.LinkSession, err
}

// HeldSession returns the session whose current OAuth state is state (the
// failure screen's address) and how the browser relates to it. ENOTFOUND
// for an unknown state or a flow-2 session.
func (s *Store) HeldSession(ctx context.Context, state string, browserHash []byte) (app.LinkSession, app.Browser, error) {
	var row struct {
		app.LinkSession
		BrowserHash []byte `db:"browser_hash"`
	}
	err := openFirst(ctx, s.db, &row, `SELECT `+sessionCols+`, browser_hash FROM link_sessions WHERE state_hash = $1`, app.HashToken(state))
	if err == nil && row.Kind != app.KindSupplierLink {
		err = sql.ErrNoRows
	}
	if err != nil {
		return app.LinkSession{}, app.BrowserOther, fmt.Errorf("db: held session: %w", notFound(err, "no sign-in has this state"))
	}
	return row.LinkSession, app.MatchBrowser(row.BrowserHash, browserHash), nil
}

// RetrySignIn starts a new authorization at brand for the session held on
// the failure screen of state (app.StepRetry), with a fresh state and
// PKCE verifier; the failure screen's address dies with the old state.
// EFORBIDDEN from another browser; ECONFLICT when the session is not held
// (then the session as it is).
func (s *Store) RetrySignIn(ctx context.Context, state string, browserHash []byte, brand, newState, verifier string) (app.LinkSession, error) {
	return s.heldStep(ctx, state, app.StepInput{Step: app.StepRetry, Choice: brand}, func(id string) stepData {
		return stepData{BrowserHash: browserHash, Brand: brand, State: newState,
			VerifierEnc: s.cipher.Seal([]byte(verifier), []byte("pkce:"+id))}
	})
}

// LeaveFailure ends the session held on the failure screen of state with
// its held failure (app.StepLeave), one link.failed webhook. EFORBIDDEN
// from another browser; ECONFLICT when it is not held (then the session as
// it is).
func (s *Store) LeaveFailure(ctx context.Context, state string, browserHash []byte) (app.LinkSession, error) {
	return s.heldStep(ctx, state, app.StepInput{Step: app.StepLeave}, func(string) stepData {
		return stepData{BrowserHash: browserHash}
	})
}

// heldStep runs a step of the failure screen on the flow-1 session whose
// current OAuth state is state; data gives the step's data for the locked
// session's id.
func (s *Store) heldStep(ctx context.Context, state string, in app.StepInput, data func(sessionID string) stepData) (app.LinkSession, error) {
	var out app.LinkSession
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		ls, err := lockByState(ctx, tx, state, app.KindSupplierLink, app.ErrUnknownState)
		if err != nil {
			return err
		}
		defer func() { out = ls.LinkSession }()
		_, err = step(ctx, tx, &ls, in, data(ls.ID))
		return err
	})
	return out, unwrapCommit(err)
}

// FailLinkSession ends an unfinished session as failed with reason
// (app.StepFail: expired when past the deadline); a session that already
// ended is left as it is. It returns the session.
func (s *Store) FailLinkSession(ctx context.Context, sessionID, reason, detail string) (app.LinkSession, error) {
	ls, err := s.runStep(ctx, byColumn("id", sessionID), app.StepInput{Step: app.StepFail, Reason: reason, Detail: detail}, stepData{})
	return ls.LinkSession, err
}

// TakenOver reports whether the session moved to another browser at the
// user's request (a browser_takeover event; the bound of its creation lets
// the planner skip older months).
func (s *Store) TakenOver(ctx context.Context, sessionID string) (bool, error) {
	var moved bool
	if err := s.db.GetContext(ctx, &moved, `
		SELECT EXISTS (SELECT 1 FROM link_events WHERE session_id = $1 AND type = $2
			AND created_at >= (SELECT created_at - interval '1 day' FROM link_sessions WHERE id = $1))`,
		sessionID, app.EventBrowserTakeover); err != nil {
		return false, fmt.Errorf("db: taken over: %w", err)
	}
	return moved, nil
}

// CancelLink ends an unfinished session at the user's request
// (app.StepCancel): from the browser that holds it, or from any browser
// before the first choice bound it; another browser is EFORBIDDEN and
// changes nothing. An ended session is returned as it is.
func (s *Store) CancelLink(ctx context.Context, sessionID string, browserHash []byte) (app.LinkSession, error) {
	ls, err := s.runStep(ctx, byColumn("id", sessionID), app.StepInput{Step: app.StepCancel}, stepData{BrowserHash: browserHash})
	return ls.LinkSession, err
}

// CompleteConnection finishes a claimed session in one transaction
// (app.StepConnect): it maps the supplier user to its nox user
// (app.DecideMapping, see mapUsers), replaces that user's devices of this
// manufacturer with c.Devices, stores the tokens encrypted, and marks the
// session connected. Past the deadline
// the session is expired with reason expired_after_auth and nothing else is
// written.
func (s *Store) CompleteConnection(ctx context.Context, c app.Connection) (app.LinkSession, error) {
	var out app.LinkSession
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		ls, err := lockSession(ctx, tx, "id", c.SessionID)
		if err != nil {
			return err
		}
		in := app.StepInput{Step: app.StepConnect, Devices: len(c.Devices)}
		if tr := ls.decide(in, nil); !tr.Proceed {
			if !tr.Changes() {
				return tr.Err
			}
			_, err := step(ctx, tx, &ls, in, stepData{})
			out = ls.LinkSession
			return err
		}
		noxUserID, err := mapUsers(ctx, tx, &ls, ls.SupplierID, ls.SupplierUserID)
		if err != nil {
			return err
		}
		if err := s.replaceDevices(ctx, tx, noxUserID, c); err != nil {
			return err
		}
		if _, err := step(ctx, tx, &ls, in, stepData{NoxUserID: noxUserID}); err != nil {
			return err
		}
		ids := make([]string, len(c.Devices))
		for i, d := range c.Devices {
			ids[i] = d.ID
		}
		out = ls.LinkSession
		return enqueueLinkEvent(ctx, tx, ls.LinkSession, app.EventLinkConnected, ids)
	})
	return out, unwrapCommit(err)
}

// upsertDevices connects devices of manufacturerID to a nox user; a device
// it already has is refreshed (name and model are kept when not given).
func upsertDevices(ctx context.Context, tx *sqlx.Tx, noxUserID, manufacturerID string, devices []app.DeviceInfo) error {
	for _, d := range devices {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO devices (nox_user_id, manufacturer_id, external_id, name, model, status, connected_at, last_sync_at)
			VALUES ($1, $2, $3, $4, $5, 'connected', now(), now())
			ON CONFLICT (nox_user_id, manufacturer_id, external_id) DO UPDATE
			SET name = coalesce(NULLIF(EXCLUDED.name, ''), devices.name), model = coalesce(NULLIF(EXCLUDED.model, ''), devices.model),
			    status = 'connected', connected_at = now(), last_sync_at = now(), updated_at = now()`,
			noxUserID, manufacturerID, d.ID, d.Name, d.Model); err != nil {
			return fmt.Errorf("db: upsert device: %w", err)
		}
	}
	return nil
}

func (s *Store) replaceDevices(ctx context.Context, tx *sqlx.Tx, noxUserID string, c app.Connection) error {
	ids := make([]string, len(c.Devices))
	for i, d := range c.Devices {
		ids[i] = d.ID
	}
	if _, err := tx.ExecContext(ctx, `
		DELETE FROM devices WHERE nox_user_id = $1 AND manufacturer_id = $2 AND NOT (external_id = ANY($3))`,
		noxUserID, c.ManufacturerID, pq.Array(ids)); err != nil {
		return fmt.Errorf("db: replace devices: %w", err)
	}
	if err := upsertDevices(ctx, tx, noxUserID, c.ManufacturerID, c.Devices); err != nil {
		return err
	}
	aad := []byte("grant:" + noxUserID + ":" + c.ManufacturerID)
	var refresh []byte
	if c.Tokens.RefreshToken != "" {
		refresh = s.cipher.Seal([]byte(c.Tokens.RefreshToken), aad)
	}
	var expiry *time.Time
	if !c.Tokens.Expiry.IsZero() {
		expiry = &c.Tokens.Expiry
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO manufacturer_grants (nox_user_id, manufacturer_id, access_token_enc, refresh_token_enc, token_expires_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (nox_user_id, manufacturer_id) DO UPDATE
		SET access_token_enc = EXCLUDED.access_token_enc, refresh_token_enc = EXCLUDED.refresh_token_enc,
		    token_expires_at = EXCLUDED.token_expires_at, updated_at = now()`,
		noxUserID, c.ManufacturerID, s.cipher.Seal([]byte(c.Tokens.AccessToken), aad), refresh, expiry); err != nil {
		return fmt.Errorf("db: store grant: %w", err)
	}
	return nil
}

// SweepExpiredSessions expires (app.StepExpire) every unfinished session
// past its deadline, in batches, skipping rows another instance is working
// on; each expiry is written with its link.expired webhook in one
// transaction. It returns how many it expired.
func (s *Store) SweepExpiredSessions(ctx context.Context) (int, error) {
	total := 0
	for {
		n, full, err := s.sweep(ctx, app.StepExpire)
		total += n
		if err != nil || !full {
			return total, err
		}
	}
}

// FailAbandonedCallbacks fails (app.StepLeaseExpire), with reason
// manufacturer_error and one link.failed webhook each, every session whose
// claimed callback's lease ran out without an outcome, skipping rows
// another instance is working on. It returns how many it failed.
func (s *Store) FailAbandonedCallbacks(ctx context.Context) (int, error) {
	n, _, err := s.sweep(ctx, app.StepLeaseExpire)
	return n, err
}

// sweepBatch is how many sessions one sweep transaction takes.
const sweepBatch = 1000

// sweepCandidate is a session a sweeper may end, as selected.
type sweepCandidate struct {
	app.LinkSession
	LeaseUntil *time.Time `db:"callback_lease_until"`
}

// input is the sweep step st for the candidate at now.
func (c sweepCandidate) input(st app.Step, now time.Time) app.StepInput {
	in := app.StepInput{Step: st, Now: now}
	if c.LeaseUntil != nil {
		in.LeaseUntil = *c.LeaseUntil
	}
	return in
}

// sweepSelections are the SQL selections of the sweep steps ($1: now): an
// index-friendly narrowing of what app.Decide rules for the step, which
// every candidate still goes through (TestSweepSelectionAgreesWithDecide
// checks they agree).
var sweepSelections = map[app.Step]struct{ where, order string }{
	app.StepExpire: {`status IN ` + unfinishedSQL + ` AND expires_at <= $1
		AND (callback_at IS NULL OR callback_lease_until IS NULL)`, `expires_at`},
	app.StepLeaseExpire: {`status = '` + string(app.StatusAuthorizing) + `' AND callback_at IS NOT NULL
		AND callback_lease_until <= $1`, `callback_lease_until`},
}

// dropChoices deletes the stored device choices of the sessions the
// expiry sweep ends.
var dropChoices = map[app.Step]string{app.StepExpire: `, d AS (
				DELETE FROM link_device_choices WHERE session_id IN (SELECT id FROM x))`}

// sweepCandidates returns, locked (skipping locked rows), up to limit
// sessions the selection of st takes at now.
func sweepCandidates(ctx context.Context, tx *sqlx.Tx, st app.Step, now time.Time, limit int) ([]sweepCandidate, error) {
	sel := sweepSelections[st]
	var out []sweepCandidate
	if err := tx.SelectContext(ctx, &out, `SELECT `+sessionCols+`, callback_lease_until FROM `+sessionsOpen+`
		WHERE `+sel.where+` ORDER BY `+sel.order+` LIMIT $2 FOR UPDATE SKIP LOCKED`, now, limit); err != nil {
		return nil, fmt.Errorf("db: sweep candidates: %w", err)
	}
	return out, nil
}

// sweep runs one batch of the sweep step st (app.StepExpire or
// app.StepLeaseExpire) in one transaction: the candidates go through
// app.Decide, and the ones it ends get its transition — one UPDATE, their
// events and webhooks. full says the batch was full and every candidate
// ended (run another).
func (s *Store) sweep(ctx context.Context, st app.Step) (n int, full bool, err error) {
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		var now time.Time
		if err := tx.GetContext(ctx, &now, `SELECT now()`); err != nil {
			return fmt.Errorf("db: sweep clock: %w", err)
		}
		cands, err := sweepCandidates(ctx, tx, st, now, sweepBatch)
		if err != nil {
			return err
		}
		// Sweep transitions depend on the session only through the reason
		// of a held failure, so one statement writes each group of equal
		// transitions.
		type group struct {
			tr  app.Transition
			ids []string
		}
		var groups []*group
		byKey := map[string]*group{}
		for _, c := range cands {
			t := c.Decide(c.input(st, now))
			if !t.Ends() {
				continue
			}
			key := string(t.To) + "\x00" + t.Reason + "\x00" + t.Events[0].Detail
			if byKey[key] == nil {
				byKey[key] = &group{tr: t}
				groups = append(groups, byKey[key])
			}
			byKey[key].ids = append(byKey[key].ids, c.ID)
		}
		var ended []app.LinkSession
		for _, g := range groups {
			tr := g.tr
			var these []app.LinkSession
			if err := tx.SelectContext(ctx, &these, `
			WITH x AS (
				UPDATE `+sessionsOpen+` SET status = $2, failure_reason = $3, finished_at = now(), held_reason = NULL
				WHERE id = ANY($1) RETURNING `+sessionCols+`
			), e AS (
				INSERT INTO link_events (session_id, type, detail) SELECT id, $4::text, $5::text FROM x
			)`+dropChoices[st]+`
			SELECT * FROM x`, pq.Array(g.ids), tr.To, tr.Reason, tr.Events[0].Type, tr.Events[0].Detail); err != nil {
				return fmt.Errorf("db: sweep %s: %w", st, err)
			}
			hook := app.EventLinkFailed
			if tr.To == app.StatusExpired {
				hook = app.EventLinkExpired
			}
			for _, ls := range these {
				noteSessionWrite(tx, ls.ID)
				app.ObserverFrom(ctx).SessionFinished(string(ls.Kind), ls.Brand(), string(tr.To), tr.Reason)
				if err := enqueueLinkEvent(ctx, tx, ls, hook, nil); err != nil {
					return err
				}
			}
			ended = append(ended, these...)
		}
		n, full = len(ended), len(cands) == sweepBatch && len(ended) == len(cands)
		return nil
	})
	if err != nil {
		return 0, false, err
	}
	return n, full, nil
}

// SupplierUser returns what a supplier may see of one of its users: the nox
// user, its devices and its 20 most recent link sessions. ENOTFOUND when the
// supplier has neither a mapping nor a session for that id.
func (s *Store) SupplierUser(ctx context.Context, supplierID, supplierUserID string) (app.SupplierUser, error) {
	out := app.SupplierUser{SupplierID: supplierID, SupplierUserID: supplierUserID}
	var nox sql.NullString
	err := s.db.GetContext(ctx, &nox, `SELECT nox_user_id FROM supplier_mappings WHERE supplier_id = $1 AND supplier_user_id = $2`,
		supplierID, supplierUserID)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return out, fmt.Errorf("db: supplier user: %w", err)
	}
	if nox.Valid {
		out.NoxUserID = &nox.String
		if err := s.db.SelectContext(ctx, &out.Devices, `
			SELECT id, nox_user_id, manufacturer_id, external_id, name, model, status, connected_at, last_sync_at
			FROM devices WHERE nox_user_id = $1 ORDER BY manufacturer_id, external_id`, nox.String); err != nil {
			return out, fmt.Errorf("db: supplier user devices: %w", err)
		}
	}
	if err := s.db.SelectContext(ctx, &out.Sessions, `
		SELECT `+sessionCols+` FROM link_sessions WHERE supplier_id = $1 AND supplier_user_id = $2
		ORDER BY created_at DESC LIMIT 20`, supplierID, supplierUserID); err != nil {
		return out, fmt.Errorf("db: supplier user sessions: %w", err)
	}
	if out.NoxUserID == nil && len(out.Sessions) == 0 {
		return out, app.Errorf(app.ENOTFOUND, "No user %q for this supplier.", supplierUserID)
	}
	return out, nil
}
