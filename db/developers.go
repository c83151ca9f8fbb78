package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"noxportal/app"
)

// Store methods behind the supplier developer dashboard. Every method takes
// the supplier the signed-in team member works for and touches nothing of
// any other supplier; every change writes its audit entry in the same
// transaction.

// CreateInvitation invites email to supplierID's team with role, valid for
// ttl: it stores the invitation (only the token's hash) and queues the email
// with the link linkPrefix+token, and returns the token. EINVALID for a bad
// address or role; ECONFLICT when the address already has an account.
func (s *Store) CreateInvitation(ctx context.Context, supplierID, email, role, linkPrefix string, ttl time.Duration, e app.AuditEntry) (string, error) {
	email, err := app.NewInvitation(email, role)
	if err != nil {
		return "", err
	}
	token := app.RandomToken(48)
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		var taken bool
		if err := tx.GetContext(ctx, &taken, `SELECT EXISTS (SELECT 1 FROM portal_users WHERE lower(email) = $1)`, email); err != nil {
			return fmt.Errorf("db: invitation email: %w", err)
		}
		if taken {
			return app.ReasonErrorf(app.ECONFLICT, "email_taken", "An account with this email already exists.")
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO supplier_invitations (token_hash, supplier_id, email, role, invited_by, expires_at)
			VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))`,
			app.HashToken(token), supplierID, email, role, e.ActorID, ttl.Seconds()); err != nil {
			return fmt.Errorf("db: create invitation: %w", err)
		}
		var name string
		if err := tx.GetContext(ctx, &name, `SELECT name FROM suppliers WHERE id = $1`, supplierID); err != nil {
			return fmt.Errorf("db: invitation supplier: %w", err)
		}
		mail := app.InvitationEmail(email, name, role, linkPrefix+token, ttl)
		mail.Ref = supplierID
		if err := queueEmail(ctx, tx, mail); err != nil {
			return err
		}
		e.Action, e.ObjectType, e.ObjectID = "team.invite", "supplier", supplierID
		e.After = map[string]string{"email": email, "role": role}
		return writeAudit(ctx, tx, e)
	})
	return token, err
}

const invitationCols = `i.supplier_id, s.name AS supplier_name, i.email, i.role, i.created_at, i.expires_at, i.used_at`

// Invitation returns the invitation a token opens: ENOTFOUND for an unknown
// token, ECONFLICT (reason app.InvitationUsed or app.InvitationExpired) for
// one that can no longer be used.
func (s *Store) Invitation(ctx context.Context, token string) (app.Invitation, error) {
	return invitation(ctx, s.db, token, "")
}

func invitation(ctx context.Context, q sqlx.QueryerContext, token, lock string) (app.Invitation, error) {
	var inv app.Invitation
	err := sqlx.GetContext(ctx, q, &inv, `SELECT `+invitationCols+`
		FROM supplier_invitations i JOIN suppliers s ON s.id = i.supplier_id WHERE i.token_hash = $1`+lock, app.HashToken(token))
	switch {
	case err != nil:
		return inv, fmt.Errorf("db: invitation: %w", notFound(err, "invitation not found"))
	case inv.UsedAt != nil:
		return inv, app.ReasonErrorf(app.ECONFLICT, app.InvitationUsed, "This invitation has already been used.")
	case !inv.ExpiresAt.After(time.Now()):
		return inv, app.ReasonErrorf(app.ECONFLICT, app.InvitationExpired, "This invitation has expired.")
	}
	return inv, nil
}

// AcceptInvitation uses an invitation once: it creates the team member's
// account with name and password and marks the invitation used, in one
// transaction (two concurrent uses cannot both succeed: the row is locked).
// Errors are those of Invitation and of CreatePortalUser.
func (s *Store) AcceptInvitation(ctx context.Context, token, name, password, ip string) (app.PortalUser, error) {
	var id int64
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		inv, err := invitation(ctx, tx, token, " FOR UPDATE OF i")
		if err != nil {
			return err
		}
		id, err = createPortalUser(ctx, tx, app.NewPortalUser{Email: inv.Email, Name: name, Role: inv.Role,
			Password: password, TeamSupplierID: inv.SupplierID})
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE supplier_invitations SET used_at = now(), used_by = $2 WHERE token_hash = $1`,
			app.HashToken(token), id); err != nil {
			return fmt.Errorf("db: use invitation: %w", err)
		}
		return writeAudit(ctx, tx, app.AuditEntry{ActorID: &id, Action: "team.join", ObjectType: "supplier", ObjectID: inv.SupplierID,
			After: map[string]string{"email": inv.Email, "role": inv.Role}, IP: ip})
	})
	if err != nil {
		return app.PortalUser{}, err
	}
	return s.GetPortalUser(ctx, id)
}

// TeamMember is an account of a supplier's team as the team page lists it.
type TeamMember struct {
	ID        int64     `db:"id"`
	Email     string    `db:"email"`
	Name      string    `db:"name"`
	Role      string    `db:"role"`
	CreatedAt time.Time `db:"created_at"`
}

// Team returns the enabled accounts of supplierID's team, oldest first, and
// its invitations that are still open, newest first.
func (s *Store) Team(ctx context.Context, supplierID string) ([]TeamMember, []app.Invitation, error) {
	members := []TeamMember{}
	if err := s.db.SelectContext(ctx, &members, `SELECT id, email, name, role, created_at FROM portal_users
		WHERE team_supplier_id = $1 AND disabled_at IS NULL ORDER BY created_at, id`, supplierID); err != nil {
		return nil, nil, fmt.Errorf("db: team: %w", err)
	}
	invs := []app.Invitation{}
	if err := s.db.SelectContext(ctx, &invs, `SELECT `+invitationCols+`
		FROM supplier_invitations i JOIN suppliers s ON s.id = i.supplier_id
		WHERE i.supplier_id = $1 AND i.used_at IS NULL AND i.expires_at > now() ORDER BY i.created_at DESC`, supplierID); err != nil {
		return nil, nil, fmt.Errorf("db: invitations: %w", err)
	}
	return members, invs, nil
}

// AddRedirectURI adds uri to supplierID's allowlist (checked with
// app.ValidateRedirectURIForAllowlist, the rule the API's exact match relies
// on). ECONFLICT when it is already there.
func (s *Store) AddRedirectURI(ctx context.Context, supplierID, uri string, e app.AuditEntry) error {
	if err := app.ValidateRedirectURIForAllowlist(uri); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		// A URI added on its own goes last.
		res, err := tx.ExecContext(ctx, `INSERT INTO supplier_redirect_uris (supplier_id, uri, position)
			SELECT $1, $2, coalesce(max(position) + 1, 0) FROM supplier_redirect_uris WHERE supplier_id = $1
			ON CONFLICT (supplier_id, uri) DO NOTHING`, supplierID, uri)
		if err != nil {
			return fmt.Errorf("db: add redirect uri: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return app.Errorf(app.ECONFLICT, "%q is already allowed.", uri)
		}
		e.Action, e.ObjectType, e.ObjectID = "redirect_uri.add", "supplier", supplierID
		e.After = map[string]string{"uri": uri}
		return writeAudit(ctx, tx, e)
	})
}

// RemoveRedirectURI removes uri from supplierID's allowlist. ENOTFOUND when
// it is not there; ECONFLICT when it is the last one (a supplier always
// keeps one, as the admin form requires).
func (s *Store) RemoveRedirectURI(ctx context.Context, supplierID, uri string, e app.AuditEntry) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		var left int
		if err := tx.GetContext(ctx, &left, `SELECT count(*) FROM (SELECT 1 FROM supplier_redirect_uris
			WHERE supplier_id = $1 FOR UPDATE) u`, supplierID); err != nil {
			return fmt.Errorf("db: count redirect uris: %w", err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM supplier_redirect_uris WHERE supplier_id = $1 AND uri = $2`, supplierID, uri)
		if err != nil {
			return fmt.Errorf("db: remove redirect uri: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return app.Errorf(app.ENOTFOUND, "%q is not in the allowlist.", uri)
		}
		if left <= 1 {
			return app.Errorf(app.ECONFLICT, "At least one redirect URI is required.")
		}
		e.Action, e.ObjectType, e.ObjectID = "redirect_uri.remove", "supplier", supplierID
		e.Before = map[string]string{"uri": uri}
		return writeAudit(ctx, tx, e)
	})
}

// SaveWebhookEndpoint sets supplierID's endpoint like SetWebhookEndpoint
// (rotate=true issues a new secret) with its audit entry; the secret is
// returned when new, "" otherwise.
func (s *Store) SaveWebhookEndpoint(ctx context.Context, supplierID, url string, rotate bool, e app.AuditEntry) (string, error) {
	owner := app.SupplierParty(supplierID)
	var secret string
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var before string
		err := tx.GetContext(ctx, &before, `SELECT url FROM webhook_endpoints WHERE supplier_id = $1 FOR UPDATE`, supplierID)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("db: webhook endpoint: %w", err)
		}
		if secret, err = setWebhookEndpoint(ctx, tx, s.cipher, owner, url, rotate); err != nil {
			return err
		}
		e.Action, e.ObjectType, e.ObjectID = "webhook_endpoint.save", "supplier", supplierID
		if before != "" {
			e.Before = map[string]string{"url": before}
		}
		e.After = map[string]any{"url": url, "secret_rotated": rotate && before != ""}
		return writeAudit(ctx, tx, e)
	})
	return secret, err
}

// RemoveWebhookEndpoint deletes supplierID's endpoint (ENOTFOUND when there
// is none) with its audit entry.
func (s *Store) RemoveWebhookEndpoint(ctx context.Context, supplierID string, e app.AuditEntry) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := deleteWebhookEndpoint(ctx, tx, app.SupplierParty(supplierID)); err != nil {
			return err
		}
		e.Action, e.ObjectType, e.ObjectID = "webhook_endpoint.remove", "supplier", supplierID
		return writeAudit(ctx, tx, e)
	})
}

// SendTestWebhook queues a webhook.test event to supplierID's endpoint and
// returns its delivery; ENOTFOUND when no endpoint is registered.
func (s *Store) SendTestWebhook(ctx context.Context, supplierID string, e app.AuditEntry) (app.WebhookDelivery, error) {
	var d app.WebhookDelivery
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var n int
		if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM webhook_endpoints WHERE supplier_id = $1`, supplierID); err != nil {
			return fmt.Errorf("db: webhook endpoint: %w", err)
		}
		if n == 0 {
			return app.Errorf(app.ENOTFOUND, "No webhook endpoint is registered.")
		}
		if err := enqueueWebhook(ctx, tx, app.SupplierParty(supplierID), app.EventWebhookTest,
			app.TestWebhookData{SupplierID: supplierID, Message: "A test event sent from the developer dashboard."}); err != nil {
			return err
		}
		if err := tx.GetContext(ctx, &d, `SELECT `+deliveryCols+` FROM webhook_deliveries
			WHERE endpoint_id = (SELECT id FROM webhook_endpoints WHERE supplier_id = $1) AND event_type = $2
			ORDER BY created_at DESC, id LIMIT 1`, supplierID, app.EventWebhookTest); err != nil {
			return fmt.Errorf("db: test webhook: %w", err)
		}
		e.Action, e.ObjectType, e.ObjectID = "webhook.test", "webhook_delivery", d.ID
		e.After = map[string]string{"supplier_id": supplierID}
		return writeAudit(ctx, tx, e)
	})
	return d, err
}

// ResendWebhookDelivery replays one of supplierID's deliveries (ENOTFOUND
// for another supplier's) with its audit entry, and returns the new delivery.
func (s *Store) ResendWebhookDelivery(ctx context.Context, supplierID, id string, e app.AuditEntry) (app.WebhookDelivery, error) {
	owner := app.SupplierParty(supplierID)
	d, err := s.ReplayWebhookDelivery(ctx, &owner, id)
	if err != nil {
		return d, err
	}
	e.Action, e.ObjectType, e.ObjectID = "webhook.replay", "webhook_delivery", id
	e.After = map[string]string{"delivery_id": d.ID, "event_type": d.EventType, "supplier_id": supplierID}
	return d, s.WriteAudit(ctx, e)
}
