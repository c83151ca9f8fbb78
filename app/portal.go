package app

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

// Portal roles. A customer sees only its own devices; agents, managers and
// admins are NOX staff; supplier admins and viewers are a supplier's own
// developers, bound to that one supplier (TeamSupplierID).
const (
	RoleCustomer       = "customer"
	RoleAgent          = "agent"
	RoleManager        = "manager"
	RoleAdmin          = "admin"
	RoleSupplierAdmin  = "supplier_admin"
	RoleSupplierViewer = "supplier_viewer"
)

// Roles lists every portal role.
var Roles = []string{RoleCustomer, RoleAgent, RoleManager, RoleAdmin, RoleSupplierAdmin, RoleSupplierViewer}

// IsTeamRole reports whether role belongs to a supplier's team (and so
// needs a TeamSupplierID).
func IsTeamRole(role string) bool { return role == RoleSupplierAdmin || role == RoleSupplierViewer }

// ValidRole reports whether role is one of Roles.
func ValidRole(role string) bool {
	for _, r := range Roles {
		if r == role {
			return true
		}
	}
	return false
}

// PortalUser is a signed-in portal account. A customer is either an email +
// password account (NoxUserID set) or a supplier's user signed in through a
// dashboard link (SupplierID and SupplierUserID set, no email).
type PortalUser struct {
	ID             int64   `db:"id"`
	Email          string  `db:"email"`
	Name           string  `db:"name"`
	Role           string  `db:"role"`
	NoxUserID      string  `db:"nox_user_id"`
	SupplierID     string  `db:"supplier_id"`
	SupplierUserID string  `db:"supplier_user_id"`
	SupplierName   string  `db:"supplier_name"`
	PasswordHash   *string `db:"password_hash"`
	// TeamSupplierID is the supplier a supplier_admin or supplier_viewer
	// works for; everything they see and change is that supplier's.
	TeamSupplierID string `db:"team_supplier_id"`
	// TimeZone is the IANA zone customer pages show times in: the one the
	// browser last reported, or the one the customer chose
	// (TimeZoneChosen), which wins over any browser.
	TimeZone       string `db:"time_zone"`
	TimeZoneChosen bool   `db:"time_zone_chosen"`
}

// HasRole reports whether the user has one of roles.
func (u PortalUser) HasRole(roles ...string) bool {
	for _, r := range roles {
		if u.Role == r {
			return true
		}
	}
	return false
}

// DisplayName is what the navigation shows for the user.
func (u PortalUser) DisplayName() string {
	switch {
	case u.Name != "":
		return u.Name
	case u.Email != "":
		return u.Email
	}
	return u.SupplierUserID
}

// NewPortalUser is an account to create.
type NewPortalUser struct {
	Email    string
	Name     string
	Role     string
	Password string
	// NoxUserID links a customer account to its nox user (created when empty
	// for a customer).
	NoxUserID string
	// TeamSupplierID is required for the supplier roles and refused for
	// every other role.
	TeamSupplierID string
}

// PortalSession is a server-side sign-in: the cookie's JWT names it.
type PortalSession struct {
	ID         string    `db:"id"`
	UserID     int64     `db:"portal_user_id"`
	CreatedAt  time.Time `db:"created_at"`
	LastSeenAt time.Time `db:"last_seen_at"`
	ExpiresAt  time.Time `db:"expires_at"`
}

// AuditEntry is one line of the append-only audit log. Before and After are
// marshalled to JSON (nil stays NULL).
type AuditEntry struct {
	ID         int64     `db:"id" json:"id"`
	ActorID    *int64    `db:"actor_id" json:"actor_id"`
	Action     string    `db:"action" json:"action"`
	ObjectType string    `db:"object_type" json:"object_type"`
	ObjectID   string    `db:"object_id" json:"object_id"`
	Before     any       `db:"-" json:"before,omitempty"`
	After      any       `db:"-" json:"after,omitempty"`
	IP         string    `db:"ip" json:"ip,omitempty"`
	CreatedAt  time.Time `db:"created_at" json:"created_at"`
}

// MaxPasswordBytes is bcrypt's input limit; longer passwords are refused
// rather than silently truncated.
const MaxPasswordBytes = 72

// MinPasswordLength is the shortest password accepted for a new account.
const MinPasswordLength = 10

// HashPassword returns the bcrypt hash of password; EINVALID when it is
// shorter than MinPasswordLength characters or longer than 72 bytes.
func HashPassword(password string) (string, error) {
	if len(password) > MaxPasswordBytes {
		return "", ReasonErrorf(EINVALID, "password_too_long", "The password must be at most %d bytes.", MaxPasswordBytes)
	}
	if utf8.RuneCountInString(password) < MinPasswordLength {
		return "", ReasonErrorf(EINVALID, "password_too_short", "The password must be at least %d characters.", MinPasswordLength)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), int(passwordCost.Load()))
	if err != nil {
		return "", fmt.Errorf("app: hash password: %w", err)
	}
	return string(h), nil
}

// MinProductionPasswordCost is the bcrypt cost of new password hashes
// unless portal.password_cost says otherwise, and the least production
// accepts.
const MinProductionPasswordCost = 10

// passwordCost is the bcrypt cost of new hashes (SetPasswordCost).
var passwordCost atomic.Int32

func init() { passwordCost.Store(MinProductionPasswordCost) }

// SetPasswordCost sets the bcrypt cost of the hashes HashPassword makes from
// now on, for the whole process: the server sets portal.password_cost at
// start. Costs outside bcrypt's range are ignored.
func SetPasswordCost(cost int) {
	if cost >= bcrypt.MinCost && cost <= bcrypt.MaxCost {
		passwordCost.Store(int32(cost))
	}
}

// dummyHashes holds, per cost, the hash compared against when the account
// does not exist, so an unknown email costs the same time as a wrong
// password. Each is made on first use.
var dummyHashes sync.Map // int32 → []byte

func dummyHash() []byte {
	cost := passwordCost.Load()
	if h, ok := dummyHashes.Load(cost); ok {
		return h.([]byte)
	}
	h, _ := bcrypt.GenerateFromPassword([]byte("nox-dummy-password"), int(cost))
	h2, _ := dummyHashes.LoadOrStore(cost, h)
	return h2.([]byte)
}

// CheckPassword reports whether password matches hash. With hash nil it
// still spends a bcrypt comparison and returns false. Passwords over 72
// bytes never match.
func CheckPassword(hash *string, password string) bool {
	if hash == nil || len(password) > MaxPasswordBytes {
		bcrypt.CompareHashAndPassword(dummyHash(), []byte(password[:min(len(password), MaxPasswordBytes)]))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(*hash), []byte(password)) == nil
}

// NormalizeEmail trims and lower-cases an email address.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// LoginAccountKey is the throttling key of an email address, the same for
// existing and unknown accounts.
func LoginAccountKey(email string) []byte { return HashToken("login:" + NormalizeEmail(email)) }

// SessionTokens issues and checks the portal's session JWTs: HS256 with a
// key derived from the signing key, a kid naming that key, and a strict
// parser (HS256 only, exp required, iss and aud checked).
type SessionTokens struct {
	key      []byte
	kid      string
	issuer   string
	audience string
}

// SessionAudience is the aud claim of portal session tokens.
const SessionAudience = "noxportal-portal"

// NewSessionTokens derives the JWT key from signingKey; issuer is the
// public URL.
func NewSessionTokens(signingKey []byte, issuer string) *SessionTokens {
	m := hmac.New(sha256.New, signingKey)
	m.Write([]byte("portal-session-jwt"))
	key := m.Sum(nil)
	id := sha256.Sum256(key)
	return &SessionTokens{key: key, kid: hex.EncodeToString(id[:8]), issuer: issuer, audience: SessionAudience}
}

// KeyID returns the kid put in every token's header.
func (t *SessionTokens) KeyID() string { return t.kid }

// sessionClaims are the claims of a portal session token.
type sessionClaims struct {
	jwt.RegisteredClaims
}

// Issue returns a token for session sid of user userID valid until exp.
func (t *SessionTokens) Issue(sid string, userID int64, now, exp time.Time) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, sessionClaims{jwt.RegisteredClaims{
		Issuer:    t.issuer,
		Subject:   fmt.Sprint(userID),
		Audience:  jwt.ClaimStrings{t.audience},
		ExpiresAt: jwt.NewNumericDate(exp),
		IssuedAt:  jwt.NewNumericDate(now),
		ID:        sid,
	}})
	tok.Header["kid"] = t.kid
	s, err := tok.SignedString(t.key)
	if err != nil {
		panic("app: sign session token: " + err.Error())
	}
	return s
}

// ErrBadSessionToken is returned for any token that does not verify.
var ErrBadSessionToken = errors.New("app: invalid session token")

// Parse verifies a token and returns its session id and user id. Any other
// algorithm (none included), another kid, a missing or past exp, or another
// issuer or audience is ErrBadSessionToken.
func (t *SessionTokens) Parse(token string, now time.Time) (sid string, userID int64, err error) {
	var c sessionClaims
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(t.issuer),
		jwt.WithAudience(t.audience),
		jwt.WithIssuedAt(),
		jwt.WithStrictDecoding(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	_, err = p.ParseWithClaims(token, &c, func(tok *jwt.Token) (any, error) {
		if kid, _ := tok.Header["kid"].(string); !hmac.Equal([]byte(kid), []byte(t.kid)) {
			return nil, ErrBadSessionToken
		}
		return t.key, nil
	})
	if err != nil || c.ID == "" {
		return "", 0, ErrBadSessionToken
	}
	if _, err := fmt.Sscan(c.Subject, &userID); err != nil {
		return "", 0, ErrBadSessionToken
	}
	return c.ID, userID, nil
}

// Actor returns the audit actor for a portal user id (nil for 0: the system).
func Actor(userID int64) *int64 {
	if userID == 0 {
		return nil
	}
	return &userID
}

// DashboardDevice is a device as its owner sees it on the dashboard.
type DashboardDevice struct {
	Device
	BrandName string `db:"brand_name"`
	Kind      string `db:"kind"`
	// DisconnectedAt is when the device was last disconnected (nil: never).
	DisconnectedAt *time.Time `db:"disconnected_at"`
	// Connecting is set when a link session for this device's brand is in progress.
	Connecting bool `db:"-"`
}

// DashboardLink is a claimed supplier-created dashboard URL.
type DashboardLink struct {
	SupplierID     string `db:"supplier_id"`
	SupplierUserID string `db:"supplier_user_id"`
	Language       string `db:"language"`
	// Minutes is the link's own lifetime in whole minutes (at least one),
	// what an expired link's page names.
	Minutes int `db:"minutes"`
}

// Device event types (device_events), beside the link events.
const (
	DeviceEventDisconnected = "disconnected"
)

// DeviceEvent is one entry of a device's timeline.
type DeviceEvent struct {
	ID        int64     `db:"id"`
	DeviceID  int64     `db:"device_id"`
	Type      string    `db:"type"`
	Detail    string    `db:"detail"`
	CreatedAt time.Time `db:"created_at"`
}

// LinkedSupplier is an energy supplier a customer's nox user is mapped to,
// as the dashboard shows it.
type LinkedSupplier struct {
	ID             string    `db:"supplier_id"`
	Name           string    `db:"name"`
	SupplierUserID string    `db:"supplier_user_id"`
	Since          time.Time `db:"created_at"`
}
