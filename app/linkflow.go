package app

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// LinkStore is what the link flows need of the store. Each method is one
// transaction: it locks the session, asks LinkSession.Decide what the step
// does and writes that.
type LinkStore interface {
	StartAuthorization(ctx context.Context, sessionID string, browserHash []byte, brand, state, verifier string) (LinkSession, error)
	StartSupplierLogin(ctx context.Context, sessionID string, browserHash []byte, supplierID, state string) (LinkSession, error)
	ClaimCallback(ctx context.Context, brand, state string, granted bool, browserHash []byte, lease time.Duration) (LinkSession, string, error)
	ClaimSupplierReturn(ctx context.Context, state string, browserHash []byte, supplierError string) (LinkSession, error)
	FailLinkSession(ctx context.Context, sessionID, reason, detail string) (LinkSession, error)
	// SignInFailed holds a failure the user can fix on the failure screen
	// and ends the session on any other (StepSignInFailed).
	SignInFailed(ctx context.Context, sessionID, reason, detail string) (LinkSession, error)
	// RetrySignIn starts a new authorization from the failure screen of
	// state (StepRetry).
	RetrySignIn(ctx context.Context, state string, browserHash []byte, brand, newState, verifier string) (LinkSession, error)
	CompleteConnection(ctx context.Context, c Connection) (LinkSession, error)
	// AwaitDeviceChoice keeps c (every device of the account, its tokens)
	// until the user chooses devices, and returns the choice token.
	AwaitDeviceChoice(ctx context.Context, c Connection) (LinkSession, string, error)
	// TakenOver reports whether the session moved to another browser at
	// the user's request.
	TakenOver(ctx context.Context, sessionID string) (bool, error)
}

// OAuthClient is the manufacturers' side of a sign-in (Manufacturers).
type OAuthClient interface {
	AuthCodeURL(brand, state, verifier, lang string) (string, error)
	Exchange(ctx context.Context, brand, code, verifier string) (OAuthTokens, error)
	Devices(ctx context.Context, brand string, tokens OAuthTokens) ([]DeviceInfo, error)
}

// LinkFlow runs the steps of the hosted link flows that go beyond one
// store call: flow 1 (a supplier's user links a device, also started by
// support's relink and the customer's dashboard) and flow 2 (a
// manufacturer's user links a supplier). Handlers parse the request, call
// it and render what it returns; it never sees HTTP.
type LinkFlow struct {
	Store  LinkStore
	OAuth  OAuthClient
	Config Config
	Log    *slog.Logger
}

// Choice is what the user picked: a brand on the brand page (flow 1) or,
// without a brand, a supplier with a login page on the supplier selector
// (flow 2). The store refuses a choice of the other flow's kind
// (ENOTFOUND).
type Choice struct {
	Brand    string
	Supplier LoginSupplier
}

// Choose records the choice on the session with a fresh one-time state (and,
// for a brand, a PKCE verifier) and returns the login page the browser goes
// to. It is app.StepChoose: ECONFLICT when the session ended or expired
// (updated is then the session as it now is, when known), EFORBIDDEN when it
// is in use in another browser.
func (f *LinkFlow) Choose(ctx context.Context, sess LinkSession, c Choice, browserHash []byte) (loginURL string, updated LinkSession, err error) {
	state := RandomToken(43)
	if c.Brand == "" {
		if updated, err = f.Store.StartSupplierLogin(ctx, sess.ID, browserHash, c.Supplier.ID, state); err != nil {
			return "", updated, err
		}
		return AppendQuery(f.Config.ResolveURL(c.Supplier.AuthorizeURL), [][2]string{
			{"client_id", c.Supplier.ClientID},
			{"redirect_uri", f.SupplierReturnURL()},
			{"state", state},
			{"ui_locales", sess.Language},
		}), updated, nil
	}
	verifier := oauth2.GenerateVerifier()
	if updated, err = f.Store.StartAuthorization(ctx, sess.ID, browserHash, c.Brand, state, verifier); err != nil {
		return "", updated, err
	}
	loginURL, err = f.OAuth.AuthCodeURL(c.Brand, state, verifier, sess.Language)
	return loginURL, updated, err
}

// SupplierReturnURL is where a supplier's login page sends the browser back
// in flow 2.
func (f *LinkFlow) SupplierReturnURL() string {
	return strings.TrimRight(f.Config.Server.PublicURL, "/") + "/connect/supplier/return"
}

// Finished is where a step that ends a sign-in leaves the browser.
type Finished struct {
	// Session is the session the step belongs to (its language names the
	// page of a refusal), when known.
	Session LinkSession
	// Redirect is where the browser goes: back to the party that started
	// the flow, with the outcome.
	Redirect string
}

// FinishCallback finishes a manufacturer's sign-in (flow 1): it claims the
// session by its one-time state (a replay changes nothing), exchanges the
// code with the PKCE verifier, fetches the devices and stores the
// connection, in three transactions around the two manufacturer calls.
// Every failure ends the session with a reason and returns to the supplier
// with it. The errors left to the caller are ENOTFOUND (no session has
// this state for this brand) and EFORBIDDEN (the session is in use in
// another browser).
func (f *LinkFlow) FinishCallback(ctx context.Context, brand string, cb OAuthCallback, browserHash []byte) (Finished, error) {
	sess, verifier, err := f.Store.ClaimCallback(ctx, brand, cb.State, cb.Granted, browserHash, f.Config.Link.CallbackLease())
	switch ErrorCode(err) {
	case "":
	case ECONFLICT:
		// A callback retried after its session failed (say, the instance
		// died during the token exchange and the sweeper ended it) learns
		// the real reason; any other replay is already_used.
		if sess.Held() {
			// The callback again (Back, reload) while its failure waits on
			// the failure screen: show the screen again.
			return Finished{Session: sess, Redirect: FailurePath(cb.State)}, nil
		}
		if ErrorReason(err) == ReasonAlreadyUsed && sess.Status != StatusFailed {
			return Finished{Session: sess, Redirect: sess.FailureRedirect(ReasonAlreadyUsed)}, nil
		}
		return Finished{Session: sess, Redirect: sess.SupplierRedirect()}, nil
	default:
		return Finished{Session: sess}, f.whyOtherBrowser(ctx, sess, err)
	}
	fail := func(reason, detail string) (Finished, error) {
		ended, err := f.Store.SignInFailed(ctx, sess.ID, reason, detail)
		if err != nil {
			return Finished{Session: sess}, err
		}
		if ended.Held() {
			return Finished{Session: ended, Redirect: FailurePath(cb.State)}, nil
		}
		return Finished{Session: ended, Redirect: ended.SupplierRedirect()}, nil
	}
	if !cb.Granted {
		if cb.Error == ReasonAccessDenied {
			return fail(ReasonAccessDenied, "user denied access at "+brand)
		}
		return fail(ReasonManufacturerError, cb.Detail)
	}
	tokens, err := f.OAuth.Exchange(ctx, brand, cb.Code, verifier)
	if err != nil {
		f.Log.WarnContext(ctx, "token exchange failed", "brand", brand, "session", sess.ID, "err", err)
		return fail(ReasonManufacturerError, "token exchange failed")
	}
	devices, err := f.OAuth.Devices(ctx, brand, tokens)
	if err != nil {
		f.Log.WarnContext(ctx, "devices fetch failed", "brand", brand, "session", sess.ID, "err", err)
		return fail(ReasonManufacturerError, "device list failed")
	}
	if len(devices) == 0 {
		return fail(ReasonNoDevices, "the account has no devices")
	}
	for i := range devices {
		devices[i].Name, devices[i].Model = CleanText(devices[i].Name, 200), CleanText(devices[i].Model, 200)
	}
	conn := Connection{SessionID: sess.ID, SupplierID: sess.SupplierID, SupplierUserID: sess.SupplierUserID,
		ManufacturerID: brand, Devices: devices, Tokens: tokens}
	if len(devices) > 1 {
		waiting, choice, err := f.Store.AwaitDeviceChoice(ctx, conn)
		switch ErrorCode(err) {
		case "":
			return Finished{Session: waiting, Redirect: DeviceChoicePath(choice)}, nil
		case ECONFLICT:
			return Finished{Session: waiting, Redirect: waiting.OrElse(sess).SupplierRedirect()}, nil
		}
		f.Log.ErrorContext(ctx, "keep device choice failed", "session", sess.ID, "err", err)
		return fail(ReasonManufacturerError, "could not keep the devices for the choice")
	}
	return f.connect(ctx, sess, conn)
}

// FailurePath is the failure screen of a held sign-in, addressed by the
// sign-in's OAuth state (a retry replaces the state, so the address dies).
func FailurePath(state string) string { return "/connect/failure?state=" + state }

// Retry signs in again from the failure screen of state, at brand (the
// same or another), with a fresh state and PKCE verifier, and returns the
// login page the browser goes to (StepRetry). ECONFLICT when the session is
// no longer held (updated is then the session as it is), EFORBIDDEN from
// another browser.
func (f *LinkFlow) Retry(ctx context.Context, state, brand, lang string, browserHash []byte) (loginURL string, updated LinkSession, err error) {
	newState, verifier := RandomToken(43), oauth2.GenerateVerifier()
	if updated, err = f.Store.RetrySignIn(ctx, state, browserHash, brand, newState, verifier); err != nil {
		return "", updated, err
	}
	loginURL, err = f.OAuth.AuthCodeURL(brand, newState, verifier, lang)
	return loginURL, updated, err
}

// DeviceChoicePath is the page where the user chooses which devices to
// link.
func DeviceChoicePath(choice string) string { return "/connect/devices?choice=" + choice }

// ChooseDevices links the devices the user chose (ids, a non-empty subset of
// c.Devices; the caller checks that) and returns to the supplier.
func (f *LinkFlow) ChooseDevices(ctx context.Context, sess LinkSession, c Connection, ids []string) (Finished, error) {
	chosen := map[string]bool{}
	for _, id := range ids {
		chosen[id] = true
	}
	var keep []DeviceInfo
	for _, d := range c.Devices {
		if chosen[d.ID] {
			keep = append(keep, d)
		}
	}
	if len(keep) == 0 || len(keep) != len(chosen) {
		return Finished{Session: sess}, ReasonErrorf(EINVALID, "no_devices_chosen", "Choose at least one of the listed devices.")
	}
	c.Devices = keep
	return f.connect(ctx, sess, c)
}

// connect stores the connection of a claimed session and returns to the
// supplier with the outcome.
func (f *LinkFlow) connect(ctx context.Context, sess LinkSession, conn Connection) (Finished, error) {
	done, err := f.Store.CompleteConnection(ctx, conn)
	if ErrorCode(err) == ECONFLICT {
		return Finished{Session: sess, Redirect: done.OrElse(sess).SupplierRedirect()}, nil
	} else if err != nil {
		f.Log.ErrorContext(ctx, "complete connection failed", "session", sess.ID, "err", err)
		ended, ferr := f.Store.FailLinkSession(ctx, sess.ID, ReasonManufacturerError, "could not store the connection")
		if ferr != nil {
			return Finished{Session: sess}, ferr
		}
		return Finished{Session: ended, Redirect: ended.SupplierRedirect()}, nil
	}
	return Finished{Session: done, Redirect: done.SupplierRedirect()}, nil
}

// ReturnFromSupplier finishes a supplier's sign-in (flow 2) when the browser
// comes back: it claims the state once and returns to the manufacturer with
// the outcome, connected when the supplier reported the login in time. The
// errors left to the caller are ENOTFOUND (unknown state) and EFORBIDDEN
// (another browser).
func (f *LinkFlow) ReturnFromSupplier(ctx context.Context, ret SupplierReturn, browserHash []byte) (Finished, error) {
	sess, err := f.Store.ClaimSupplierReturn(ctx, ret.State, browserHash, ret.Error)
	switch ErrorCode(err) {
	case "":
		return Finished{Session: sess, Redirect: sess.SupplierRedirect()}, nil
	case ECONFLICT:
		return Finished{Session: sess, Redirect: sess.FailureRedirect(ReasonAlreadyUsed)}, nil
	}
	return Finished{Session: sess}, f.whyOtherBrowser(ctx, sess, err)
}

// whyOtherBrowser turns ErrWrongBrowser into ErrTakenOver when the user
// moved the session to another browser: the browser left behind is told
// so, not that it is the wrong one.
func (f *LinkFlow) whyOtherBrowser(ctx context.Context, sess LinkSession, err error) error {
	if ErrorReason(err) != ErrWrongBrowser.Reason || sess.ID == "" {
		return err
	}
	if moved, terr := f.Store.TakenOver(ctx, sess.ID); terr != nil {
		return terr
	} else if moved {
		return ErrTakenOver
	}
	return err
}
