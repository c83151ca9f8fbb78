package db

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"noxportal/app"
)

// The transaction-scoped primitives every link-session step is made of:
// lock the session, ask the state machine (app.LinkSession.Decide), write
// the transition it returns, append its events and queue its webhooks.
// They hold no rules of their own.

// lockedSession is a session row locked FOR UPDATE with the database's clock.
type lockedSession struct {
	app.LinkSession
	BrowserHash []byte    `db:"browser_hash"`
	VerifierEnc []byte    `db:"pkce_verifier_enc"`
	Now         time.Time `db:"db_now"`
	// Open: the row is in the open partition (not moved into history).
	Open bool `db:"session_open"`
}

// lockSession locks the session whose column equals key, looking in the
// open partition first (session_history.go).
func lockSession(ctx context.Context, tx *sqlx.Tx, column string, key any) (lockedSession, error) {
	var ls lockedSession
	err := openFirst(ctx, tx, &ls, `SELECT `+sessionCols+`, browser_hash, pkce_verifier_enc, now() AS db_now,
		history_month = 'infinity' AS session_open
		FROM link_sessions WHERE `+column+` = $1 FOR UPDATE`, key)
	if err != nil {
		return ls, fmt.Errorf("db: lock session: %w", notFound(err, "link session not found"))
	}
	return ls, nil
}

// lockByState locks the session of kind that issued a one-time OAuth state;
// an unknown state, or one of another kind of session, is unknown (the
// caller's ENOTFOUND error).
func lockByState(ctx context.Context, tx *sqlx.Tx, state string, kind app.SessionKind, unknown error) (lockedSession, error) {
	ls, err := lockSession(ctx, tx, "state_hash", app.HashToken(state))
	if err != nil && !app.IsNotFound(err) {
		return ls, err
	}
	if err != nil || ls.Kind != kind {
		return lockedSession{}, unknown
	}
	return ls, nil
}

// decide asks the state machine what step does to the locked session; the
// step's time is the database's.
func (ls *lockedSession) decide(in app.StepInput, browserHash []byte) app.Transition {
	in.Now = ls.Now
	in.Browser = app.MatchBrowser(ls.BrowserHash, browserHash)
	return ls.Decide(in)
}

// stepData is what a transition writes besides its status: the values only
// the step's caller has.
type stepData struct {
	// BrowserHash is bound by a transition with Bind.
	BrowserHash []byte
	// Lease is the callback lease a Claim holds (0: none).
	Lease time.Duration
	// Choice of a Choose: the brand (flow 1) or supplier (flow 2), the
	// one-time state and the PKCE verifier (flow 1, encrypted).
	Brand, SupplierID, State string
	VerifierEnc              []byte
	// NoxUserID and SupplierUserID of a connection.
	NoxUserID, SupplierUserID string
}

// applyTransition writes tr to the locked session in one UPDATE, appends
// its events, and, when it ends the session, queues the link.failed or
// link.expired webhook. ls is refreshed to the row as written.
func applyTransition(ctx context.Context, tx *sqlx.Tx, ls *lockedSession, tr app.Transition, d stepData) error {
	var set []string
	args := []any{ls.ID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if tr.Bind {
		set = append(set, "browser_hash = "+arg(d.BrowserHash))
	}
	if tr.Claim {
		set = append(set, "callback_at = now()")
		if d.Lease > 0 {
			set = append(set, "callback_lease_until = now() + make_interval(secs => "+arg(d.Lease.Seconds())+")")
		}
	}
	if tr.Release {
		set = append(set, "callback_lease_until = NULL")
	}
	if tr.Hold {
		set = append(set, "held_reason = "+arg(tr.Reason), "callback_lease_until = expires_at")
	}
	if tr.Unhold {
		set = append(set, "held_reason = NULL", "callback_at = NULL", "callback_lease_until = NULL")
	}
	if tr.Choose {
		set = append(set, "brand_selected_at = now()", "authorizing_at = now()", "state_hash = "+arg(app.HashToken(d.State)))
		if d.Brand != "" {
			set = append(set, "manufacturer_id = "+arg(d.Brand), "pkce_verifier_enc = "+arg(d.VerifierEnc))
		}
		if d.SupplierID != "" {
			set = append(set, "supplier_id = "+arg(d.SupplierID))
		}
	}
	if tr.To != "" {
		set = append(set, "status = "+arg(string(tr.To)))
	}
	switch {
	case tr.To == app.StatusOpened:
		set = append(set, "opened_at = now()")
	case tr.To == app.StatusConnected:
		set = append(set, "nox_user_id = "+arg(d.NoxUserID), "finished_at = now()")
		if d.SupplierUserID != "" {
			set = append(set, "supplier_user_id = "+arg(d.SupplierUserID))
		}
	case tr.Ends():
		set = append(set, "failure_reason = "+arg(tr.Reason), "finished_at = now()", "held_reason = NULL")
	case tr.Relabel:
		set = append(set, "failure_reason = "+arg(tr.Reason))
	}
	if len(set) > 0 {
		table := "link_sessions"
		if ls.Open {
			table = sessionsOpen
		}
		if err := tx.GetContext(ctx, &ls.LinkSession, `UPDATE `+table+` SET `+strings.Join(set, ", ")+
			` WHERE id = $1 RETURNING `+sessionCols, args...); err != nil {
			return fmt.Errorf("db: link session step: %w", err)
		}
		noteSessionWrite(tx, ls.ID)
	}
	if tr.Bind {
		ls.BrowserHash = d.BrowserHash
	}
	for _, e := range tr.Events {
		if err := addEvent(ctx, tx, ls.ID, e.Type, e.Detail); err != nil {
			return err
		}
	}
	if tr.To.Final() {
		app.ObserverFrom(ctx).SessionFinished(string(ls.Kind), ls.Brand(), string(tr.To), tr.Reason)
		if ls.CallbackAt != nil && ls.Kind == app.KindSupplierLink {
			if err := dropDeviceChoice(ctx, tx, ls.ID); err != nil {
				return err
			}
		}
	}
	if tr.Ends() {
		hook := app.EventLinkFailed
		if tr.To == app.StatusExpired {
			hook = app.EventLinkExpired
		}
		return enqueueLinkEvent(ctx, tx, ls.LinkSession, hook, nil)
	}
	return nil
}

// locker locks the session a step is for, in tx.
type locker func(ctx context.Context, tx *sqlx.Tx) (lockedSession, error)

// byColumn locks the session whose column equals key.
func byColumn(column string, key any) locker {
	return func(ctx context.Context, tx *sqlx.Tx) (lockedSession, error) {
		return lockSession(ctx, tx, column, key)
	}
}

// ofKind locks the session by id when it is of kind; another kind is
// ENOTFOUND.
func ofKind(sessionID string, kind app.SessionKind) locker {
	return func(ctx context.Context, tx *sqlx.Tx) (lockedSession, error) {
		ls, err := lockSession(ctx, tx, "id", sessionID)
		if err == nil && ls.Kind != kind {
			return lockedSession{}, app.Errorf(app.ENOTFOUND, "link session not found")
		}
		return ls, err
	}
}

// runStep runs one step in its own transaction: lock the session, decide,
// write. It returns the session as the step left it (as locked when the
// step was refused) and the step's error.
func (s *Store) runStep(ctx context.Context, lock locker, in app.StepInput, d stepData) (lockedSession, error) {
	var out lockedSession
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		ls, err := lock(ctx, tx)
		if err != nil {
			return err
		}
		defer func() { out = ls }()
		_, err = step(ctx, tx, &ls, in, d)
		return err
	})
	return out, unwrapCommit(err)
}

// step decides in for the locked session and writes
// the transition. It returns the transition; its Err is returned wrapped in
// errCommit when the transition wrote something (an expiry recorded before
// the step is refused), so inTx commits it.
func step(ctx context.Context, tx *sqlx.Tx, ls *lockedSession, in app.StepInput, d stepData) (app.Transition, error) {
	tr := ls.decide(in, d.BrowserHash)
	if tr.Err != nil && !tr.Changes() {
		return tr, tr.Err
	}
	if err := applyTransition(ctx, tx, ls, tr, d); err != nil {
		return tr, err
	}
	if tr.Err != nil {
		return tr, errCommit{tr.Err}
	}
	return tr, nil
}

func addEvent(ctx context.Context, tx *sqlx.Tx, sessionID, typ, detail string) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO link_events (session_id, type, detail) VALUES ($1, $2, $3)`,
		sessionID, typ, detail); err != nil {
		return fmt.Errorf("db: add event %s: %w", typ, err)
	}
	return nil
}

// sessionOwner is the party that started a session's flow and hears about
// its outcome: the supplier in flow 1, the manufacturer in flow 2.
func sessionOwner(ls app.LinkSession) app.Party {
	if ls.Kind == app.KindSupplierSelect {
		return app.ManufacturerParty(ls.Brand())
	}
	return app.SupplierParty(ls.SupplierID)
}

// linkEventData is what a webhook says about a session.
func linkEventData(ls app.LinkSession, deviceIDs []string) app.LinkEventData {
	d := app.LinkEventData{SessionID: ls.ID, Flow: string(ls.Kind), Status: string(ls.Status), Reason: ls.Reason(),
		SupplierID: ls.SupplierID, SupplierUserID: ls.SupplierUserID, Manufacturer: ls.Brand(),
		ManufacturerUserID: ls.ManufacturerUserID, DeviceIDs: deviceIDs, At: time.Now().Unix()}
	if ls.NoxUserID != nil {
		d.NoxUserID = *ls.NoxUserID
	}
	return d
}

// enqueueLinkEvent tells the session's owner about it, in tx.
func enqueueLinkEvent(ctx context.Context, tx *sqlx.Tx, ls app.LinkSession, typ string, deviceIDs []string) error {
	return enqueueWebhook(ctx, tx, sessionOwner(ls), typ, linkEventData(ls, deviceIDs))
}

// errCommit carries an error out of inTx while still committing the work
// done so far (an expiry recorded before refusing the step).
type errCommit struct{ err error }

func (e errCommit) Error() string { return e.err.Error() }

// unwrapCommit returns the error an errCommit carries, or err.
func unwrapCommit(err error) error {
	if ec, ok := err.(errCommit); ok {
		return ec.err
	}
	return err
}

// unfinishedSQL is the SQL list of the unfinished statuses, for status IN.
var unfinishedSQL = app.StatusList(app.UnfinishedStatuses)
