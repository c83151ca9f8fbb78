package app

import (
	"encoding/base64"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MinSubstringSearch is the shortest query searched as a substring; shorter
// queries match ids by prefix, so they never scan a table.
const MinSubstringSearch = 3

// MaxSearchLength bounds a console search query.
const MaxSearchLength = 200

// EscapeLike escapes s for a LIKE/ILIKE pattern with the default escape
// character (backslash): %, _ and \ match themselves.
func EscapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// SearchPattern returns the LIKE pattern for a console query and whether it
// is a prefix match (1–2 characters) rather than a substring match. The
// query is literal text: no character has a special meaning.
func SearchPattern(q string) (pattern string, prefix bool) {
	if utf8.RuneCountInString(q) < MinSubstringSearch {
		return EscapeLike(q) + "%", true
	}
	return "%" + EscapeLike(q) + "%", false
}

// SearchNeedsLetterOrDigit reports whether q is a substring query (3+
// characters) without a letter or digit: no trigram index can answer it,
// so it would scan every mapping, and it is refused instead.
func SearchNeedsLetterOrDigit(q string) bool {
	if utf8.RuneCountInString(q) < MinSubstringSearch {
		return false
	}
	return !strings.ContainsFunc(q, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) })
}

// MappingFilter narrows the console's mapping search.
type MappingFilter struct {
	Q          string
	SupplierID string
	Brand      string
	// Status is a device status (connected, relink_required, disconnected):
	// mappings with at least one device in that status.
	Status string
	From   time.Time // mapping created at or after (zero: no bound)
	To     time.Time // mapping created before (zero: no bound)
}

// MappingCursor is a keyset position in the mapping list, which is ordered
// by (created_at, supplier_id, supplier_user_id) descending.
type MappingCursor struct {
	CreatedAt      time.Time
	SupplierID     string
	SupplierUserID string
}

// Encode returns the cursor as an opaque URL-safe string.
func (c MappingCursor) Encode() string {
	raw := c.CreatedAt.UTC().Format(time.RFC3339Nano) + "\x00" + c.SupplierID + "\x00" + c.SupplierUserID
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// DecodeMappingCursor parses an Encode result; anything else is EINVALID.
func DecodeMappingCursor(s string) (MappingCursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	parts := strings.Split(string(b), "\x00")
	if err != nil || len(parts) != 3 {
		return MappingCursor{}, Errorf(EINVALID, "invalid page cursor")
	}
	t, err := time.Parse(time.RFC3339Nano, parts[0])
	if err != nil {
		return MappingCursor{}, Errorf(EINVALID, "invalid page cursor")
	}
	return MappingCursor{CreatedAt: t, SupplierID: parts[1], SupplierUserID: parts[2]}, nil
}

// MappingRow is one search result: a supplier user's mapping with what
// support needs at a glance.
type MappingRow struct {
	SupplierID     string    `db:"supplier_id"`
	SupplierName   string    `db:"supplier_name"`
	SupplierUserID string    `db:"supplier_user_id"`
	NoxUserID      string    `db:"nox_user_id"`
	CreatedAt      time.Time `db:"created_at"`
	Email          string    `db:"email"`
	Devices        int       `db:"devices"`
	Connected      int       `db:"connected"`
	RelinkRequired int       `db:"relink_required"`
	Brands         string    `db:"brands"`
	LastStatus     string    `db:"last_status"`
	LastReason     string    `db:"last_reason"`
	// Duplicate is set when one of the user's devices is also linked under
	// another nox user (another supplier_user_id).
	Duplicate bool `db:"duplicate"`
}

// Cursor returns the keyset position just after r.
func (r MappingRow) Cursor() MappingCursor {
	return MappingCursor{CreatedAt: r.CreatedAt, SupplierID: r.SupplierID, SupplierUserID: r.SupplierUserID}
}

// ConsoleDevice is a device as support sees it: status, token freshness,
// a relink in progress and other nox users with the same device.
type ConsoleDevice struct {
	Device
	BrandName      string     `db:"brand_name"`
	TokenExpiresAt *time.Time `db:"token_expires_at"`
	TokenUpdatedAt *time.Time `db:"token_updated_at"`
	// RelinkSessionID is an unfinished agent-started session for the
	// device's brand ("relink pending"), or "".
	RelinkSessionID string `db:"relink_session_id"`
	// AlsoLinkedTo lists the supplier users of other nox users with the
	// same manufacturer device ("supplier_id/supplier_user_id").
	AlsoLinkedTo []string `db:"-"`
}

// TokenFresh reports whether the stored access token is still valid at now.
func (d ConsoleDevice) TokenFresh(now time.Time) bool {
	return d.TokenExpiresAt != nil && d.TokenExpiresAt.After(now)
}

// SessionTimeline is a link session with its events, for the timeline.
type SessionTimeline struct {
	LinkSession
	Events []LinkEvent
}

// Mapping is everything support sees of one supplier user.
type Mapping struct {
	SupplierID     string
	SupplierName   string
	SupplierUserID string
	NoxUserID      string
	CreatedAt      *time.Time
	Email          string
	// RedirectURI is where a link support creates sends the customer back
	// (the supplier's first allowed redirect URI); "" when the supplier has
	// none, and then no link can be created.
	RedirectURI string
	// Others are the nox user's mappings at other suppliers.
	Others   []MappingRow
	Devices  []ConsoleDevice
	Sessions []SessionTimeline
}

// QueueFilter narrows the queue of sessions that ended failed or expired.
type QueueFilter struct {
	Reason     string
	Brand      string
	SupplierID string
	Since      time.Time // finished at or after (zero: no bound)
}

// QueueCursor is a keyset position in the queue (finished_at, id descending).
type QueueCursor struct {
	FinishedAt time.Time
	ID         string
}

// Encode returns the cursor as an opaque URL-safe string.
func (c QueueCursor) Encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.FinishedAt.UTC().Format(time.RFC3339Nano) + "\x00" + c.ID))
}

// DecodeQueueCursor parses an Encode result; anything else is EINVALID.
func DecodeQueueCursor(s string) (QueueCursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	parts := strings.Split(string(b), "\x00")
	if err != nil || len(parts) != 2 {
		return QueueCursor{}, Errorf(EINVALID, "invalid page cursor")
	}
	t, err := time.Parse(time.RFC3339Nano, parts[0])
	if err != nil {
		return QueueCursor{}, Errorf(EINVALID, "invalid page cursor")
	}
	return QueueCursor{FinishedAt: t, ID: parts[1]}, nil
}

// QueueRow is a session that ended failed or expired.
type QueueRow struct {
	LinkSession
	SupplierName string `db:"supplier_name"`
	BrandName    string `db:"brand_name"`
	// CanRelink is set when support can create a new link for the row's
	// customer: the supplier user is known and the supplier has a
	// redirect URI.
	CanRelink bool `db:"can_relink"`
}

// HasCustomer reports whether the row's supplier user is known, so the
// customer's page can be opened (a flow-2 session that ended before the
// supplier reported its user has none).
func (r QueueRow) HasCustomer() bool { return r.SupplierID != "" && r.SupplierUserID != "" }

// Cursor returns the keyset position just after r.
func (r QueueRow) Cursor() QueueCursor {
	var t time.Time
	if r.FinishedAt != nil {
		t = *r.FinishedAt
	}
	return QueueCursor{FinishedAt: t, ID: r.ID}
}

// QueueReasonCount is how many queued sessions ended with one reason.
type QueueReasonCount struct {
	Reason string `db:"reason"`
	Count  int    `db:"n"`
}

// ReasonNoRedirectURI: support cannot create a link for a customer of a
// supplier that has no allowed redirect URI (the link would have nowhere to
// send the customer back).
const ReasonNoRedirectURI = "no_redirect_uri"

// Relink asks for a new link session for a supplier user, started by
// support.
type Relink struct {
	SupplierID     string
	SupplierUserID string
	Brand          string // preselected, optional
	Language       string
	TTL            time.Duration
	// Email, when set, queues an email with the link to this address.
	Email   string
	ActorID *int64
	IP      string
	// FormKey, when set, identifies the submitted form: the same form with
	// the same fields submitted again returns the first link (no second
	// session, no second email).
	FormKey string
}

// Email is an outgoing email.
type Email struct {
	ID        int64     `db:"id"`
	To        string    `db:"to_address"`
	Subject   string    `db:"subject"`
	Body      string    `db:"body"`
	Kind      string    `db:"kind"`
	Ref       string    `db:"ref"`
	Attempts  int       `db:"attempts"`
	CreatedAt time.Time `db:"created_at"`
}

// BulkRelinkFilter selects the devices of a bulk relink: devices needing a
// relink of one brand, optionally of one supplier.
type BulkRelinkFilter struct {
	Brand      string `json:"brand"`
	SupplierID string `json:"supplier_id,omitempty"`
	Status     string `json:"status"`
}

// BulkRelink is a bulk relink's progress.
type BulkRelink struct {
	ID         int64      `db:"id"`
	ActorID    *int64     `db:"actor_id"`
	FilterJSON string     `db:"filter"`
	Total      int        `db:"total"`
	Done       int        `db:"done"`
	Failed     int        `db:"failed"`
	CreatedAt  time.Time  `db:"created_at"`
	FinishedAt *time.Time `db:"finished_at"`
	// BrandName and SupplierName name the filter's brand and supplier
	// (SupplierName is "" for every supplier).
	BrandName    string `db:"brand_name"`
	SupplierName string `db:"supplier_name"`
}

// Bulk relink outcomes (BulkRelink.Outcome).
const (
	BulkRunning = "running"
	BulkDone    = "done"    // finished, every link created
	BulkPartial = "partial" // finished, some items failed
	BulkFailed  = "failed"  // finished, no link created
)

// Outcome says how the bulk relink stands: running, or finished as done,
// partial or failed. A run with failures is never plain "done".
func (b BulkRelink) Outcome() string {
	switch {
	case b.FinishedAt == nil:
		return BulkRunning
	case b.Failed == 0:
		return BulkDone
	case b.Done == 0:
		return BulkFailed
	}
	return BulkPartial
}

// BulkRelinkFailure is one item of a bulk relink that got no link, and why.
type BulkRelinkFailure struct {
	SupplierID     string `db:"supplier_id"`
	SupplierName   string `db:"supplier_name"`
	SupplierUserID string `db:"supplier_user_id"`
	Reason         string `db:"reason"`
}

// bulkFailureReasons are the reasons a bulk relink item fails with that
// support can act on; any other failure is "other".
var bulkFailureReasons = map[string]bool{ReasonNoRedirectURI: true, ReasonManufacturerDown: true, ENOTFOUND: true}

// BulkFailureReason returns the reason recorded for an item that failed
// with err: one of the reasons support can act on, or "other".
func BulkFailureReason(err error) string {
	if r := ErrorReason(err); bulkFailureReasons[r] {
		return r
	}
	return "other"
}

// Why is the failure's reason as the console explains it (one of the
// BulkFailureReason values; older free-text reasons read as "other").
func (f BulkRelinkFailure) Why() string {
	if bulkFailureReasons[f.Reason] {
		return f.Reason
	}
	return "other"
}

// Percent is the share of items processed, 0–100.
func (b BulkRelink) Percent() int {
	if b.Total == 0 {
		return 100
	}
	return (b.Done + b.Failed) * 100 / b.Total
}

// MaxKeyName bounds an API key's name.
const MaxKeyName = 100

// RotatedKeyName is the name of the key that replaces the key name/prefix
// in a rotation: the old name (without an earlier rotation's note) and the
// prefix of the key it replaces, so the two keys read apart.
func RotatedKeyName(name, prefix string) string {
	if i := strings.Index(name, " (replaces "); i >= 0 {
		name = name[:i]
	} else if strings.HasPrefix(name, "(replaces ") {
		name = ""
	}
	note := "(replaces " + prefix + "…)"
	if name == "" {
		return note
	}
	if max := MaxKeyName - utf8.RuneCountInString(note) - 1; utf8.RuneCountInString(name) > max {
		name = string([]rune(name)[:max])
	}
	return name + " " + note
}

// APIKey is an API key as admins see it (never the key itself).
type APIKey struct {
	ID         int64      `db:"id"`
	SupplierID string     `db:"supplier_id"`
	Name       string     `db:"name"`
	Prefix     string     `db:"prefix"`
	CreatedAt  time.Time  `db:"created_at"`
	LastUsedAt *time.Time `db:"last_used_at"`
	ExpiresAt  *time.Time `db:"expires_at"`
	RevokedAt  *time.Time `db:"revoked_at"`
	ReplacesID *int64     `db:"replaces_id"`
}

// Active reports whether the key authenticates at now.
func (k APIKey) Active(now time.Time) bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || k.ExpiresAt.After(now))
}

// SupplierSettings is a supplier as an admin edits it.
type SupplierSettings struct {
	Supplier
	// WebhookURL is the supplier's webhook endpoint ("" when none).
	WebhookURL string `db:"webhook_url" json:"webhook_url"`
	// OAuthLoginURL and OAuthClientID are the supplier's OAuth login page
	// for flow 2 (both or neither).
	OAuthLoginURL string `db:"login_authorize_url" json:"oauth_login_url"`
	OAuthClientID string `db:"login_client_id" json:"oauth_client_id"`
	Mappings      int    `db:"mappings" json:"-"`
	ActiveKeys    int    `db:"active_keys" json:"-"`
}

// Validate checks an admin's supplier edit: id format, a name, redirect
// URIs that are absolute https (http on loopback), and https (or loopback
// http) webhook and login URLs when set.
func (s SupplierSettings) Validate() error {
	if !validID(s.ID) {
		return Errorf(EINVALID, "The id must be 1 to 64 lower-case letters, digits, '-' or '_'.")
	}
	if strings.TrimSpace(s.Name) == "" || !utf8.ValidString(s.Name) || utf8.RuneCountInString(s.Name) > 200 {
		return Errorf(EINVALID, "The name must be 1 to 200 characters.")
	}
	if len(s.RedirectURIs) == 0 {
		return Errorf(EINVALID, "At least one redirect URI is required.")
	}
	for _, u := range s.RedirectURIs {
		if err := ValidateRedirectURIForAllowlist(u); err != nil {
			return err
		}
	}
	if s.WebhookURL != "" {
		if err := ValidateWebhookURL(s.WebhookURL); err != nil {
			return err
		}
	}
	if (s.OAuthLoginURL == "") != (s.OAuthClientID == "") {
		return Errorf(EINVALID, "The OAuth login page needs both its URL and the client id.")
	}
	if s.OAuthLoginURL != "" {
		if err := ValidateRedirectURIForAllowlist(s.OAuthLoginURL); err != nil {
			return err
		}
	}
	return nil
}

func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// AuditFilter narrows the audit log viewer.
type AuditFilter struct {
	Action     string // prefix, e.g. "mapping." or "api_key.create"
	ObjectType string
	ActorEmail string
	Since      time.Time
	BeforeID   int64 // keyset: entries with a smaller id
}

// AuditRow is an audit entry with its actor's email.
type AuditRow struct {
	AuditEntry
	ActorEmail string `db:"actor_email"`
	BeforeJSON string `db:"before_json"`
	AfterJSON  string `db:"after_json"`
}

// AuditChange is one field of an audited object as it was and became; an
// empty Before or After means the field was not there (or was empty).
type AuditChange struct {
	Field  string
	Before string
	After  string
}

// Changes is the entry's before/after as a readable diff: for an update
// only the fields that changed, for a creation every non-empty field, by
// field name. Nested values are shown as compact JSON.
func (r AuditRow) Changes() []AuditChange {
	before, after := auditFields(r.BeforeJSON), auditFields(r.AfterJSON)
	names := make([]string, 0, len(before)+len(after))
	for k := range after {
		names = append(names, k)
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	out := []AuditChange{}
	for _, k := range names {
		if b, a := before[k], after[k]; b != a {
			out = append(out, AuditChange{Field: strings.ReplaceAll(k, "_", " "), Before: b, After: a})
		}
	}
	return out
}

// auditFields reads an audit JSON object as field → readable value; a
// value that is not an object is one field named "value".
func auditFields(raw string) map[string]string {
	out := map[string]string{}
	if raw == "" {
		return out
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		out["value"] = raw
		return out
	}
	for k, v := range m {
		if s := auditValue(v); s != "" {
			out[k] = s
		}
	}
	return out
}

func auditValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		if strings.HasPrefix(x, "0001-01-01") {
			return ""
		}
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			parts = append(parts, auditValue(e))
		}
		return strings.Join(parts, ", ")
	}
	b, _ := json.Marshal(v)
	return string(b)
}
