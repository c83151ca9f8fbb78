package devdata

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"noxportal/app"
	"noxportal/db"
)

// DevReportSuppliers are the extra development suppliers the seeded report
// history is spread over, beside the demo supplier.
var DevReportSuppliers = []app.Supplier{
	{ID: "supplier_greenwatt", Name: "Greenwatt Energie", RedirectURIs: []string{"https://greenwatt.example/nox/return"}},
	{ID: "supplier_voltanova", Name: "Voltanova", RedirectURIs: []string{"https://voltanova.example/connect/done"}},
}

// SeedReportHistory gives a development database (after SeedDev) 90 days of link sessions
// (about 23,000: three suppliers, every configured brand, five languages,
// both flows, every outcome, a growing volume with quieter weekends and a
// success rate that improves over time), the nox users, mappings and
// devices of the connected ones and their device history, counted in the
// report rollups. The 90 days end on now's day in the report time zone. It
// runs once: a database that has the history is left alone (seeded=false).
func ReportHistory(ctx context.Context, s *db.Store, now time.Time) (seeded bool, err error) {
	for _, sup := range DevReportSuppliers {
		if err := s.UpsertSupplier(ctx, sup); err != nil {
			return false, err
		}
	}
	err = s.InTx(ctx, func(tx *sqlx.Tx) error {
		// One seeder at a time; the second finds the history there.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('noxportal.seed_report_history'))`); err != nil {
			return fmt.Errorf("db: seed lock: %w", err)
		}
		var done bool
		if err := tx.GetContext(ctx, &done, `SELECT EXISTS (SELECT 1 FROM link_sessions WHERE id = 'ls_seed_1')`); err != nil {
			return fmt.Errorf("db: seed check: %w", err)
		}
		var brands int
		if err := tx.GetContext(ctx, &brands, `SELECT count(*) FROM manufacturers`); err != nil {
			return fmt.Errorf("db: seed brands: %w", err)
		}
		if done || brands == 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `SELECT set_config('noxportal.seed_now', $1, true)`, now.UTC().Format(time.RFC3339Nano)); err != nil {
			return fmt.Errorf("db: seed clock: %w", err)
		}
		for i, q := range seedHistorySQL {
			var args []any
			if strings.Contains(q, "$1") {
				args = append(args, app.DevSupplierID)
			}
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("db: seed report history (step %d): %w", i+1, err)
			}
		}
		seeded = true
		return nil
	})
	return seeded, err
}

// seedHistorySQL builds the history in a temporary table, then inserts it;
// $1 is the demo supplier's id.
var seedHistorySQL = []string{
	`SET LOCAL noxportal.skip_report_rollups = 'on'`,
	`SELECT setseed(0.4242)`,
	// One row per session with its dice.
	`CREATE TEMP TABLE seed_sessions ON COMMIT DROP AS
	WITH z AS (SELECT timezone AS tz, (current_setting('noxportal.seed_now')::timestamptz AT TIME ZONE timezone)::date AS today FROM report_settings),
	days AS (
		SELECT g AS ago, z.today - g AS day, z.tz,
			((220 + (89 - g) * 1.5) * CASE WHEN extract(isodow FROM z.today - g) IN (6, 7) THEN 0.6 ELSE 1 END
				* (0.85 + random() * 0.3))::int AS volume
		FROM z, generate_series(0, 89) g
	),
	b AS (SELECT array_agg(id ORDER BY CASE kind WHEN 'heat_pump' THEN 0 WHEN 'thermostat' THEN 1 ELSE 2 END, id) AS ids FROM manufacturers)
	SELECT row_number() OVER () AS n, d.ago, d.day, d.tz, b.ids,
		random() AS r_time, random() AS r_sup, random() AS r_brand, random() AS r_lang, random() AS r_kind,
		random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5, random() AS r_dur, random() AS r_dev
	FROM days d, b, generate_series(1, d.volume) i
`,
	`CREATE TEMP TABLE seed_plan ON COMMIT DROP AS
	WITH s AS (
		SELECT n, ago, day, r5, r_dur, r_dev,
			least(((day + time '07:00') + r_time * interval '15 hours') AT TIME ZONE tz, current_setting('noxportal.seed_now')::timestamptz - interval '20 minutes' - r_time * interval '2 hours') AS created_at,
			CASE WHEN r_sup < 0.55 THEN $1 WHEN r_sup < 0.85 THEN 'supplier_greenwatt' ELSE 'supplier_voltanova' END AS supplier_id,
			ids[1 + (CASE WHEN r_brand < 0.5 THEN 0 WHEN r_brand < 0.8 THEN 1 ELSE 2 END) % cardinality(ids)] AS brand,
			CASE WHEN r_brand < 0.5 THEN 0.9 WHEN r_brand < 0.8 THEN 0.8 ELSE 0.68 END + 0.07 * (89 - ago) / 89.0 AS p_connect,
			CASE WHEN r_lang < 0.55 THEN 'nl' WHEN r_lang < 0.75 THEN 'en' WHEN r_lang < 0.87 THEN 'de' WHEN r_lang < 0.95 THEN 'fr' ELSE 'es' END AS language,
			CASE WHEN r_kind < 0.85 THEN 'supplier_link' ELSE 'supplier_select' END AS kind,
			r1 < 0.84 + 0.06 * (89 - ago) / 89.0 AS opened,
			r2 < 0.9 AS chose,
			r3 < 0.95 AS started,
			r4 AS r4
		FROM seed_sessions
	)
	SELECT *,
		CASE WHEN NOT opened THEN 'expired'
			WHEN NOT chose THEN CASE WHEN r5 < 0.6 THEN 'expired' ELSE 'failed' END
			WHEN NOT started THEN CASE WHEN r5 < 0.5 THEN 'failed' ELSE 'expired' END
			WHEN r4 < p_connect THEN 'connected'
			WHEN r5 < 0.15 THEN 'expired'
			ELSE 'failed' END AS status,
		CASE WHEN NOT opened THEN 'expired'
			WHEN NOT chose THEN CASE WHEN r5 < 0.6 THEN 'expired' ELSE 'cancelled' END
			WHEN NOT started THEN CASE WHEN r5 < 0.5 THEN 'manufacturer_unavailable' ELSE 'expired' END
			WHEN r4 < p_connect THEN NULL
			WHEN r5 < 0.15 THEN 'expired_after_auth'
			WHEN r5 < 0.6 THEN 'access_denied'
			WHEN r5 < 0.85 THEN 'manufacturer_error'
			ELSE 'no_devices' END AS failure_reason,
		created_at + interval '20 seconds' + r5 * interval '4 minutes' AS opened_at,
		created_at + interval '40 seconds' + r5 * interval '4 minutes' + r_dur * interval '40 seconds' AS brand_at,
		interval '25 seconds' + r_dur * r_dur * interval '7 minutes' AS auth_time
	FROM s`,
	`INSERT INTO nox_users (id, created_at)
	SELECT 'nox_seed_' || n, created_at FROM seed_plan WHERE status = 'connected'`,
	`INSERT INTO supplier_mappings (supplier_id, supplier_user_id, nox_user_id, created_at)
	SELECT supplier_id, 'seed_user_' || n, 'nox_seed_' || n, created_at FROM seed_plan WHERE status = 'connected'`,
	// The sessions are counted by the rollup triggers like any others (as
	// pending changes, folded within a second), so seeding never rebuilds
	// the rollups of a large database.
	`SET LOCAL noxportal.skip_report_rollups = 'off'`,
	`INSERT INTO link_sessions (id, token_hash, kind, supplier_id, supplier_user_id, redirect_uri, language, initiator,
		status, failure_reason, manufacturer_id, nox_user_id, created_at, opened_at, brand_selected_at, authorizing_at,
		callback_at, finished_at, expires_at, manufacturer_user_id)
	SELECT 'ls_seed_' || n, sha256(convert_to('ls_seed_' || n, 'UTF8')), kind, supplier_id, 'seed_user_' || n,
		'http://localhost:3000/callback', language, CASE WHEN kind = 'supplier_link' THEN 'api' ELSE 'manufacturer' END,
		status, failure_reason,
		CASE WHEN (opened AND chose) OR kind = 'supplier_select' THEN brand END,
		CASE WHEN status = 'connected' THEN 'nox_seed_' || n END,
		created_at,
		CASE WHEN opened THEN opened_at END,
		CASE WHEN opened AND chose THEN brand_at END,
		CASE WHEN opened AND chose AND started THEN brand_at + interval '1 second' END,
		CASE WHEN opened AND chose AND started AND (status = 'connected' OR failure_reason <> 'manufacturer_unavailable')
			THEN least(brand_at + auth_time, created_at + interval '15 minutes') END,
		CASE WHEN status = 'expired' THEN created_at + interval '15 minutes'
			WHEN status = 'connected' THEN least(brand_at + auth_time + interval '2 seconds', created_at + interval '15 minutes')
			WHEN opened AND chose AND started THEN least(brand_at + auth_time + interval '1 second', created_at + interval '15 minutes')
			ELSE opened_at + interval '30 seconds' END,
		created_at + interval '15 minutes',
		CASE WHEN kind = 'supplier_select' THEN 'seed_mfr_user_' || n ELSE '' END
	FROM seed_plan`,
	// Devices of the connected sessions: most still connected, some
	// waiting for a relink, a few disconnected; some went through a relink
	// in the past. Their history is written to the device rollup directly
	// (the trigger would only see today's state).
	`SET LOCAL noxportal.skip_report_rollups = 'on'`,
	`CREATE TEMP TABLE seed_devices ON COMMIT DROP AS
	WITH d AS (
		SELECT n, brand, created_at + auth_time AS connected_at, r_dev, r_dur,
			((created_at + auth_time) AT TIME ZONE z.timezone)::date AS connected_day,
			(current_setting('noxportal.seed_now')::timestamptz AT TIME ZONE z.timezone)::date AS today,
			-- days until the device needs attention (mean 45)
			(-ln(1 - r5 * 0.999) * 45)::int AS life
		FROM seed_plan, report_settings z WHERE status = 'connected'
	)
	SELECT n, brand, connected_at, r_dev, connected_day + life AS event_day,
		connected_day + life + 1 + (r_dur * 4)::int AS relink_day,
		CASE WHEN connected_day + life > today OR r_dev >= 0.11 THEN 'connected'
			WHEN r_dev < 0.07 THEN 'relink_required' ELSE 'disconnected' END AS status,
		connected_day + life + 1 + (r_dur * 4)::int <= today AND r_dev >= 0.11 AND r_dev < 0.3 AS relinked_before
	FROM d`,
	`INSERT INTO devices (nox_user_id, manufacturer_id, external_id, name, model, status, connected_at, last_sync_at, updated_at)
	SELECT 'nox_seed_' || n, brand, 'seed-' || n, 'Device ' || n, 'Seed model', status, connected_at, connected_at, connected_at
	FROM seed_devices`,
	`INSERT INTO report_device_daily AS t (day, brand, activated, deactivated, relink_needed, relink_done)
	SELECT day, brand, sum(activated), sum(deactivated), sum(needed), sum(done) FROM (
		SELECT (connected_at AT TIME ZONE z.timezone)::date AS day, brand, 1 AS activated, 0 AS deactivated, 0 AS needed, 0 AS done
		FROM seed_devices, report_settings z
		UNION ALL
		SELECT event_day, brand, 0, 1, (status = 'relink_required')::int, 0 FROM seed_devices WHERE status <> 'connected'
		UNION ALL
		SELECT event_day, brand, 0, 1, 1, 0 FROM seed_devices WHERE relinked_before
		UNION ALL
		SELECT relink_day, brand, 1, 0, 0, 1 FROM seed_devices WHERE relinked_before
	) x
	GROUP BY day, brand
	ON CONFLICT (day, brand) DO UPDATE
	SET activated = t.activated + EXCLUDED.activated, deactivated = t.deactivated + EXCLUDED.deactivated,
		relink_needed = t.relink_needed + EXCLUDED.relink_needed, relink_done = t.relink_done + EXCLUDED.relink_done`,
}
