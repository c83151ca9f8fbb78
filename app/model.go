package app

import "time"

// Supplier is an energy supplier that calls the link API.
type Supplier struct {
	ID           string    `db:"id" json:"id"`
	Name         string    `db:"name" json:"name"`
	RedirectURIs []string  `db:"-" json:"redirect_uris"`
	CreatedAt    time.Time `db:"created_at" json:"created_at"`
}

// Manufacturer status values an admin can set.
const (
	ManufacturerOK       = "ok"
	ManufacturerDegraded = "degraded"
	ManufacturerDown     = "down"
)

// Manufacturer is a device brand as users see it on the brand page.
type Manufacturer struct {
	ID            string `db:"id"`
	Name          string `db:"name"`
	Kind          string `db:"kind"`
	Enabled       bool   `db:"enabled"`
	Status        string `db:"status"`
	StatusMessage string `db:"status_message"`
}

// Selectable reports whether users can pick the brand right now.
func (m Manufacturer) Selectable() bool { return m.Enabled && m.Status != ManufacturerDown }

// APIKeyOwner says who an API key authenticates.
type APIKeyOwner struct {
	KeyID          int64
	SupplierID     string // set for supplier keys
	ManufacturerID string // set for manufacturer keys
	// RedirectURIs are the supplier's allowed redirect URIs, loaded with the
	// key by AuthenticateAPIKeyAndCount (supplier keys only).
	RedirectURIs []string
}

// Test reports whether the key is a test-mode key (its supplier a test
// twin).
func (o APIKeyOwner) Test() bool { return IsTestSupplier(o.SupplierID) }

// Device statuses.
const (
	DeviceConnected      = "connected"
	DeviceRelinkRequired = "relink_required"
	DeviceDisconnected   = "disconnected"
)

// Device is a manufacturer device linked to a nox user.
type Device struct {
	ID             int64      `db:"id" json:"-"`
	NoxUserID      string     `db:"nox_user_id" json:"-"`
	ManufacturerID string     `db:"manufacturer_id" json:"manufacturer"`
	ExternalID     string     `db:"external_id" json:"device_id"`
	Name           string     `db:"name" json:"name"`
	Model          string     `db:"model" json:"model"`
	Status         string     `db:"status" json:"status"`
	ConnectedAt    time.Time  `db:"connected_at" json:"connected_at"`
	LastSyncAt     *time.Time `db:"last_sync_at" json:"last_sync_at"`
}

// DeviceInfo is a device as a manufacturer's devices endpoint reports it.
type DeviceInfo struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Model string `json:"model"`
	Type  string `json:"type"`
}

// OAuthTokens are a manufacturer's tokens for one nox user.
type OAuthTokens struct {
	AccessToken  string
	RefreshToken string
	Expiry       time.Time
}

// LinkEvent is one entry of a session's append-only timeline.
type LinkEvent struct {
	ID        int64     `db:"id" json:"-"`
	SessionID string    `db:"session_id" json:"-"`
	Type      string    `db:"type" json:"type"`
	Detail    string    `db:"detail" json:"detail,omitempty"`
	CreatedAt time.Time `db:"created_at" json:"at"`
}

// Link event types.
const (
	EventCreated       = "created"
	EventOpened        = "opened"
	EventBrandSelected = "brand_selected"
	EventOAuthStarted  = "oauth_started"
	EventCallback      = "callback"
	EventConnected     = "connected"
	EventFailed        = "failed"
	EventExpired       = "expired"
	// EventBrowserTakeover: the user moved an unfinished session to
	// another browser ("continue here instead").
	EventBrowserTakeover = "browser_takeover"
	// EventDevicesFound: the manufacturer account has several devices and
	// the user is asked which to link.
	EventDevicesFound = "devices_found"
	// EventFailureShown: a failed sign-in the user can fix is shown on the
	// failure screen (the session has not ended).
	EventFailureShown = "failure_shown"
	// EventRetried: the user tried again from the failure screen.
	EventRetried = "retried"
)

// Connection is the outcome of a successful manufacturer callback, written
// in one transaction by the store.
type Connection struct {
	SessionID      string
	SupplierID     string
	SupplierUserID string
	ManufacturerID string
	Devices        []DeviceInfo
	Tokens         OAuthTokens
	ConnectedAt    time.Time
}

// NewLinkSession is a request for a link session.
type NewLinkSession struct {
	Kind           SessionKind
	SupplierID     string
	SupplierUserID string
	RedirectURI    string
	Language       string
	Initiator      string
	ManufacturerID string // preselected brand, optional; flow 2: the initiating manufacturer
	TTL            time.Duration
	// ManufacturerUserID and DeviceIDs are the manufacturer's user and
	// devices of a flow-2 session.
	ManufacturerUserID string
	DeviceIDs          []string
	// NoxUserID, for a session without a supplier, is the nox user the
	// devices are connected to (a customer's own account).
	NoxUserID string
	// PortalUserID is the portal customer who started the session from the
	// dashboard (0 otherwise).
	PortalUserID int64
	// NoFailureScreens: a failed sign-in returns to the supplier at once
	// (the supplier turned the failure screens off).
	NoFailureScreens bool
	// IdempotencyKey, when set, makes a retry with the same RequestHash
	// return the first session instead of a new one.
	IdempotencyKey string
	RequestHash    []byte
}

// SupplierUser is what a supplier sees of one of its users.
type SupplierUser struct {
	SupplierID     string
	SupplierUserID string
	NoxUserID      *string
	Devices        []Device
	Sessions       []LinkSession
}
