package app

import (
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SessionStatus is a link session's place in its state machine (see
// linkstate.go): created → opened → authorizing → connected, and from any
// unfinished status → failed or → expired.
type SessionStatus string

// Link session statuses.
const (
	StatusCreated     SessionStatus = "created"
	StatusOpened      SessionStatus = "opened"
	StatusAuthorizing SessionStatus = "authorizing"
	StatusConnected   SessionStatus = "connected"
	StatusFailed      SessionStatus = "failed"
	StatusExpired     SessionStatus = "expired"
)

// Final reports whether no transition leaves s: it is one of EndedStatuses.
func (s SessionStatus) Final() bool {
	return slices.Contains(EndedStatuses, s)
}

// Failure reasons recorded on failed/expired sessions and sent to the
// supplier as the redirect's error parameter.
const (
	ReasonExpired          = "expired"
	ReasonExpiredAfterAuth = "expired_after_auth"
	// ReasonAlreadyLinked: the supplier account a customer signed in with
	// belongs to another NOX user (flow 2 from the dashboard).
	ReasonAlreadyLinked     = "already_linked"
	ReasonAccessDenied      = "access_denied"
	ReasonManufacturerError = "manufacturer_error"
	ReasonNoDevices         = "no_devices"
	ReasonAlreadyUsed       = "already_used"
	ReasonManufacturerDown  = "manufacturer_unavailable"
	ReasonCancelled         = "cancelled"
)

// SessionKind says which flow a session belongs to.
type SessionKind string

// Session kinds.
const (
	// KindSupplierLink is flow 1: a supplier's user links a device.
	KindSupplierLink SessionKind = "supplier_link"
	// KindSupplierSelect is flow 2: a manufacturer's user links a supplier.
	KindSupplierSelect SessionKind = "supplier_select"
)

// Initiators of a link session.
const (
	InitiatorAPI          = "api"
	InitiatorCustomer     = "customer"
	InitiatorAgent        = "agent"
	InitiatorManufacturer = "manufacturer"
)

// LinkSession is one authentication attempt. The link token itself is never
// stored, only its hash.
type LinkSession struct {
	ID             string        `db:"id"`
	Kind           SessionKind   `db:"kind"`
	SupplierID     string        `db:"supplier_id"`
	SupplierUserID string        `db:"supplier_user_id"`
	RedirectURI    string        `db:"redirect_uri"`
	Language       string        `db:"language"`
	Initiator      string        `db:"initiator"`
	Status         SessionStatus `db:"status"`
	FailureReason  *string       `db:"failure_reason"`
	ManufacturerID *string       `db:"manufacturer_id"`
	Preselected    bool          `db:"brand_preselected"`
	NoxUserID      *string       `db:"nox_user_id"`
	// ManufacturerUserID is the manufacturer's user of a flow-2 session.
	ManufacturerUserID string     `db:"manufacturer_user_id"`
	CreatedAt          time.Time  `db:"created_at"`
	OpenedAt           *time.Time `db:"opened_at"`
	BrandAt            *time.Time `db:"brand_selected_at"`
	AuthorizingAt      *time.Time `db:"authorizing_at"`
	CallbackAt         *time.Time `db:"callback_at"`
	FinishedAt         *time.Time `db:"finished_at"`
	ExpiresAt          time.Time  `db:"expires_at"`
	// FailureScreens: a failed sign-in the user can fix shows the failure
	// screen before returning (the supplier's option, default on).
	FailureScreens bool `db:"failure_screens"`
	// HeldReason is the failure waiting on the failure screen (nil: none).
	HeldReason *string `db:"held_reason"`
}

// Expired reports whether the session's deadline has passed at now.
func (s *LinkSession) Expired(now time.Time) bool { return !now.Before(s.ExpiresAt) }

// Reason returns the failure reason or "".
func (s LinkSession) Reason() string {
	if s.FailureReason == nil {
		return ""
	}
	return *s.FailureReason
}

// Brand returns the selected manufacturer id or "".
func (s LinkSession) Brand() string {
	if s.ManufacturerID == nil {
		return ""
	}
	return *s.ManufacturerID
}

// Languages supported on every page a customer sees; the first is the default.
var Languages = []string{"en", "nl", "de", "fr", "es"}

// ValidLanguage reports whether lang is supported.
func ValidLanguage(lang string) bool {
	for _, l := range Languages {
		if l == lang {
			return true
		}
	}
	return false
}

// ValidateSupplierUserID checks an id a supplier gives for its user: 1–128
// printable characters without "/" or control characters.
func ValidateSupplierUserID(id string) error { return ValidateUserID("supplier_user_id", id) }

// MatchRedirectURI reports whether got exactly matches one of allowed. The
// only leeway is RFC 8252 §7.3: for http on a loopback IP the port may differ
// (a port, when given, is 1–65535 without leading zeros). Everything else —
// scheme case, host, path, an empty "?", query, encoding — must match byte
// for byte.
func MatchRedirectURI(allowed []string, got string) bool {
	if got == "" || len(got) > 2048 {
		return false
	}
	for _, a := range allowed {
		if a == got {
			return true
		}
	}
	g, ok := loopbackWithoutPort(got)
	if !ok {
		return false
	}
	for _, a := range allowed {
		if au, ok := loopbackWithoutPort(a); ok && au == g {
			return true
		}
	}
	return false
}

// loopbackWithoutPort returns raw without its port when raw is an
// "http://" URI (lower case, as written) on a loopback IP literal with a
// valid or no port, without user info or fragment.
func loopbackWithoutPort(raw string) (string, bool) {
	const scheme = "http://"
	if !strings.HasPrefix(raw, scheme) || strings.ContainsAny(raw, "#") {
		return "", false
	}
	rest := raw[len(scheme):]
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	if strings.Contains(authority, "@") {
		return "", false
	}
	host, port := authority, ""
	if i := strings.LastIndexByte(authority, ':'); i >= 0 && !strings.HasSuffix(authority, "]") {
		host, port = authority[:i], authority[i+1:]
		if !validPort(port) || port == "" {
			return "", false
		}
	}
	if !isLoopbackIP(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")) {
		return "", false
	}
	if _, err := url.Parse(raw); err != nil {
		return "", false
	}
	return scheme + host + tail, true
}

func isLoopbackIP(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func validPort(p string) bool {
	if p == "" {
		return true
	}
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n < 65536 && strconv.Itoa(n) == p
}

// ValidateRedirectURIForAllowlist checks a URI an admin wants to allow:
// absolute https, or http on a loopback host; no fragment, no user info.
func ValidateRedirectURIForAllowlist(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return Errorf(EINVALID, "%q is not an absolute URL", raw)
	}
	if u.Fragment != "" || u.User != nil {
		return Errorf(EINVALID, "%q must not have a fragment or user info", raw)
	}
	host := u.Hostname()
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && (host == "localhost" || isLoopbackIP(host)):
	default:
		return Errorf(EINVALID, "%q must use https (http is allowed on loopback only)", raw)
	}
	return nil
}

// AppendQuery returns rawURL with params added, keeping its own query
// parameters (the supplier's state, for example) in place.
func AppendQuery(rawURL string, params [][2]string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	var b strings.Builder
	b.WriteString(u.RawQuery)
	for _, p := range params {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(p[0]))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(p[1]))
	}
	u.RawQuery = b.String()
	return u.String()
}

// SupplierRedirect returns where the user goes back to when the session has
// ended: the supplier's redirect_uri (its own query kept) with the spec's
// fields — nox_user_id, supplier_user_id, manufacturer, connection_status,
// connected_at — or, on failure, connection_status=failed and error. A
// flow-2 session goes back to the manufacturer instead (ManufacturerRedirect).
func (s LinkSession) SupplierRedirect() string {
	if s.Kind == KindSupplierSelect {
		return s.ManufacturerRedirect()
	}
	if s.Status == StatusConnected && s.NoxUserID != nil && s.FinishedAt != nil {
		return AppendQuery(s.RedirectURI, [][2]string{
			{"nox_user_id", *s.NoxUserID},
			{"supplier_user_id", s.SupplierUserID},
			{"manufacturer", s.Brand()},
			{"connection_status", "connected"},
			{"connected_at", strconv.FormatInt(s.FinishedAt.Unix(), 10)},
		})
	}
	reason := s.redirectError()
	params := [][2]string{
		{"connection_status", "failed"},
		{"error", reason},
		{"supplier_user_id", s.SupplierUserID},
	}
	if b := s.Brand(); b != "" {
		params = append(params, [2]string{"manufacturer", b})
	}
	return AppendQuery(s.RedirectURI, params)
}

// FailureRedirect is SupplierRedirect for a failure with an explicit reason
// (a replayed callback, which must not change the session itself).
func (s LinkSession) FailureRedirect(reason string) string {
	c := s
	c.Status, c.FailureReason = StatusFailed, &reason
	return c.SupplierRedirect()
}

// OrElse returns s when it is set (has an id), else fallback.
func (s LinkSession) OrElse(fallback LinkSession) LinkSession {
	if s.ID == "" {
		return fallback
	}
	return s
}

// redirectError is the error a failed session reports to the party it
// returns to: every expiry is "expired" (expired_after_auth is for support
// only), and a session that ended without a reason was cancelled.
func (s LinkSession) redirectError() string {
	reason := s.Reason()
	switch {
	case s.Status == StatusExpired || reason == ReasonExpiredAfterAuth:
		return ReasonExpired
	case reason == "":
		return ReasonCancelled
	}
	return reason
}
