package app

import (
	"crypto/subtle"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The link-session state machine. Decide is the one place that rules what a
// step does to a session: the store locks the session, asks Decide, and
// writes the Transition it returns (status, reason, browser binding,
// callback claim, events) in the same transaction.
//
//	created ──open──▶ opened ──choose──▶ authorizing ──connect/report──▶ connected
//	   └────────────────choose─────────────▲    │ ▲
//	                                             │ └─choose (pick again before the callback)
//	any unfinished ──fail/cancel──▶ failed       └─callback/return: claimed (callback_at)
//	any unfinished ──deadline─────▶ expired (reason expired, or expired_after_auth
//	                                when the manufacturer or supplier said yes too late)
//
// There is no brand_selected status: choosing a brand (or a supplier) and
// starting its authorization are one step, written in one transaction, so
// no session ever rests between them. The choice is recorded by
// brand_selected_at and the brand_selected (supplier_selected) event, which
// the reports count.
//
// A flow-1 sign-in that fails in a way the user can fix (FixableReasons)
// is held on the failure screen instead of ending, unless the supplier
// turned the screens off: the session stays authorizing with its callback
// claimed, HeldReason set and a lease until its deadline. From there
// retry (StepRetry, or StepChoose from the link) starts a new
// authorization; leave (StepLeave: the user returns to the supplier) or
// the lease running out (StepLeaseExpire: the user left) ends it failed
// with the held reason. So a held session ends once, with one webhook.

// UnfinishedStatuses are the statuses a session can leave; every SQL test
// of "unfinished" is built from this list (StatusList).
var UnfinishedStatuses = []SessionStatus{StatusCreated, StatusOpened, StatusAuthorizing}

// EndedStatuses are the final statuses.
var EndedStatuses = []SessionStatus{StatusConnected, StatusFailed, StatusExpired}

// StatusList renders statuses as a SQL list of literals ('a', 'b'); the
// values are the constants above, never user input.
func StatusList(statuses []SessionStatus) string {
	parts := make([]string, len(statuses))
	for i, s := range statuses {
		parts[i] = "'" + string(s) + "'"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// Step is something that happens to a link session.
type Step string

// Steps of a link session.
const (
	// StepOpen: the link is fetched (any GET; a mail scanner's too).
	StepOpen Step = "open"
	// StepChoose: the user picks a brand (flow 1) or a supplier (flow 2),
	// which starts its authorization. The first such step binds the session
	// to the user's browser.
	StepChoose Step = "choose"
	// StepTakeover: the user continues in another browser.
	StepTakeover Step = "takeover"
	// StepCallback: the manufacturer's callback claims the session (flow 1).
	StepCallback Step = "callback"
	// StepReturn: the browser comes back from the supplier's login (flow 2).
	StepReturn Step = "return"
	// StepAwaitDevices: flow 1's manufacturer account has several devices
	// and the user chooses which to link; the callback's lease is released
	// and the deadline governs the wait.
	StepAwaitDevices Step = "await_devices"
	// StepConnect: the outcome of flow 1, the devices are stored.
	StepConnect Step = "connect"
	// StepReport: the outcome of flow 2, the supplier reports the login.
	StepReport Step = "report"
	// StepSignInFailed: flow 1's sign-in at the manufacturer failed with
	// Reason; a failure the user can fix is held on the failure screen.
	StepSignInFailed Step = "sign_in_failed"
	// StepRetry: the user, on the failure screen, signs in again at the
	// brand of Choice (the same or another).
	StepRetry Step = "retry"
	// StepLeave: the user leaves the failure screen for the supplier.
	StepLeave Step = "leave"
	// StepFail: an outcome that failed (Reason says why), or the user
	// cancelled (ReasonCancelled).
	StepFail Step = "fail"
	// StepCancel: the user cancels in the browser that holds the link (or,
	// before any choice, in any browser).
	StepCancel Step = "cancel"
	// StepExpire: the deadline passed and the sweeper ends the session.
	StepExpire Step = "expire"
	// StepLeaseExpire: a claimed callback's lease ran out without an outcome.
	StepLeaseExpire Step = "lease_expire"
)

// Steps lists every step (for tests that cover them all).
var Steps = []Step{StepOpen, StepChoose, StepTakeover, StepCallback, StepReturn, StepAwaitDevices, StepConnect,
	StepReport, StepSignInFailed, StepRetry, StepLeave, StepFail, StepCancel, StepExpire, StepLeaseExpire}

// FixableReasons are the sign-in failures the failure screen offers to
// fix: the user denied access (try again, or another brand), the account
// has no devices (another account or brand), the manufacturer failed (a
// retry can help). An expired link is not fixable.
var FixableReasons = []string{ReasonAccessDenied, ReasonNoDevices, ReasonManufacturerError}

// Browser says how the browser taking a step relates to the one the
// session is bound to.
type Browser int

// Browser relations.
const (
	// BrowserUnbound: the session is bound to no browser yet.
	BrowserUnbound Browser = iota
	// BrowserSame: the step comes from the bound browser.
	BrowserSame
	// BrowserOther: the session is bound to another browser (or the step
	// comes without the browser cookie).
	BrowserOther
)

// MatchBrowser compares the browser hash a session is bound to (nil: none)
// with the one of the browser taking a step (nil: a request without the
// browser cookie, which is never the bound browser and binds nothing).
func MatchBrowser(bound, presented []byte) Browser {
	switch {
	case presented == nil:
		return BrowserOther
	case bound == nil:
		return BrowserUnbound
	case subtle.ConstantTimeCompare(bound, presented) == 1:
		return BrowserSame
	}
	return BrowserOther
}

// StepInput is a step with what Decide needs to know about it.
type StepInput struct {
	Step Step
	// Now is the time of the step (the database's clock in the store).
	Now time.Time
	// Browser relates the step's browser to the session's.
	Browser Browser
	// Choice is the brand (flow 1) or supplier (flow 2) of StepChoose, and
	// the brand whose callback arrives in StepCallback.
	Choice string
	// Granted: the manufacturer (StepCallback) said yes.
	Granted bool
	// Reason is the failure reason of StepFail, the supplier's error of
	// StepReturn ("" none).
	Reason string
	// Detail is the event detail of StepFail and of the expiry of StepChoose
	// and StepOpen when the deadline has passed.
	Detail string
	// SupplierID is the supplier that reports a login (StepReport).
	SupplierID string
	// SupplierUserID is the user it reports (StepReport).
	SupplierUserID string
	// Devices is how many devices the outcome connects (StepConnect, StepReport).
	Devices int
	// LeaseUntil is when the claimed callback's lease runs out
	// (StepLeaseExpire; zero: the claim holds no lease).
	LeaseUntil time.Time
}

// LinkEventRecord is an event to append to a session's timeline.
type LinkEventRecord struct{ Type, Detail string }

// Transition is what a step does to a session. Err, when set, is what the
// caller is told; whatever else the transition holds is still written (an
// expiry recorded before the step is refused).
type Transition struct {
	// To is the status after the step; "" leaves it.
	To SessionStatus
	// Reason is the failure reason written with To failed or expired, or by
	// Relabel.
	Reason string
	// Relabel changes the reason of an expired session to Reason
	// (expired_after_auth: the manufacturer said yes after the sweeper
	// expired it) without another end.
	Relabel bool
	// Bind binds the session to the step's browser (the first deliberate
	// step, or a takeover).
	Bind bool
	// Claim records the callback (callback_at and, in flow 1, a lease).
	Claim bool
	// Release drops the callback's lease (the user chooses devices; a
	// session waiting without a lease ends at its deadline).
	Release bool
	// Hold keeps the failure Reason on the failure screen: held_reason is
	// set and the lease runs until the session's deadline.
	Hold bool
	// Unhold clears a held failure and the callback's claim and lease, so
	// a new authorization can start and be claimed.
	Unhold bool
	// Choose records the choice of StepChoose and the authorization's start.
	Choose bool
	// Events are appended to the session's timeline in this order.
	Events []LinkEventRecord
	// Proceed: the step goes on (exchange the code, map the user, …).
	Proceed bool
	// Err is what the caller is told.
	Err error
}

// Ends reports whether the transition ends the session as failed or
// expired (which sends the link.failed or link.expired webhook).
func (t Transition) Ends() bool { return t.To == StatusFailed || t.To == StatusExpired }

// Changes reports whether the transition writes anything.
func (t Transition) Changes() bool {
	return t.To != "" || t.Relabel || t.Bind || t.Claim || t.Release || t.Hold || t.Unhold || t.Choose || len(t.Events) > 0
}

// Errors of the state machine.
var (
	// ErrWrongBrowser: the session is in use in another browser.
	ErrWrongBrowser = ReasonErrorf(EFORBIDDEN, "wrong_browser", "This link is in use in another browser.")
	// ErrTakenOver: the session moved to another browser at the user's
	// request ("continue here instead"), so this browser's sign-in cannot
	// finish.
	ErrTakenOver = ReasonErrorf(EFORBIDDEN, "taken_over", "This link was continued in another browser.")
	// ErrUnknownCallback: a manufacturer callback whose state is unknown or
	// belongs to another brand.
	ErrUnknownCallback = ReasonErrorf(ENOTFOUND, "unknown_state", "This sign-in response does not belong to any link.")
	// ErrUnknownState: a flow-2 state no session has.
	ErrUnknownState = ReasonErrorf(ENOTFOUND, "unknown_state", "No link session has this state.")
	// ErrWrongSupplier: a supplier reports a login that another supplier's
	// page started.
	ErrWrongSupplier = ReasonErrorf(EFORBIDDEN, "wrong_supplier", "This state belongs to a login at another supplier.")
	// ErrSupplierLate: the supplier reported the login after the deadline.
	ErrSupplierLate = ReasonErrorf(ECONFLICT, ReasonExpired,
		"The link session expired before the login was reported; the user has to start again.")
	errNotExpected = ReasonErrorf(ECONFLICT, ReasonAlreadyUsed, "This sign-in response is not expected now.")
	errReturnUsed  = ReasonErrorf(ECONFLICT, ReasonAlreadyUsed, "This sign-in response was used already.")
)

// ErrExpired is the error of a step past the deadline (reason expired or
// expired_after_auth).
func ErrExpired(reason string) error {
	return ReasonErrorf(ECONFLICT, reason, "This link has expired.")
}

// ErrEnded is the error of a step on a session that has ended (or whose
// callback was claimed).
func ErrEnded(s LinkSession) error {
	if s.Status == StatusExpired {
		return ErrExpired(s.Reason())
	}
	return ReasonErrorf(ECONFLICT, ReasonAlreadyUsed, "This link has already been used.")
}

// Decide rules what step in does to session s. It never fails: a step the
// machine refuses comes back with Err set (and possibly a transition to
// write first, such as an expiry).
func (s LinkSession) Decide(in StepInput) Transition {
	switch in.Step {
	case StepOpen:
		return s.decideOpen(in)
	case StepChoose:
		return s.decideChoose(in)
	case StepTakeover:
		return s.decideTakeover(in)
	case StepCallback:
		return s.decideCallback(in)
	case StepReturn:
		return s.decideReturn(in)
	case StepAwaitDevices:
		return s.decideAwaitDevices(in)
	case StepConnect:
		return s.decideConnect(in)
	case StepReport:
		return s.decideReport(in)
	case StepSignInFailed:
		return s.decideSignInFailed(in)
	case StepRetry:
		return s.decideRetry(in)
	case StepLeave:
		return s.decideLeave(in)
	case StepFail:
		return s.decideFail(in)
	case StepCancel:
		if !s.Status.Final() && !s.Expired(in.Now) && in.Browser == BrowserOther {
			return Transition{Err: ErrWrongBrowser}
		}
		return s.decideFail(StepInput{Now: in.Now, Reason: ReasonCancelled, Detail: "cancelled by user"})
	case StepExpire:
		if s.Status.Final() || !s.Expired(in.Now) {
			return Transition{}
		}
		if s.CallbackAt != nil {
			// A claimed callback belongs to the lease sweeper while it holds
			// a lease (a held failure holds one to the deadline). Without
			// one the user was signed in and asked to choose devices: the
			// deadline ends it, as the connect step would.
			if !in.LeaseUntil.IsZero() || s.Held() {
				return Transition{}
			}
			return SweepExpiryAfterAuth
		}
		return SweepExpiry
	case StepLeaseExpire:
		if s.Status != StatusAuthorizing || s.CallbackAt == nil || in.LeaseUntil.IsZero() || in.Now.Before(in.LeaseUntil) {
			return Transition{}
		}
		if s.Held() {
			return end(StatusFailed, s.HeldFailure(), "left the failure screen")
		}
		return SweepLeaseExpiry
	}
	return Transition{Err: fmt.Errorf("app: unknown link step %q", in.Step)}
}

// SweepExpiry, SweepExpiryAfterAuth and SweepLeaseExpiry are what
// StepExpire and StepLeaseExpire do to a session they apply to. The sweepers write them to many sessions
// in one statement (status, reason, event), so these are shared values:
// never change them.
var (
	SweepExpiry          = end(StatusExpired, ReasonExpired, "deadline passed")
	SweepExpiryAfterAuth = end(StatusExpired, ReasonExpiredAfterAuth, "deadline passed while choosing devices")
	SweepLeaseExpiry     = end(StatusFailed, ReasonManufacturerError, "the sign-in was not finished in time (callback lease ran out)")
)

// end is the transition that ends a session with status and reason; the
// event's detail is detail, or the reason when detail is empty.
func end(status SessionStatus, reason, detail string) Transition {
	typ := EventFailed
	if status == StatusExpired {
		typ = EventExpired
	}
	if detail == "" {
		detail = reason
	}
	return Transition{To: status, Reason: reason, Events: []LinkEventRecord{{typ, detail}}}
}

// expire is end(expired) with the caller told ErrExpired.
func expire(reason, detail string) Transition {
	t := end(StatusExpired, reason, detail)
	t.Err = ErrExpired(reason)
	return t
}

func (s LinkSession) decideOpen(in StepInput) Transition {
	switch {
	case s.Status.Final():
		return Transition{}
	case s.Expired(in.Now):
		return s.endOverdue("opened after deadline")
	case s.Status != StatusCreated:
		return Transition{}
	}
	return Transition{To: StatusOpened, Events: []LinkEventRecord{{EventOpened, ""}}}
}

// decideChoose: a brand (flow 1) or supplier (flow 2) is chosen, which
// starts its authorization, from created, opened or authorizing (picking
// again before any callback). The first choice binds the browser.
func (s LinkSession) decideChoose(in StepInput) Transition {
	if s.Held() {
		return s.decideRetry(in)
	}
	if s.Status.Final() || s.CallbackAt != nil {
		return Transition{Err: ErrEnded(s)}
	}
	if s.Expired(in.Now) {
		detail := "brand selected after deadline"
		if s.Kind == KindSupplierSelect {
			detail = "supplier selected after deadline"
		}
		return expire(ReasonExpired, detail)
	}
	if in.Browser == BrowserOther {
		return Transition{Err: ErrWrongBrowser}
	}
	chosen := EventBrandSelected
	if s.Kind == KindSupplierSelect {
		chosen = EventSupplierSelected
	}
	return Transition{To: StatusAuthorizing, Bind: in.Browser == BrowserUnbound, Choose: true, Proceed: true,
		Events: []LinkEventRecord{{chosen, in.Choice}, {EventOAuthStarted, in.Choice}}}
}

func (s LinkSession) decideTakeover(in StepInput) Transition {
	if s.Status.Final() || s.CallbackAt != nil {
		return Transition{Err: ErrEnded(s)}
	}
	if s.Expired(in.Now) {
		return expire(ReasonExpired, "taken over after deadline")
	}
	if in.Browser == BrowserSame {
		return Transition{Proceed: true}
	}
	return Transition{Bind: true, Proceed: true,
		Events: []LinkEventRecord{{EventBrowserTakeover, "continued in another browser"}}}
}

// decideCallback claims a flow-1 session for the manufacturer's callback:
// only the first claim counts, and only from the bound browser. A
// manufacturer that says yes after the deadline is recorded as
// expired_after_auth, even when the sweeper expired the session first.
func (s LinkSession) decideCallback(in StepInput) Transition {
	if s.Brand() != in.Choice {
		return Transition{Err: ErrUnknownCallback}
	}
	if s.CallbackAt != nil {
		return Transition{Err: ErrEnded(s)}
	}
	if in.Browser != BrowserSame {
		return Transition{Err: ErrWrongBrowser}
	}
	sweptBeforeAuth := s.Status == StatusExpired && s.Reason() == ReasonExpired
	if s.Status.Final() && !(in.Granted && sweptBeforeAuth) {
		return Transition{Err: ErrEnded(s)}
	}
	claim := Transition{Claim: true, Events: []LinkEventRecord{{EventCallback, map[bool]string{true: "granted", false: "not granted"}[in.Granted]}}}
	expiredAfterAuth := in.Granted && (s.Expired(in.Now) || sweptBeforeAuth)
	switch {
	case expiredAfterAuth && s.Status == StatusExpired:
		claim.Relabel, claim.Reason = true, ReasonExpiredAfterAuth
		claim.Events = append(claim.Events, LinkEventRecord{EventExpired, ReasonExpiredAfterAuth})
		claim.Err = ErrExpired(ReasonExpiredAfterAuth)
	case s.Expired(in.Now):
		reason := ReasonExpired
		if expiredAfterAuth {
			reason = ReasonExpiredAfterAuth
		}
		t := expire(reason, "")
		claim.To, claim.Reason, claim.Err = t.To, t.Reason, t.Err
		claim.Events = append(claim.Events, t.Events...)
	case s.Status != StatusAuthorizing:
		claim.Err = errNotExpected
	default:
		claim.Proceed = true
	}
	return claim
}

// decideReturn claims a flow-2 session when the browser comes back from the
// supplier's login, and ends it if the supplier has not reported the login
// by then.
func (s LinkSession) decideReturn(in StepInput) Transition {
	if s.CallbackAt != nil {
		return Transition{Err: errReturnUsed}
	}
	if in.Browser != BrowserSame {
		return Transition{Err: ErrWrongBrowser}
	}
	t := Transition{Claim: true, Events: []LinkEventRecord{{EventReturned, in.Reason}}}
	var e Transition
	switch {
	case s.Status.Final():
		return t
	case s.Expired(in.Now):
		e = end(StatusExpired, ReasonExpired, "returned from the supplier after the deadline")
	case in.Reason == ReasonAccessDenied:
		e = end(StatusFailed, ReasonAccessDenied, "declined at the supplier")
	default:
		e = end(StatusFailed, ReasonSupplierError, CleanText("returned without a reported login "+in.Reason, 200))
	}
	t.To, t.Reason = e.To, e.Reason
	t.Events = append(t.Events, e.Events...)
	return t
}

// decideAwaitDevices: after a claimed callback the account has several
// devices and the user is asked which to link. The session stays
// authorizing; the connect step (or the deadline) ends it.
func (s LinkSession) decideAwaitDevices(in StepInput) Transition {
	if s.Status != StatusAuthorizing || s.CallbackAt == nil || s.Held() {
		return Transition{Err: ErrEnded(s)}
	}
	if s.Expired(in.Now) {
		return expire(ReasonExpiredAfterAuth, "")
	}
	return Transition{Release: true, Proceed: true,
		Events: []LinkEventRecord{{EventDevicesFound, fmt.Sprintf("%d device(s)", in.Devices)}}}
}

// decideConnect: flow 1's outcome after a claimed callback.
func (s LinkSession) decideConnect(in StepInput) Transition {
	if s.Status != StatusAuthorizing || s.CallbackAt == nil || s.Held() {
		return Transition{Err: ErrEnded(s)}
	}
	if s.Expired(in.Now) {
		return expire(ReasonExpiredAfterAuth, "")
	}
	return Transition{To: StatusConnected, Proceed: true,
		Events: []LinkEventRecord{{EventConnected, fmt.Sprintf("%d device(s)", in.Devices)}}}
}

// decideReport: flow 2's outcome, the supplier reports the login.
func (s LinkSession) decideReport(in StepInput) Transition {
	if s.SupplierID != in.SupplierID {
		return Transition{Err: ErrWrongSupplier}
	}
	if s.Status == StatusExpired {
		if s.Reason() == ReasonExpired {
			return Transition{Relabel: true, Reason: ReasonExpiredAfterAuth,
				Events: []LinkEventRecord{{EventExpired, ReasonExpiredAfterAuth}}, Err: ErrSupplierLate}
		}
		return Transition{Err: ErrSupplierLate}
	}
	if s.Status != StatusAuthorizing {
		return Transition{Err: ReasonErrorf(ECONFLICT, ReasonAlreadyUsed, "This link session has already ended (%s).", s.Status)}
	}
	if s.Expired(in.Now) {
		t := end(StatusExpired, ReasonExpiredAfterAuth, "supplier reported the login after the deadline")
		t.Err = ErrSupplierLate
		return t
	}
	return Transition{To: StatusConnected, Proceed: true, Events: []LinkEventRecord{
		{EventSupplierReported, in.SupplierUserID}, {EventConnected, fmt.Sprintf("%d device(s)", in.Devices)}}}
}

// decideFail ends an unfinished session as failed with the step's reason
// (expired when the deadline has passed); an ended one is left alone.
func (s LinkSession) decideFail(in StepInput) Transition {
	switch {
	case s.Status.Final():
		return Transition{}
	case s.Expired(in.Now):
		return s.endOverdue(in.Detail)
	}
	return end(StatusFailed, in.Reason, in.Detail)
}

// endOverdue ends an unfinished session past its deadline: expired, or,
// when a failure waits on the failure screen, failed with that failure
// (the outcome the user was shown).
func (s LinkSession) endOverdue(detail string) Transition {
	if s.Held() {
		return end(StatusFailed, s.HeldFailure(), detail)
	}
	return end(StatusExpired, ReasonExpired, detail)
}

// Held reports whether the session waits on the failure screen.
func (s LinkSession) Held() bool { return s.HeldReason != nil && !s.Status.Final() }

// HeldFailure is the reason of the failure held on the failure screen ("").
func (s LinkSession) HeldFailure() string {
	if s.HeldReason == nil {
		return ""
	}
	return *s.HeldReason
}

// Fixable reports whether a failed sign-in of s with reason may be held on
// the failure screen: flow 1, screens on, the callback claimed before the
// deadline, and a reason the user can fix.
func (s LinkSession) Fixable(reason string, now time.Time) bool {
	return s.Kind == KindSupplierLink && s.FailureScreens && s.Status == StatusAuthorizing && s.CallbackAt != nil &&
		!s.Held() && !s.Expired(now) && slices.Contains(FixableReasons, reason)
}

// decideSignInFailed: a failure the user can fix is held on the failure
// screen (no webhook yet); any other ends the session as StepFail does.
func (s LinkSession) decideSignInFailed(in StepInput) Transition {
	if !s.Fixable(in.Reason, in.Now) {
		return s.decideFail(in)
	}
	detail := in.Detail
	if detail == "" {
		detail = in.Reason
	}
	return Transition{Hold: true, Reason: in.Reason, Proceed: true, Events: []LinkEventRecord{{EventFailureShown, detail}}}
}

// decideRetry: from the failure screen (bound browser only) the user signs
// in again; the held failure and the old callback's claim go, and the
// choice starts a new authorization. Past the deadline the session ends
// with the held failure, as the lease sweeper would end it.
func (s LinkSession) decideRetry(in StepInput) Transition {
	if !s.Held() {
		return Transition{Err: ErrEnded(s)}
	}
	if in.Browser != BrowserSame {
		return Transition{Err: ErrWrongBrowser}
	}
	if s.Expired(in.Now) {
		t := end(StatusFailed, s.HeldFailure(), "tried again after the deadline")
		t.Err = ErrExpired(ReasonExpired)
		return t
	}
	return Transition{Unhold: true, Choose: true, Proceed: true, Events: []LinkEventRecord{
		{EventRetried, s.HeldFailure()}, {EventBrandSelected, in.Choice}, {EventOAuthStarted, in.Choice}}}
}

// decideLeave: the user leaves the failure screen for the supplier (bound
// browser only); the session ends with the held failure.
func (s LinkSession) decideLeave(in StepInput) Transition {
	if !s.Held() {
		return Transition{Err: ErrEnded(s)}
	}
	if in.Browser != BrowserSame {
		return Transition{Err: ErrWrongBrowser}
	}
	return end(StatusFailed, s.HeldFailure(), "returned to the supplier from the failure screen")
}
