package app

import (
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// Flow 2 (spec section 2): a user who starts at a manufacturer (or at NOX)
// picks an energy supplier, logs in on the supplier's OAuth page, and the
// supplier reports its user id with POST /post-login-redirect.

// Failure reasons specific to flow 2.
const (
	// ReasonSupplierError: the user came back from the supplier without the
	// supplier having reported the login.
	ReasonSupplierError = "supplier_error"
)

// Link event types specific to flow 2.
const (
	EventSupplierSelected = "supplier_selected"
	EventSupplierReported = "supplier_reported"
	EventReturned         = "returned"
)

// Party kinds: who set comfort bounds, who receives a webhook.
const (
	PartySupplier     = "supplier"
	PartyManufacturer = "manufacturer"
	PartyCustomer     = "customer"
)

// Party is a supplier, a manufacturer or a customer (portal user).
type Party struct {
	Kind string
	ID   string
}

// SupplierParty returns the party of supplier id.
func SupplierParty(id string) Party { return Party{Kind: PartySupplier, ID: id} }

// ManufacturerParty returns the party of manufacturer id.
func ManufacturerParty(id string) Party { return Party{Kind: PartyManufacturer, ID: id} }

// LoginSupplier is a supplier users can pick on the supplier selector: it
// has an OAuth login page.
type LoginSupplier struct {
	ID           string `db:"id"`
	Name         string `db:"name"`
	AuthorizeURL string `db:"login_authorize_url"`
	ClientID     string `db:"login_client_id"`
}

// SupplierLinked is the outcome of a supplier's POST /post-login-redirect.
type SupplierLinked struct {
	Session            LinkSession
	NoxUserID          string
	ManufacturerID     string
	ManufacturerUserID string
	DeviceIDs          []string
}

// ManufacturerRedirect returns where the user of an ended flow-2 session
// goes back to: the manufacturer's redirect_uri (its own query kept) with
// connection_status=connected, supplier_id, nox_user_id,
// manufacturer_user_id and connected_at, or connection_status=failed with
// error (and supplier_id once the user picked one). A session that expired
// is always failed, even when the supplier login succeeded afterwards.
func (s LinkSession) ManufacturerRedirect() string {
	if s.Status == StatusConnected && s.NoxUserID != nil && s.FinishedAt != nil {
		return AppendQuery(s.RedirectURI, [][2]string{
			{"connection_status", "connected"},
			{"supplier_id", s.SupplierID},
			{"nox_user_id", *s.NoxUserID},
			{"manufacturer_user_id", s.ManufacturerUserID},
			{"connected_at", strconv.FormatInt(s.FinishedAt.Unix(), 10)},
		})
	}
	reason := s.redirectError()
	params := [][2]string{
		{"connection_status", "failed"},
		{"error", reason},
		{"manufacturer_user_id", s.ManufacturerUserID},
	}
	if s.SupplierID != "" {
		params = append(params, [2]string{"supplier_id", s.SupplierID})
	}
	return AppendQuery(s.RedirectURI, params)
}

// ValidateUserID checks an id a party gives for its user (field names it in
// the error): 1–128 printable characters (counted as Unicode characters,
// as Postgres counts them) without "/", and neither "." nor "..", which a
// URL path cannot carry as a segment.
func ValidateUserID(field, id string) error {
	if id == "" || !utf8.ValidString(id) || utf8.RuneCountInString(id) > 128 {
		return ReasonErrorf(EINVALID, "invalid_"+field, "%s must be 1 to 128 characters", field)
	}
	if id == "." || id == ".." {
		return ReasonErrorf(EINVALID, "invalid_"+field, "%s must not be %q: it cannot be used in a URL path", field, id)
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f || r == '/' {
			return ReasonErrorf(EINVALID, "invalid_"+field, "%s must not contain control characters or '/'", field)
		}
	}
	return nil
}

// MaxDeviceIDs is the most device ids one flow-2 session may carry.
const MaxDeviceIDs = 50

// ValidateDeviceIDs checks the device ids of a flow-2 request: at most
// MaxDeviceIDs, each 1–256 printable characters, no duplicates.
func ValidateDeviceIDs(ids []string) error {
	if len(ids) > MaxDeviceIDs {
		return ReasonErrorf(EINVALID, "invalid_device_ids", "device_ids may hold at most %d ids", MaxDeviceIDs)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if id == "" || !utf8.ValidString(id) || utf8.RuneCountInString(id) > 256 {
			return ReasonErrorf(EINVALID, "invalid_device_ids", "each device id must be 1 to 256 characters")
		}
		for _, r := range id {
			if r < 0x20 || r == 0x7f {
				return ReasonErrorf(EINVALID, "invalid_device_ids", "device ids must not contain control characters")
			}
		}
		if seen[id] {
			return ReasonErrorf(EINVALID, "invalid_device_ids", "device id %q is listed twice", id)
		}
		seen[id] = true
	}
	return nil
}

// Physical ranges of comfort bounds, in °C.
const (
	IndoorMinC    = 5.0
	IndoorMaxC    = 30.0
	HotWaterMinC  = 30.0
	HotWaterMaxC  = 75.0
	minBoundsSpan = 0.5
)

// ComfortBounds are a nox user's preferred temperatures, kept in sync
// between every linked party. Version starts at 1 and grows by one with
// every change; UpdatedBy is the party that set them.
type ComfortBounds struct {
	NoxUserID     string
	IndoorMinC    float64
	IndoorMaxC    float64
	HotWaterMinC  *float64
	HotWaterMaxC  *float64
	Version       int
	UpdatedBy     Party
	UpdatedAt     time.Time
	ExpectVersion int // for writes: the version the writer read (0: none yet)
}

// Validate checks the bounds: indoor min < max within 5–30 °C, optional hot
// water min < max within 30–75 °C (both or neither), each span at least
// 0.5 °C, at most one decimal. The error message says what is wrong.
func (b ComfortBounds) Validate() error {
	bad := func(format string, args ...any) error {
		return ReasonErrorf(EINVALID, "invalid_comfort_bounds", format, args...)
	}
	for _, v := range []*float64{&b.IndoorMinC, &b.IndoorMaxC, b.HotWaterMinC, b.HotWaterMaxC} {
		if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0) || math.Abs(*v*10-math.Round(*v*10)) > 1e-9) {
			return bad("temperatures must be numbers with at most one decimal")
		}
	}
	if b.IndoorMinC < IndoorMinC || b.IndoorMaxC > IndoorMaxC {
		return bad("indoor_min_c and indoor_max_c must be between %s and %s °C", fmtC(IndoorMinC), fmtC(IndoorMaxC))
	}
	if b.IndoorMaxC-b.IndoorMinC < minBoundsSpan-1e-9 {
		return bad("indoor_min_c (%s) must be at least %s °C below indoor_max_c (%s)", fmtC(b.IndoorMinC), fmtC(minBoundsSpan), fmtC(b.IndoorMaxC))
	}
	if (b.HotWaterMinC == nil) != (b.HotWaterMaxC == nil) {
		return bad("hot_water_min_c and hot_water_max_c must be given together")
	}
	if b.HotWaterMinC != nil {
		lo, hi := *b.HotWaterMinC, *b.HotWaterMaxC
		if lo < HotWaterMinC || hi > HotWaterMaxC {
			return bad("hot_water_min_c and hot_water_max_c must be between %s and %s °C", fmtC(HotWaterMinC), fmtC(HotWaterMaxC))
		}
		if hi-lo < minBoundsSpan-1e-9 {
			return bad("hot_water_min_c (%s) must be at least %s °C below hot_water_max_c (%s)", fmtC(lo), fmtC(minBoundsSpan), fmtC(hi))
		}
	}
	if b.ExpectVersion < 0 {
		return bad("version must be 0 or more")
	}
	return nil
}

func fmtC(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// ErrStaleVersion is returned when comfort bounds changed since the writer
// read them.
func ErrStaleVersion(sent, current int) error {
	return ReasonErrorf(ECONFLICT, "stale_version",
		"The comfort bounds changed since version %d; the current version is %d. Read them again and retry.", sent, current)
}

// String describes the party for logs and audit.
func (p Party) String() string { return fmt.Sprintf("%s:%s", p.Kind, p.ID) }

// SandboxLoginSupplier returns the sandbox supplier of cfg with its login
// page, served by this binary under /sandbox-supplier/.
func SandboxLoginSupplier(cfg Config) LoginSupplier {
	s := cfg.Sandbox.Supplier
	return LoginSupplier{ID: s.ID, Name: s.Name, AuthorizeURL: "/sandbox-supplier/authorize", ClientID: s.ClientID}
}
