package app_test

import (
	"strings"
	"testing"
	"time"

	"noxportal/app"
)

// fixture is a named session in one state of the machine.
type fixture struct {
	name string
	sess app.LinkSession
}

// sessionRow builds a fixture's session: status and deadline (relative to
// now) first, then the fields its state implies, stamped five minutes ago.
type sessionRow struct {
	sess app.LinkSession
	at   time.Time
}

func row(now time.Time, status app.SessionStatus, deadline time.Duration) sessionRow {
	return sessionRow{at: now.Add(-5 * time.Minute), sess: app.LinkSession{ID: "ls_1", Kind: app.KindSupplierLink,
		SupplierID: "sup_a", SupplierUserID: "u1", Status: status, CreatedAt: now.Add(-10 * time.Minute),
		ExpiresAt: now.Add(deadline), FailureScreens: true}}
}

// opened: the link was fetched.
func (r sessionRow) opened() sessionRow { r.sess.OpenedAt = &r.at; return r }

// authorizing: brand_a was chosen and its authorization started.
func (r sessionRow) authorizing() sessionRow {
	brand := "brand_a"
	r.sess.AuthorizingAt, r.sess.ManufacturerID = &r.at, &brand
	return r.opened()
}

// claimed: the manufacturer's callback claimed the session.
func (r sessionRow) claimed() sessionRow { r.sess.CallbackAt = &r.at; return r }

// held: a denied sign-in waits on the failure screen.
func (r sessionRow) held() sessionRow {
	reason := app.ReasonAccessDenied
	r.sess.HeldReason = &reason
	return r
}

// ended: the session finished (with reason, "" for none) after brand_a.
func (r sessionRow) ended(reason string) sessionRow {
	brand := "brand_a"
	r.sess.ManufacturerID, r.sess.FinishedAt = &brand, &r.at
	if reason != "" {
		r.sess.FailureReason = &reason
	}
	return r
}

func (r sessionRow) named(name string) fixture { return fixture{name, r.sess} }

// stateFixtures are a session in every state the machine knows, before and
// after its deadline where that matters: "claimed" is authorizing with a
// callback that claimed it, "expired" was ended by the sweeper before any
// sign-in, "expired_after_auth" after the manufacturer said yes too late.
func stateFixtures(now time.Time) []fixture {
	var out []fixture
	for _, d := range []struct {
		suffix   string
		deadline time.Duration
	}{{"", 5 * time.Minute}, {" overdue", -time.Second}} {
		out = append(out,
			row(now, app.StatusCreated, d.deadline).named("created"+d.suffix),
			row(now, app.StatusOpened, d.deadline).opened().named("opened"+d.suffix),
			row(now, app.StatusAuthorizing, d.deadline).authorizing().named("authorizing"+d.suffix),
			row(now, app.StatusAuthorizing, d.deadline).authorizing().claimed().named("claimed"+d.suffix),
			row(now, app.StatusAuthorizing, d.deadline).authorizing().claimed().held().named("held"+d.suffix))
	}
	return append(out,
		row(now, app.StatusConnected, -time.Minute).claimed().ended("").named("connected"),
		row(now, app.StatusFailed, time.Minute).ended(app.ReasonAccessDenied).named("failed"),
		row(now, app.StatusExpired, -time.Minute).ended(app.ReasonExpired).named("expired"),
		row(now, app.StatusExpired, -time.Minute).claimed().ended(app.ReasonExpiredAfterAuth).named("expired_after_auth"))
}

// summary writes a transition in one line: the new status and reason, the
// writes, the events (type:detail) and the error (code/reason).
func summary(t app.Transition) string {
	var p []string
	if t.To != "" {
		p = append(p, "→"+string(t.To))
	}
	if t.Reason != "" {
		p = append(p, "reason="+t.Reason)
	}
	for _, f := range []struct {
		on   bool
		name string
	}{{t.Relabel, "relabel"}, {t.Bind, "bind"}, {t.Claim, "claim"}, {t.Release, "release"}, {t.Hold, "hold"}, {t.Unhold, "unhold"}, {t.Choose, "choose"}, {t.Proceed, "proceed"}} {
		if f.on {
			p = append(p, f.name)
		}
	}
	for _, e := range t.Events {
		p = append(p, "+"+e.Type+":"+e.Detail)
	}
	if t.Err != nil {
		p = append(p, "err="+app.ErrorCode(t.Err)+"/"+app.ErrorReason(t.Err))
	}
	if len(p) == 0 {
		return "-"
	}
	return strings.Join(p, " ")
}

// stepInput is the usual form of each step: from the bound browser, the
// session's own brand and supplier, a manufacturer that said yes.
func stepInput(step app.Step, now time.Time) app.StepInput {
	in := app.StepInput{Step: step, Now: now, Browser: app.BrowserSame, Choice: "brand_a", Granted: true,
		SupplierID: "sup_a", SupplierUserID: "cust-9", Devices: 2, LeaseUntil: now.Add(-time.Second)}
	switch step {
	case app.StepFail:
		in.Reason, in.Detail = app.ReasonCancelled, "cancelled by user"
	case app.StepSignInFailed:
		in.Reason, in.Detail = app.ReasonAccessDenied, "user denied access at brand_a"
	case app.StepReturn:
		in.Reason = ""
	}
	return in
}

// decide is s.Decide(in), with the steps only flow 2 takes (the return
// from the supplier, the supplier's report) on a flow-2 session.
func decide(s app.LinkSession, in app.StepInput) app.Transition {
	if in.Step == app.StepReturn || in.Step == app.StepReport {
		s.Kind = app.KindSupplierSelect
	}
	return s.Decide(in)
}

// Edits of stepInput's usual input for TestDecideVariants.
func browser(b app.Browser) func(*app.StepInput) { return func(in *app.StepInput) { in.Browser = b } }

func denied(in *app.StepInput) { in.Granted = false }

// failure: the step's failure reason (StepFail) or the supplier's error
// (StepReturn), with no detail.
func failure(reason string) func(*app.StepInput) {
	return func(in *app.StepInput) { in.Reason, in.Detail = reason, "" }
}

func lease(until time.Time) func(*app.StepInput) {
	return func(in *app.StepInput) { in.LeaseUntil = until }
}

// TestDecideCoversEveryStateAndStep is the state machine's table: every
// step in every state (before and after the deadline), with what it
// writes and what the caller is told.
func TestDecideCoversEveryStateAndStep(t *testing.T) {
	now := time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)
	want := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(decideTable), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimSpace(line), " | ")
		if !ok {
			t.Fatalf("bad table line %q", line)
		}
		want[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	statuses := map[app.SessionStatus]bool{}
	for _, f := range stateFixtures(now) {
		statuses[f.sess.Status] = true
	}
	for _, st := range append(append([]app.SessionStatus{}, app.UnfinishedStatuses...), app.EndedStatuses...) {
		if !statuses[st] {
			t.Errorf("no fixture in status %s", st)
		}
	}
	seen := 0
	for _, f := range stateFixtures(now) {
		for _, step := range app.Steps {
			key := f.name + " / " + string(step)
			got := strings.TrimSpace(summary(decide(f.sess, stepInput(step, now))))
			w, ok := want[key]
			if !ok {
				t.Errorf("no expectation for %s (got %s)", key, got)
				continue
			}
			seen++
			if got != w {
				t.Errorf("%s:\n got %s\nwant %s", key, got, w)
			}
		}
	}
	if seen != len(want) {
		t.Errorf("%d expectations, %d pairs checked", len(want), seen)
	}
}

// TestDecideVariants covers what the table's usual input does not: other
// browsers, a denied sign-in, a callback of another brand, another
// supplier's report, a decline at the supplier.
func TestDecideVariants(t *testing.T) {
	now := time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC)
	fx := map[string]app.LinkSession{}
	for _, f := range stateFixtures(now) {
		fx[f.name] = f.sess
	}
	tests := []struct {
		state string
		step  app.Step
		edit  func(*app.StepInput)
		want  string
	}{
		{"opened", app.StepChoose, browser(app.BrowserUnbound),
			"→authorizing bind choose proceed +brand_selected:brand_a +oauth_started:brand_a"},
		{"opened", app.StepChoose, browser(app.BrowserOther), "err=forbidden/wrong_browser"},
		{"opened overdue", app.StepChoose, browser(app.BrowserOther),
			"→expired reason=expired +expired:brand selected after deadline err=conflict/expired"},
		{"opened", app.StepTakeover, browser(app.BrowserOther),
			"bind proceed +browser_takeover:continued in another browser"},
		{"opened", app.StepTakeover, browser(app.BrowserUnbound),
			"bind proceed +browser_takeover:continued in another browser"},
		{"authorizing", app.StepCallback, browser(app.BrowserOther), "err=forbidden/wrong_browser"},
		{"authorizing", app.StepCallback, browser(app.BrowserUnbound), "err=forbidden/wrong_browser"},
		{"authorizing", app.StepCallback, func(in *app.StepInput) { in.Choice = "brand_b" }, "err=not_found/unknown_state"},
		{"authorizing", app.StepCallback, denied, "claim proceed +callback:not granted"},
		{"authorizing overdue", app.StepCallback, denied,
			"→expired reason=expired claim +callback:not granted +expired:expired err=conflict/expired"},
		{"expired", app.StepCallback, denied, "err=conflict/expired"},
		{"authorizing", app.StepReport, func(in *app.StepInput) { in.SupplierID = "sup_b" }, "err=forbidden/wrong_supplier"},
		{"authorizing", app.StepReturn, failure(app.ReasonAccessDenied),
			"→failed reason=access_denied claim +returned:access_denied +failed:declined at the supplier"},
		{"authorizing", app.StepReturn, browser(app.BrowserOther), "err=forbidden/wrong_browser"},
		{"authorizing", app.StepFail, failure(app.ReasonNoDevices),
			"→failed reason=no_devices +failed:no_devices"},
		{"authorizing", app.StepCancel, browser(app.BrowserOther), "err=forbidden/wrong_browser"},
		{"opened", app.StepCancel, browser(app.BrowserUnbound),
			"→failed reason=cancelled +failed:cancelled by user"},
		{"authorizing overdue", app.StepCancel, browser(app.BrowserOther),
			"→expired reason=expired +expired:cancelled by user"},
		{"failed", app.StepCancel, browser(app.BrowserOther), "-"},
		{"authorizing overdue", app.StepFail, failure(app.ReasonNoDevices),
			"→expired reason=expired +expired:expired"},
		{"claimed", app.StepLeaseExpire, lease(now.Add(time.Second)), "-"},
		{"claimed", app.StepLeaseExpire, lease(now), summary(app.SweepLeaseExpiry)},
		{"claimed", app.StepLeaseExpire, lease(time.Time{}), "-"},
		// Signed in and asked to choose devices (the lease released): the
		// deadline ends it; with a lease it is the lease sweeper's.
		{"claimed overdue", app.StepExpire, lease(time.Time{}), summary(app.SweepExpiryAfterAuth)},
		{"claimed overdue", app.StepExpire, lease(now.Add(time.Minute)), "-"},
		{"claimed", app.StepExpire, lease(time.Time{}), "-"},
		{"held overdue", app.StepExpire, lease(time.Time{}), "-"},
	}
	for _, tt := range tests {
		in := stepInput(tt.step, now)
		tt.edit(&in)
		if got := summary(decide(fx[tt.state], in)); got != tt.want {
			t.Errorf("%s / %s %+v:\n got %s\nwant %s", tt.state, tt.step, in, got, tt.want)
		}
	}
}

// TestExpiryIsDecidedAtTheDeadline: a session is overdue from its deadline
// on, not a moment before.
func TestExpiryIsDecidedAtTheDeadline(t *testing.T) {
	deadline := time.Date(2026, 3, 29, 2, 0, 0, 0, time.UTC)
	s := app.LinkSession{Kind: app.KindSupplierLink, Status: app.StatusOpened, ExpiresAt: deadline}
	for _, tt := range []struct {
		now  time.Time
		want string
	}{
		{deadline.Add(-time.Nanosecond), "-"},
		{deadline, "→expired reason=expired +expired:deadline passed"},
		{deadline.Add(time.Hour), "→expired reason=expired +expired:deadline passed"},
	} {
		if got := summary(s.Decide(app.StepInput{Step: app.StepExpire, Now: tt.now})); got != tt.want {
			t.Errorf("expire at %s: got %s, want %s", tt.now, got, tt.want)
		}
	}
}

func TestStatusListIsTheUnfinishedSet(t *testing.T) {
	if got := app.StatusList(app.UnfinishedStatuses); got != "('created', 'opened', 'authorizing')" {
		t.Errorf("StatusList(UnfinishedStatuses) = %s", got)
	}
	for _, s := range app.UnfinishedStatuses {
		if s.Final() {
			t.Errorf("%s is unfinished and final", s)
		}
	}
	for _, s := range app.EndedStatuses {
		if !s.Final() {
			t.Errorf("%s is ended and not final", s)
		}
	}
	if b := app.MatchBrowser(nil, nil); b != app.BrowserOther {
		t.Errorf("MatchBrowser(nil, nil) = %v: a request without the cookie binds nothing", b)
	}
	if b := app.MatchBrowser([]byte("a"), []byte("a")); b != app.BrowserSame {
		t.Errorf("MatchBrowser(a, a) = %v", b)
	}
	if b := app.MatchBrowser(nil, []byte("a")); b != app.BrowserUnbound {
		t.Errorf("MatchBrowser(nil, a) = %v", b)
	}
	if b := app.MatchBrowser([]byte("a"), []byte("b")); b != app.BrowserOther {
		t.Errorf("MatchBrowser(a, b) = %v", b)
	}
}

// decideTable is state / step | what Decide returns for stepInput's usual
// input (see summary).
const decideTable = `
created / open                     | →opened +opened:
created / choose                   | →authorizing choose proceed +brand_selected:brand_a +oauth_started:brand_a
created / takeover                 | proceed
created / callback                 | err=not_found/unknown_state
created / return                   | →failed reason=supplier_error claim +returned: +failed:returned without a reported login
created / await_devices             | err=conflict/already_used
created / connect                  | err=conflict/already_used
created / report                   | err=conflict/already_used
created / fail                     | →failed reason=cancelled +failed:cancelled by user
created / cancel                   | →failed reason=cancelled +failed:cancelled by user
created / expire                   | -
created / lease_expire             | -
opened / open                      | -
opened / choose                    | →authorizing choose proceed +brand_selected:brand_a +oauth_started:brand_a
opened / takeover                  | proceed
opened / callback                  | err=not_found/unknown_state
opened / return                    | →failed reason=supplier_error claim +returned: +failed:returned without a reported login
opened / await_devices              | err=conflict/already_used
opened / connect                   | err=conflict/already_used
opened / report                    | err=conflict/already_used
opened / fail                      | →failed reason=cancelled +failed:cancelled by user
opened / cancel                    | →failed reason=cancelled +failed:cancelled by user
opened / expire                    | -
opened / lease_expire              | -
authorizing / open                 | -
authorizing / choose               | →authorizing choose proceed +brand_selected:brand_a +oauth_started:brand_a
authorizing / takeover             | proceed
authorizing / callback             | claim proceed +callback:granted
authorizing / return               | →failed reason=supplier_error claim +returned: +failed:returned without a reported login
authorizing / await_devices         | err=conflict/already_used
authorizing / connect              | err=conflict/already_used
authorizing / report               | →connected proceed +supplier_reported:cust-9 +connected:2 device(s)
authorizing / fail                 | →failed reason=cancelled +failed:cancelled by user
authorizing / cancel               | →failed reason=cancelled +failed:cancelled by user
authorizing / expire               | -
authorizing / lease_expire         | -
claimed / open                     | -
claimed / choose                   | err=conflict/already_used
claimed / takeover                 | err=conflict/already_used
claimed / callback                 | err=conflict/already_used
claimed / return                   | err=conflict/already_used
claimed / await_devices             | release proceed +devices_found:2 device(s)
claimed / connect                  | →connected proceed +connected:2 device(s)
claimed / report                   | →connected proceed +supplier_reported:cust-9 +connected:2 device(s)
claimed / fail                     | →failed reason=cancelled +failed:cancelled by user
claimed / cancel                   | →failed reason=cancelled +failed:cancelled by user
claimed / expire                   | -
claimed / lease_expire             | →failed reason=manufacturer_error +failed:the sign-in was not finished in time (callback lease ran out)
created overdue / open             | →expired reason=expired +expired:opened after deadline
created overdue / choose           | →expired reason=expired +expired:brand selected after deadline err=conflict/expired
created overdue / takeover         | →expired reason=expired +expired:taken over after deadline err=conflict/expired
created overdue / callback         | err=not_found/unknown_state
created overdue / return           | →expired reason=expired claim +returned: +expired:returned from the supplier after the deadline
created overdue / await_devices     | err=conflict/already_used
created overdue / connect          | err=conflict/already_used
created overdue / report           | err=conflict/already_used
created overdue / fail             | →expired reason=expired +expired:cancelled by user
created overdue / cancel           | →expired reason=expired +expired:cancelled by user
created overdue / expire           | →expired reason=expired +expired:deadline passed
created overdue / lease_expire     | -
opened overdue / open              | →expired reason=expired +expired:opened after deadline
opened overdue / choose            | →expired reason=expired +expired:brand selected after deadline err=conflict/expired
opened overdue / takeover          | →expired reason=expired +expired:taken over after deadline err=conflict/expired
opened overdue / callback          | err=not_found/unknown_state
opened overdue / return            | →expired reason=expired claim +returned: +expired:returned from the supplier after the deadline
opened overdue / await_devices      | err=conflict/already_used
opened overdue / connect           | err=conflict/already_used
opened overdue / report            | err=conflict/already_used
opened overdue / fail              | →expired reason=expired +expired:cancelled by user
opened overdue / cancel            | →expired reason=expired +expired:cancelled by user
opened overdue / expire            | →expired reason=expired +expired:deadline passed
opened overdue / lease_expire      | -
authorizing overdue / open         | →expired reason=expired +expired:opened after deadline
authorizing overdue / choose       | →expired reason=expired +expired:brand selected after deadline err=conflict/expired
authorizing overdue / takeover     | →expired reason=expired +expired:taken over after deadline err=conflict/expired
authorizing overdue / callback     | →expired reason=expired_after_auth claim +callback:granted +expired:expired_after_auth err=conflict/expired_after_auth
authorizing overdue / return       | →expired reason=expired claim +returned: +expired:returned from the supplier after the deadline
authorizing overdue / await_devices | err=conflict/already_used
authorizing overdue / connect      | err=conflict/already_used
authorizing overdue / report       | →expired reason=expired_after_auth +expired:supplier reported the login after the deadline err=conflict/expired
authorizing overdue / fail         | →expired reason=expired +expired:cancelled by user
authorizing overdue / cancel       | →expired reason=expired +expired:cancelled by user
authorizing overdue / expire       | →expired reason=expired +expired:deadline passed
authorizing overdue / lease_expire | -
claimed overdue / open             | →expired reason=expired +expired:opened after deadline
claimed overdue / choose           | err=conflict/already_used
claimed overdue / takeover         | err=conflict/already_used
claimed overdue / callback         | err=conflict/already_used
claimed overdue / return           | err=conflict/already_used
claimed overdue / await_devices     | →expired reason=expired_after_auth +expired:expired_after_auth err=conflict/expired_after_auth
claimed overdue / connect          | →expired reason=expired_after_auth +expired:expired_after_auth err=conflict/expired_after_auth
claimed overdue / report           | →expired reason=expired_after_auth +expired:supplier reported the login after the deadline err=conflict/expired
claimed overdue / fail             | →expired reason=expired +expired:cancelled by user
claimed overdue / cancel           | →expired reason=expired +expired:cancelled by user
claimed overdue / expire           | -
claimed overdue / lease_expire     | →failed reason=manufacturer_error +failed:the sign-in was not finished in time (callback lease ran out)
connected / open                   | -
connected / choose                 | err=conflict/already_used
connected / takeover               | err=conflict/already_used
connected / callback               | err=conflict/already_used
connected / return                 | err=conflict/already_used
connected / await_devices           | err=conflict/already_used
connected / connect                | err=conflict/already_used
connected / report                 | err=conflict/already_used
connected / fail                   | -
connected / cancel                 | -
connected / expire                 | -
connected / lease_expire           | -
failed / open                      | -
failed / choose                    | err=conflict/already_used
failed / takeover                  | err=conflict/already_used
failed / callback                  | err=conflict/already_used
failed / return                    | claim +returned:
failed / await_devices              | err=conflict/already_used
failed / connect                   | err=conflict/already_used
failed / report                    | err=conflict/already_used
failed / fail                      | -
failed / cancel                    | -
failed / expire                    | -
failed / lease_expire              | -
expired / open                     | -
expired / choose                   | err=conflict/expired
expired / takeover                 | err=conflict/expired
expired / callback                 | reason=expired_after_auth relabel claim +callback:granted +expired:expired_after_auth err=conflict/expired_after_auth
expired / return                   | claim +returned:
expired / await_devices             | err=conflict/expired
expired / connect                  | err=conflict/expired
expired / report                   | reason=expired_after_auth relabel +expired:expired_after_auth err=conflict/expired
expired / fail                     | -
expired / cancel                   | -
expired / expire                   | -
expired / lease_expire             | -
expired_after_auth / open          | -
expired_after_auth / choose        | err=conflict/expired_after_auth
expired_after_auth / takeover      | err=conflict/expired_after_auth
expired_after_auth / callback      | err=conflict/expired_after_auth
expired_after_auth / return        | err=conflict/already_used
expired_after_auth / await_devices  | err=conflict/expired_after_auth
expired_after_auth / connect       | err=conflict/expired_after_auth
expired_after_auth / report        | err=conflict/expired
expired_after_auth / fail          | -
expired_after_auth / cancel        | -
expired_after_auth / expire        | -
expired_after_auth / lease_expire  | -
created / sign_in_failed           | →failed reason=access_denied +failed:user denied access at brand_a
created / retry                    | err=conflict/already_used
created / leave                    | err=conflict/already_used
opened / sign_in_failed            | →failed reason=access_denied +failed:user denied access at brand_a
opened / retry                     | err=conflict/already_used
opened / leave                     | err=conflict/already_used
authorizing / sign_in_failed       | →failed reason=access_denied +failed:user denied access at brand_a
authorizing / retry                | err=conflict/already_used
authorizing / leave                | err=conflict/already_used
claimed / sign_in_failed           | reason=access_denied hold proceed +failure_shown:user denied access at brand_a
claimed / retry                    | err=conflict/already_used
claimed / leave                    | err=conflict/already_used
held / open                        | -
held / choose                      | unhold choose proceed +retried:access_denied +brand_selected:brand_a +oauth_started:brand_a
held / takeover                    | err=conflict/already_used
held / callback                    | err=conflict/already_used
held / return                      | err=conflict/already_used
held / await_devices               | err=conflict/already_used
held / connect                     | err=conflict/already_used
held / report                      | →connected proceed +supplier_reported:cust-9 +connected:2 device(s)
held / sign_in_failed              | →failed reason=access_denied +failed:user denied access at brand_a
held / retry                       | unhold choose proceed +retried:access_denied +brand_selected:brand_a +oauth_started:brand_a
held / leave                       | →failed reason=access_denied +failed:returned to the supplier from the failure screen
held / fail                        | →failed reason=cancelled +failed:cancelled by user
held / cancel                      | →failed reason=cancelled +failed:cancelled by user
held / expire                      | -
held / lease_expire                | →failed reason=access_denied +failed:left the failure screen
created overdue / sign_in_failed   | →expired reason=expired +expired:user denied access at brand_a
created overdue / retry            | err=conflict/already_used
created overdue / leave            | err=conflict/already_used
opened overdue / sign_in_failed    | →expired reason=expired +expired:user denied access at brand_a
opened overdue / retry             | err=conflict/already_used
opened overdue / leave             | err=conflict/already_used
authorizing overdue / sign_in_failed | →expired reason=expired +expired:user denied access at brand_a
authorizing overdue / retry        | err=conflict/already_used
authorizing overdue / leave        | err=conflict/already_used
claimed overdue / sign_in_failed   | →expired reason=expired +expired:user denied access at brand_a
claimed overdue / retry            | err=conflict/already_used
claimed overdue / leave            | err=conflict/already_used
held overdue / open                | →failed reason=access_denied +failed:opened after deadline
held overdue / choose              | →failed reason=access_denied +failed:tried again after the deadline err=conflict/expired
held overdue / takeover            | err=conflict/already_used
held overdue / callback            | err=conflict/already_used
held overdue / return              | err=conflict/already_used
held overdue / await_devices       | err=conflict/already_used
held overdue / connect             | err=conflict/already_used
held overdue / report              | →expired reason=expired_after_auth +expired:supplier reported the login after the deadline err=conflict/expired
held overdue / sign_in_failed      | →failed reason=access_denied +failed:user denied access at brand_a
held overdue / retry               | →failed reason=access_denied +failed:tried again after the deadline err=conflict/expired
held overdue / leave               | →failed reason=access_denied +failed:returned to the supplier from the failure screen
held overdue / fail                | →failed reason=access_denied +failed:cancelled by user
held overdue / cancel              | →failed reason=access_denied +failed:cancelled by user
held overdue / expire              | -
held overdue / lease_expire        | →failed reason=access_denied +failed:left the failure screen
connected / sign_in_failed         | -
connected / retry                  | err=conflict/already_used
connected / leave                  | err=conflict/already_used
failed / sign_in_failed            | -
failed / retry                     | err=conflict/already_used
failed / leave                     | err=conflict/already_used
expired / sign_in_failed           | -
expired / retry                    | err=conflict/expired
expired / leave                    | err=conflict/expired
expired_after_auth / sign_in_failed | -
expired_after_auth / retry         | err=conflict/expired_after_auth
expired_after_auth / leave         | err=conflict/expired_after_auth
`

// TestDecideHoldsOnlyFixableFailures: the failure screen holds a failed
// sign-in only when the user can fix it, the supplier left the screens on,
// the flow is flow 1 and the callback was claimed in time; only the bound
// browser may act on it.
func TestDecideHoldsOnlyFixableFailures(t *testing.T) {
	now := time.Date(2026, 12, 2, 1, 30, 0, 0, time.UTC)
	fx := map[string]app.LinkSession{}
	for _, f := range stateFixtures(now) {
		fx[f.name] = f.sess
	}
	failed := func(reason string) app.StepInput {
		return app.StepInput{Step: app.StepSignInFailed, Now: now, Reason: reason, Detail: "d"}
	}
	tests := []struct {
		name string
		sess func() app.LinkSession
		in   app.StepInput
		want string
	}{
		{"denied", func() app.LinkSession { return fx["claimed"] }, failed(app.ReasonAccessDenied),
			"reason=access_denied hold proceed +failure_shown:d"},
		{"no devices", func() app.LinkSession { return fx["claimed"] }, failed(app.ReasonNoDevices),
			"reason=no_devices hold proceed +failure_shown:d"},
		{"manufacturer error", func() app.LinkSession { return fx["claimed"] }, failed(app.ReasonManufacturerError),
			"reason=manufacturer_error hold proceed +failure_shown:d"},
		{"expired after sign-in is not fixable", func() app.LinkSession { return fx["claimed"] }, failed(app.ReasonExpiredAfterAuth),
			"→failed reason=expired_after_auth +failed:d"},
		{"cancelled is not fixable", func() app.LinkSession { return fx["claimed"] }, failed(app.ReasonCancelled),
			"→failed reason=cancelled +failed:d"},
		{"screens off", func() app.LinkSession { s := fx["claimed"]; s.FailureScreens = false; return s }, failed(app.ReasonAccessDenied),
			"→failed reason=access_denied +failed:d"},
		{"flow 2", func() app.LinkSession { s := fx["claimed"]; s.Kind = app.KindSupplierSelect; return s }, failed(app.ReasonAccessDenied),
			"→failed reason=access_denied +failed:d"},
		{"no claimed callback", func() app.LinkSession { return fx["authorizing"] }, failed(app.ReasonAccessDenied),
			"→failed reason=access_denied +failed:d"},
		{"retry from another browser", func() app.LinkSession { return fx["held"] },
			app.StepInput{Step: app.StepRetry, Now: now, Browser: app.BrowserOther, Choice: "brand_b"}, "err=forbidden/wrong_browser"},
		{"leave from another browser", func() app.LinkSession { return fx["held"] },
			app.StepInput{Step: app.StepLeave, Now: now, Browser: app.BrowserOther}, "err=forbidden/wrong_browser"},
		{"retry at another brand", func() app.LinkSession { return fx["held"] },
			app.StepInput{Step: app.StepRetry, Now: now, Browser: app.BrowserSame, Choice: "brand_b"},
			"unhold choose proceed +retried:access_denied +brand_selected:brand_b +oauth_started:brand_b"},
	}
	for _, tc := range tests {
		if got := summary(tc.sess().Decide(tc.in)); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}
