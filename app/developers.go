package app

import (
	"strings"
	"time"
)

// A supplier's own developers (roles supplier_admin and supplier_viewer)
// manage its integration on /developers: API keys, redirect URIs, the
// webhook endpoint and its deliveries, the team, and their funnel report.

// InvitationTTL is how long a team invitation link can be used.
const InvitationTTL = 72 * time.Hour

// EventWebhookTest is the event a supplier sends itself from the developer
// dashboard to try its endpoint.
const EventWebhookTest = "webhook.test"

// Invitation is an invitation to a supplier's team. The token that opens it
// is shown once to the inviter and never stored.
type Invitation struct {
	SupplierID   string     `db:"supplier_id"`
	SupplierName string     `db:"supplier_name"`
	Email        string     `db:"email"`
	Role         string     `db:"role"`
	CreatedAt    time.Time  `db:"created_at"`
	ExpiresAt    time.Time  `db:"expires_at"`
	UsedAt       *time.Time `db:"used_at"`
}

// Invitation errors' reasons.
const (
	InvitationUsed    = "invitation_used"
	InvitationExpired = "invitation_expired"
)

// NewInvitation checks an invitation an admin wants to send: a plausible
// email address and one of the supplier roles. It returns the normalised
// address; EINVALID otherwise.
func NewInvitation(email, role string) (string, error) {
	email = NormalizeEmail(email)
	at := strings.IndexByte(email, '@')
	if len(email) < 3 || len(email) > 254 || at < 1 || at == len(email)-1 || strings.ContainsAny(email, " \t\r\n<>,;\"") {
		return "", ReasonErrorf(EINVALID, "invalid_email", "The email address is not valid.")
	}
	if !IsTeamRole(role) {
		return "", ReasonErrorf(EINVALID, "invalid_role", "The role must be supplier_admin or supplier_viewer.")
	}
	return email, nil
}

// TestWebhookData is the data of a webhook.test event.
type TestWebhookData struct {
	SupplierID string `json:"supplier_id"`
	Message    string `json:"message"`
}

// InvitationEmail is the email that carries an invitation's one-time link.
func InvitationEmail(to, supplierName, role, link string, ttl time.Duration) Email {
	what := "a viewer (read only)"
	if role == RoleSupplierAdmin {
		what = "an admin"
	}
	return Email{To: to, Kind: "invitation", Subject: "You are invited to " + supplierName + " on NOX Energy",
		Body: "You have been invited to join " + supplierName + "'s developer dashboard on NOX Energy as " + what + ".\n\n" +
			"Open this link to choose your password (it works once, for " + ttl.String() + "):\n\n" + link + "\n\n" +
			"If you did not expect this invitation, ignore this email.\n"}
}
