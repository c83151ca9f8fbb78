package devdata

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"noxportal/app"
	"noxportal/db"
)

// DevSuppliers are the extra development suppliers the console demo data
// spreads its customers over (besides app.DevSupplierID).
var DevSuppliers = []app.Supplier{
	{ID: "supplier_greenvolt", Name: "GreenVolt Energie", RedirectURIs: []string{"https://greenvolt.example/nox/return", "http://127.0.0.1:3001/callback"}},
	{ID: "supplier_nordstrom", Name: "Nordstrom Power", RedirectURIs: []string{"https://nordstrom-power.example/link/done"}},
}

// seedConsoleDemo adds a few hundred customers with devices and link
// sessions of every outcome — connected, failed for each reason, expired,
// expired_after_auth, still open — across the dev suppliers and the brands
// in brands, so every console screen has something real to show. It runs
// once (it does nothing when the demo customers exist) and takes a few
// set-based statements, not one round trip per row.
func consoleDemo(ctx context.Context, s *db.Store, brands []string) error {
	if len(brands) == 0 {
		return nil
	}
	for _, sup := range DevSuppliers {
		if err := s.UpsertSupplier(ctx, sup); err != nil {
			return err
		}
	}
	var done bool
	if err := s.DB().GetContext(ctx, &done, `SELECT EXISTS (SELECT 1 FROM link_sessions WHERE id LIKE 'ls_seed_%')`); err != nil {
		return fmt.Errorf("db: seed check: %w", err)
	}
	if done {
		return nil
	}
	hash, err := app.HashPassword(app.DevPassword)
	if err != nil {
		return err
	}
	return s.InTx(ctx, func(tx *sqlx.Tx) error {
		stmts := []string{
			// 240 customers over three suppliers and the brands.
			`CREATE TEMP TABLE seed_c ON COMMIT DROP AS
			 SELECT g,
			        (ARRAY['supplier_demo', 'supplier_greenvolt', 'supplier_nordstrom'])[g % 3 + 1] AS sup,
			        CASE g % 3 WHEN 0 THEN 'cust-' || (1000 + g) WHEN 1 THEN 'GV-' || lpad(g::text, 6, '0')
			             ELSE 'ns_' || substr(md5('ns' || g), 1, 10) END AS suid,
			        'nox_seed' || substr(md5('nox' || g), 1, 16) AS nox,
			        CASE WHEN g % 50 = 1 THEN $1 ELSE ($2::text[])[(g / 3) % array_length($2::text[], 1) + 1] END AS brand,
			        now() - (g * interval '37 minutes') - interval '2 days' AS base
			 FROM generate_series(1, 240) g`,
			`INSERT INTO nox_users (id, created_at) SELECT nox, base FROM seed_c WHERE g % 6 <> 0`,
			`INSERT INTO supplier_mappings (supplier_id, supplier_user_id, nox_user_id, created_at)
			 SELECT sup, suid, nox, base + interval '2 minutes' FROM seed_c WHERE g % 6 <> 0`,
			// Devices: a few need a relink; customers 1, 51, 101, ... share one heat pump.
			`INSERT INTO devices (nox_user_id, manufacturer_id, external_id, name, model, status, connected_at, last_sync_at)
			 SELECT nox, brand,
			        CASE WHEN g % 50 = 1 THEN upper(split_part(brand, '-', 2)) || '-SHARED-0001' ELSE upper(split_part(brand, '-', 2)) || '-' || upper(substr(md5('dev' || g), 1, 8)) END,
			        (ARRAY['Living room', 'Garage', 'Hallway', 'Attic'])[g % 4 + 1], 'Model ' || (g % 5 + 1),
			        CASE WHEN g % 7 = 0 THEN 'relink_required' ELSE 'connected' END,
			        base + interval '2 minutes', now() - (g % 90) * interval '1 minute'
			 FROM seed_c WHERE g % 6 <> 0`,
			// Link sessions: one per outcome a customer went through.
			`CREATE TEMP TABLE seed_s ON COMMIT DROP AS
			 SELECT 'ls_seed_c' || g AS id, g, sup, suid, nox, brand, 'connected' AS outcome, '' AS reason, base AS at, 'api' AS initiator
			   FROM seed_c WHERE g % 6 <> 0
			 UNION ALL
			 SELECT 'ls_seed_f' || g, g, sup, suid, NULL, brand, 'failed',
			        (ARRAY['access_denied', 'manufacturer_error', 'no_devices', 'cancelled', 'manufacturer_unavailable'])[(g / 4) % 5 + 1],
			        now() - (g * interval '23 minutes'), (ARRAY['api', 'customer'])[g % 2 + 1]
			   FROM seed_c WHERE g % 4 = 0
			 UNION ALL
			 SELECT 'ls_seed_e' || g, g, sup, suid, NULL, brand, 'expired', 'expired', now() - (g * interval '19 minutes'), 'api'
			   FROM seed_c WHERE g % 5 = 0
			 UNION ALL
			 SELECT 'ls_seed_a' || g, g, sup, suid, NULL, brand, 'expired', 'expired_after_auth', now() - (g * interval '29 minutes'), 'api'
			   FROM seed_c WHERE g % 9 = 0
			 UNION ALL
			 SELECT 'ls_seed_o' || g, g, sup, suid, NULL, brand, 'open', '', now() - (g % 10) * interval '1 minute', 'api'
			   FROM seed_c WHERE g % 40 = 7`,
			`INSERT INTO link_sessions (id, token_hash, kind, supplier_id, supplier_user_id, redirect_uri, language, initiator,
			        status, failure_reason, manufacturer_id, brand_preselected, nox_user_id, created_at, opened_at,
			        brand_selected_at, authorizing_at, callback_at, finished_at, expires_at)
			 SELECT x.id, sha256(convert_to('seed:' || x.id, 'UTF8')), 'supplier_link', x.sup, x.suid,
			        (SELECT uri FROM supplier_redirect_uris u WHERE u.supplier_id = x.sup ORDER BY position, uri LIMIT 1),
			        (ARRAY['en', 'nl', 'de', 'fr', 'es'])[x.g % 5 + 1], x.initiator,
			        CASE x.outcome WHEN 'open' THEN 'opened' ELSE x.outcome END, NULLIF(x.reason, ''),
			        CASE WHEN x.reason IN ('cancelled', 'manufacturer_unavailable') AND x.g % 8 <> 0 THEN NULL
			             WHEN x.outcome IN ('open') OR (x.reason = 'expired') THEN NULL ELSE x.brand END,
			        false, x.nox, x.at, x.at + interval '20 seconds',
			        CASE WHEN x.outcome = 'connected' OR x.reason IN ('access_denied', 'manufacturer_error', 'no_devices', 'expired_after_auth') THEN x.at + interval '40 seconds' END,
			        CASE WHEN x.outcome = 'connected' OR x.reason IN ('access_denied', 'manufacturer_error', 'no_devices', 'expired_after_auth') THEN x.at + interval '40 seconds' END,
			        CASE WHEN x.outcome = 'connected' OR x.reason IN ('access_denied', 'manufacturer_error', 'no_devices', 'expired_after_auth') THEN x.at + interval '90 seconds' END,
			        CASE x.outcome WHEN 'open' THEN NULL WHEN 'connected' THEN x.at + interval '95 seconds'
			             WHEN 'expired' THEN x.at + interval '15 minutes' ELSE x.at + interval '2 minutes' END,
			        CASE x.outcome WHEN 'open' THEN now() + interval '10 minutes' ELSE x.at + interval '15 minutes' END
			 FROM seed_s x`,
			`INSERT INTO link_events (session_id, type, detail, created_at)
			 SELECT l.id, e.type, e.detail, l.created_at + (e.n - 1) * interval '20 seconds'
			 FROM link_sessions l
			 CROSS JOIN LATERAL unnest(
			   CASE WHEN l.status = 'connected' THEN ARRAY['created', 'opened', 'brand_selected', 'oauth_started', 'callback', 'connected']
			        WHEN l.failure_reason = 'expired_after_auth' THEN ARRAY['created', 'opened', 'brand_selected', 'oauth_started', 'callback', 'expired']
			        WHEN l.status = 'expired' THEN ARRAY['created', 'opened', 'expired']
			        WHEN l.authorizing_at IS NOT NULL THEN ARRAY['created', 'opened', 'brand_selected', 'oauth_started', 'callback', 'failed']
			        WHEN l.status = 'failed' THEN ARRAY['created', 'opened', 'failed']
			        ELSE ARRAY['created', 'opened'] END,
			   CASE WHEN l.status = 'connected' THEN ARRAY[l.initiator, '', l.manufacturer_id, l.manufacturer_id, 'granted', '1 device(s)']
			        WHEN l.failure_reason = 'expired_after_auth' THEN ARRAY[l.initiator, '', l.manufacturer_id, l.manufacturer_id, 'granted', 'expired_after_auth']
			        WHEN l.status = 'expired' THEN ARRAY[l.initiator, '', 'deadline passed']
			        WHEN l.authorizing_at IS NOT NULL THEN ARRAY[l.initiator, '', l.manufacturer_id, l.manufacturer_id,
			             CASE l.failure_reason WHEN 'access_denied' THEN 'not granted' ELSE 'granted' END, l.failure_reason]
			        WHEN l.status = 'failed' THEN ARRAY[l.initiator, '', l.failure_reason]
			        ELSE ARRAY[l.initiator, ''] END
			 ) WITH ORDINALITY AS e(type, detail, n)
			 WHERE l.id LIKE 'ls_seed_%'`,
			// Some supplier customers have a portal account with an email.
			`INSERT INTO portal_users (email, name, role, password_hash, supplier_id, supplier_user_id)
			 SELECT lower((ARRAY['anna', 'bram', 'chloe', 'dirk', 'elena', 'felix', 'greta', 'hugo'])[g % 8 + 1] || '.' ||
			        (ARRAY['jansen', 'mueller', 'dubois', 'garcia', 'devries', 'schmidt'])[g % 6 + 1] || g || '@example.com'),
			        '', 'customer', $1, sup, suid
			 FROM seed_c WHERE g % 4 = 1
			 ON CONFLICT DO NOTHING`,
		}
		for i, q := range stmts {
			var args []any
			switch i {
			case 0:
				args = []any{brands[0], pq.Array(brands)}
			case len(stmts) - 1:
				args = []any{hash}
			}
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("db: seed console demo (%d): %w", i, err)
			}
		}
		var grants []struct {
			Nox   string `db:"nox"`
			Brand string `db:"brand"`
			G     int    `db:"g"`
		}
		if err := tx.SelectContext(ctx, &grants, `SELECT nox, brand, g FROM seed_c WHERE g % 6 <> 0`); err != nil {
			return fmt.Errorf("db: seed grants: %w", err)
		}
		var nox, brand []string
		var tokens [][]byte
		var hours []int
		for _, gr := range grants {
			nox, brand = append(nox, gr.Nox), append(brand, gr.Brand)
			tokens = append(tokens, s.Cipher().Seal([]byte("seed-access-token"), []byte("grant:"+gr.Nox+":"+gr.Brand)))
			// Every fifth token has expired and was not refreshed.
			hours = append(hours, map[bool]int{true: -(gr.G % 48) - 1, false: gr.G%20 + 1}[gr.G%5 == 0])
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO manufacturer_grants (nox_user_id, manufacturer_id, access_token_enc, token_expires_at, updated_at)
			SELECT n, b, t, now() + h * interval '1 hour', now() - interval '1 hour' + h * interval '1 minute'
			FROM unnest($1::text[], $2::text[], $3::bytea[], $4::int[]) AS x(n, b, t, h)`,
			pq.Array(nox), pq.Array(brand), pq.Array(tokens), pq.Array(hours)); err != nil {
			return fmt.Errorf("db: seed grants: %w", err)
		}
		// Webhook endpoints for the two extra suppliers, and the
		// device.relink_required events of their customers' devices.
		for _, sup := range DevSuppliers {
			if _, err := db.TxSetSupplierWebhook(ctx, tx, s.Cipher(), sup.ID, "https://"+strings.TrimPrefix(sup.ID, "supplier_")+".example/nox/webhooks"); err != nil {
				return err
			}
		}
		var relink []app.Device
		if err := tx.SelectContext(ctx, &relink, `
			SELECT d.id, d.nox_user_id, d.manufacturer_id, d.external_id, d.name, d.model, d.status, d.connected_at, d.last_sync_at
			FROM devices d JOIN seed_c c ON c.nox = d.nox_user_id WHERE d.status = 'relink_required' ORDER BY d.id`); err != nil {
			return fmt.Errorf("db: seed relink devices: %w", err)
		}
		for _, d := range relink {
			if err := db.TxEmitDeviceRelinkRequired(ctx, tx, d); err != nil {
				return err
			}
		}
		return nil
	})
}
