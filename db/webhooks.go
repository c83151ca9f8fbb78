package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"noxportal/app"
)

// ownerColumn returns the webhook_endpoints column that holds p's id.
func ownerColumn(p app.Party) (string, error) {
	switch p.Kind {
	case app.PartySupplier:
		return "supplier_id", nil
	case app.PartyManufacturer:
		return "manufacturer_id", nil
	}
	return "", app.Errorf(app.EINVALID, "%s cannot have a webhook endpoint", p.Kind)
}

func secretAAD(p app.Party) []byte { return []byte("whsec:" + p.Kind + ":" + p.ID) }

// SetWebhookEndpoint registers owner's endpoint URL (checked with
// app.ValidateWebhookURL). A new endpoint, or rotate=true, gets a fresh
// signing secret, which is returned (and stored encrypted); otherwise the
// secret is kept and "" returned.
func (s *Store) SetWebhookEndpoint(ctx context.Context, owner app.Party, url string, rotate bool) (string, error) {
	return setWebhookEndpoint(ctx, s.db, s.cipher, owner, url, rotate)
}

// setWebhookEndpoint is SetWebhookEndpoint on q (the store or a transaction).
func setWebhookEndpoint(ctx context.Context, q sqlx.QueryerContext, cipher *app.Cipher, owner app.Party, url string, rotate bool) (string, error) {
	col, err := ownerColumn(owner)
	if err != nil {
		return "", err
	}
	if err := app.ValidateWebhookURL(url); err != nil {
		return "", err
	}
	secret := app.NewWebhookSecret()
	var created bool
	err = sqlx.GetContext(ctx, q, &created, `
		INSERT INTO webhook_endpoints (`+col+`, url, secret_enc) VALUES ($1, $2, $3)
		ON CONFLICT (`+col+`) DO UPDATE SET url = EXCLUDED.url, updated_at = now(),
			secret_enc = CASE WHEN $4 THEN EXCLUDED.secret_enc ELSE webhook_endpoints.secret_enc END
		RETURNING (xmax = 0)`, owner.ID, url, cipher.Seal([]byte(secret), secretAAD(owner)), rotate)
	if err != nil {
		return "", fmt.Errorf("db: set webhook endpoint: %w", err)
	}
	if created || rotate {
		return secret, nil
	}
	return "", nil
}

// WebhookEndpoint returns owner's endpoint (without its secret), or ENOTFOUND.
func (s *Store) WebhookEndpoint(ctx context.Context, owner app.Party) (app.WebhookEndpoint, error) {
	col, err := ownerColumn(owner)
	if err != nil {
		return app.WebhookEndpoint{}, err
	}
	var row struct {
		ID           int64      `db:"id"`
		URL          string     `db:"url"`
		FailingSince *time.Time `db:"failing_since"`
		CreatedAt    time.Time  `db:"created_at"`
		UpdatedAt    time.Time  `db:"updated_at"`
	}
	err = s.db.GetContext(ctx, &row, `SELECT id, url, failing_since, created_at, updated_at
		FROM webhook_endpoints WHERE `+col+` = $1`, owner.ID)
	if err != nil {
		return app.WebhookEndpoint{}, fmt.Errorf("db: webhook endpoint: %w", notFound(err, "No webhook endpoint is registered."))
	}
	return app.WebhookEndpoint{ID: row.ID, Owner: owner, URL: row.URL, FailingSince: row.FailingSince,
		CreatedAt: row.CreatedAt, UpdatedAt: row.UpdatedAt}, nil
}

// DeleteWebhookEndpoint removes owner's endpoint and its pending deliveries.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, owner app.Party) error {
	return deleteWebhookEndpoint(ctx, s.db, owner)
}

// deleteWebhookEndpoint is DeleteWebhookEndpoint on q (the store or a transaction).
func deleteWebhookEndpoint(ctx context.Context, q sqlx.ExecerContext, owner app.Party) error {
	col, err := ownerColumn(owner)
	if err != nil {
		return err
	}
	res, err := q.ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE `+col+` = $1`, owner.ID)
	if err != nil {
		return fmt.Errorf("db: delete webhook endpoint: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return app.Errorf(app.ENOTFOUND, "No webhook endpoint is registered.")
	}
	return nil
}

// enqueueWebhook writes event typ with data to the outbox of party to, in
// the caller's transaction, so the event exists exactly when the change
// does. A party without an endpoint gets nothing.
func enqueueWebhook(ctx context.Context, tx *sqlx.Tx, to app.Party, typ string, data any) error {
	col, err := ownerColumn(to)
	if err != nil || to.ID == "" {
		return nil
	}
	ev := app.WebhookEvent{ID: "evt_" + app.RandomToken(24), Type: typ, CreatedAt: time.Now().Unix(), Data: data}
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("db: webhook body: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, body)
		SELECT $1, id, $2, $3, $4 FROM webhook_endpoints WHERE `+col+` = $5`,
		"whd_"+app.RandomToken(24), ev.ID, typ, body, to.ID); err != nil {
		return fmt.Errorf("db: enqueue webhook %s: %w", typ, err)
	}
	return nil
}

// ClaimWebhookDeliveries leases up to limit due deliveries for lease: rows
// locked by another worker are skipped, and a claimed row is not due again
// until its lease runs out, so a worker that dies mid-delivery loses
// nothing. Each claim counts as an attempt.
func (s *Store) ClaimWebhookDeliveries(ctx context.Context, limit int, lease time.Duration) ([]app.WebhookJob, error) {
	var rows []struct {
		ID        string  `db:"id"`
		EventType string  `db:"event_type"`
		Body      []byte  `db:"body"`
		URL       string  `db:"url"`
		SecretEnc []byte  `db:"secret_enc"`
		Supplier  *string `db:"supplier_id"`
		Mfr       *string `db:"manufacturer_id"`
		Attempts  int     `db:"attempts"`
	}
	err := s.db.SelectContext(ctx, &rows, `
		WITH due AS (
			SELECT id, created_at FROM webhook_deliveries
			WHERE status = 'pending' AND next_attempt_at <= now()
			ORDER BY next_attempt_at LIMIT $1
			FOR UPDATE SKIP LOCKED
		)
		UPDATE webhook_deliveries d
		SET attempts = d.attempts + 1, leased_until = now() + make_interval(secs => $2),
			next_attempt_at = now() + make_interval(secs => $2)
		FROM due, webhook_endpoints e
		WHERE d.id = due.id AND d.created_at = due.created_at AND e.id = d.endpoint_id
		RETURNING d.id, d.event_type, d.body, e.url, e.secret_enc, e.supplier_id, e.manufacturer_id, d.attempts`,
		limit, lease.Seconds())
	if err != nil {
		return nil, fmt.Errorf("db: claim webhooks: %w", err)
	}
	jobs := make([]app.WebhookJob, 0, len(rows))
	for _, r := range rows {
		owner := app.Party{Kind: app.PartySupplier}
		if r.Supplier != nil {
			owner.ID = *r.Supplier
		} else if r.Mfr != nil {
			owner = app.ManufacturerParty(*r.Mfr)
		}
		secret, err := s.cipher.Open(r.SecretEnc, secretAAD(owner))
		if err != nil {
			return nil, fmt.Errorf("db: webhook secret of %s: %w", owner, err)
		}
		jobs = append(jobs, app.WebhookJob{DeliveryID: r.ID, EventType: r.EventType, Body: r.Body, URL: r.URL,
			Secret: string(secret), Attempt: r.Attempts})
	}
	return jobs, nil
}

// FinishWebhookAttempt records an attempt in the delivery log and moves the
// delivery on: done, given up, or due again after r.RetryIn. It is a no-op
// when the attempt is no longer the delivery's latest claim (a late worker
// whose lease ran out). A success clears the endpoint's failing mark;
// exhausted retries set it.
func (s *Store) FinishWebhookAttempt(ctx context.Context, r app.WebhookResult) error {
	status := map[string]string{app.OutcomeSucceeded: app.DeliverySucceeded, app.OutcomeGaveUp: app.DeliveryFailed,
		app.OutcomeRetry: app.DeliveryPending}[r.Outcome]
	if status == "" {
		return fmt.Errorf("db: finish webhook: unknown outcome %q", r.Outcome)
	}
	var code *int
	if r.StatusCode != 0 {
		code = &r.StatusCode
	}
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		var d struct {
			EndpointID int64     `db:"endpoint_id"`
			CreatedAt  time.Time `db:"created_at"`
		}
		err := tx.GetContext(ctx, &d, `
			UPDATE webhook_deliveries SET status = $3, leased_until = NULL, last_code = $4, last_error = $5,
				next_attempt_at = CASE WHEN $3 = 'pending' THEN now() + make_interval(secs => $6) ELSE next_attempt_at END,
				finished_at = CASE WHEN $3 = 'pending' THEN NULL ELSE now() END
			WHERE id = $1 AND attempts = $2 AND status = 'pending'
			RETURNING endpoint_id, created_at`, r.DeliveryID, r.Attempt, status, code, r.Error, r.RetryIn.Seconds())
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		} else if err != nil {
			return fmt.Errorf("db: finish webhook: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO webhook_attempts (delivery_id, delivery_created_at, attempt, outcome, status_code, latency_ms, error, signature)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			r.DeliveryID, d.CreatedAt, r.Attempt, r.Outcome, code, r.Latency.Milliseconds(), r.Error, r.Signature); err != nil {
			return fmt.Errorf("db: log webhook attempt: %w", err)
		}
		switch {
		case r.Outcome == app.OutcomeSucceeded:
			_, err = tx.ExecContext(ctx, `UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL`, d.EndpointID)
		case r.EndpointFailing:
			_, err = tx.ExecContext(ctx, `UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, now()) WHERE id = $1`, d.EndpointID)
		}
		if err != nil {
			return fmt.Errorf("db: webhook endpoint health: %w", err)
		}
		return nil
	})
}

const deliveryCols = `id, endpoint_id, event_id, event_type, body, status, attempts, next_attempt_at, last_code,
	last_error, replay_of, created_at, finished_at`

// WebhookDeliveries returns owner's most recent deliveries (at most limit),
// newest first, each with its delivery log. With eventType set, only
// deliveries of that type.
func (s *Store) WebhookDeliveries(ctx context.Context, owner app.Party, eventType string, limit int) ([]app.WebhookDelivery, error) {
	col, err := ownerColumn(owner)
	if err != nil {
		return nil, err
	}
	var out []app.WebhookDelivery
	err = s.db.SelectContext(ctx, &out, `
		SELECT `+deliveryCols+` FROM webhook_deliveries
		WHERE endpoint_id = (SELECT id FROM webhook_endpoints WHERE `+col+` = $1) AND ($2 = '' OR event_type = $2)
		ORDER BY created_at DESC, id LIMIT $3`, owner.ID, eventType, limit)
	if err != nil {
		return nil, fmt.Errorf("db: webhook deliveries: %w", err)
	}
	for i := range out {
		if out[i].Log, err = s.webhookLog(ctx, out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// FindWebhookDeliveries returns one page of owner's deliveries matching f,
// newest first, each with its delivery log, and the cursor of the next page
// (nil on the last).
func (s *Store) FindWebhookDeliveries(ctx context.Context, owner app.Party, f app.DeliveryFilter, limit int) ([]app.WebhookDelivery, *app.DeliveryCursor, error) {
	col, err := ownerColumn(owner)
	if err != nil {
		return nil, nil, err
	}
	args := []any{owner.ID, f.EventType, f.Status}
	q := `SELECT ` + deliveryCols + ` FROM webhook_deliveries
		WHERE endpoint_id = (SELECT id FROM webhook_endpoints WHERE ` + col + ` = $1)
		  AND ($2 = '' OR event_type = $2) AND ($3 = '' OR status = $3)`
	if f.Before != nil {
		args = append(args, f.Before.CreatedAt, f.Before.ID)
		q += ` AND (created_at, id) < ($4, $5)`
	}
	args = append(args, limit+1)
	q += fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT $%d`, len(args))
	var out []app.WebhookDelivery
	if err := s.db.SelectContext(ctx, &out, q, args...); err != nil {
		return nil, nil, fmt.Errorf("db: find webhook deliveries: %w", err)
	}
	var next *app.DeliveryCursor
	if len(out) > limit {
		out = out[:limit]
		next = &app.DeliveryCursor{CreatedAt: out[limit-1].CreatedAt, ID: out[limit-1].ID}
	}
	for i := range out {
		if out[i].Log, err = s.webhookLog(ctx, out[i]); err != nil {
			return nil, nil, err
		}
	}
	return out, next, nil
}

// WebhookDelivery returns one delivery with its log. With owner set, a
// delivery to another party's endpoint is ENOTFOUND; the admin console
// passes nil.
func (s *Store) WebhookDelivery(ctx context.Context, owner *app.Party, id string) (app.WebhookDelivery, error) {
	var d app.WebhookDelivery
	q, args := `SELECT `+deliveryCols+` FROM webhook_deliveries WHERE id = $1`, []any{id}
	if owner != nil {
		col, err := ownerColumn(*owner)
		if err != nil {
			return d, err
		}
		q += ` AND endpoint_id = (SELECT id FROM webhook_endpoints WHERE ` + col + ` = $2)`
		args = append(args, owner.ID)
	}
	if err := s.db.GetContext(ctx, &d, q, args...); err != nil {
		return d, fmt.Errorf("db: webhook delivery: %w", notFound(err, "No webhook delivery %q.", id))
	}
	var err error
	d.Log, err = s.webhookLog(ctx, d)
	return d, err
}

// webhookLog returns d's attempts; they live in the month partition of d's
// creation, so the lookup reads one partition.
func (s *Store) webhookLog(ctx context.Context, d app.WebhookDelivery) ([]app.WebhookAttempt, error) {
	var out []app.WebhookAttempt
	if err := s.db.SelectContext(ctx, &out, `
		SELECT delivery_id, attempt, outcome, status_code, latency_ms, error, signature, created_at
		FROM webhook_attempts WHERE delivery_id = $1 AND delivery_created_at = $2 ORDER BY attempt`, d.ID, d.CreatedAt); err != nil {
		return nil, fmt.Errorf("db: webhook log: %w", err)
	}
	return out, nil
}

// ReplayWebhookDelivery sends one delivery again: a new delivery (its own
// id and log, replay_of pointing at the original) with the same event and
// body, due now, to the endpoint's current URL and secret. With owner set,
// only the owner's deliveries can be replayed (others are ENOTFOUND).
func (s *Store) ReplayWebhookDelivery(ctx context.Context, owner *app.Party, id string) (app.WebhookDelivery, error) {
	orig, err := s.WebhookDelivery(ctx, owner, id)
	if err != nil {
		return orig, err
	}
	var d app.WebhookDelivery
	err = s.db.GetContext(ctx, &d, `
		INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, body, replay_of)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+deliveryCols,
		"whd_"+app.RandomToken(24), orig.EndpointID, orig.EventID, orig.EventType, orig.Body, orig.ID)
	if err != nil {
		return d, fmt.Errorf("db: replay webhook: %w", err)
	}
	return d, nil
}
