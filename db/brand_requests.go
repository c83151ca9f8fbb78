package db

import (
	"context"
	"fmt"
	"strings"

	"noxportal/app"
)

// RecordBrandRequest stores a brand the user of a link said is missing
// from its brand page. The same brand twice from one link counts once.
func (s *Store) RecordBrandRequest(ctx context.Context, sess app.LinkSession, name string) error {
	key := strings.ToLower(strings.Join(strings.Fields(name), " "))
	var supplier *string
	if sess.SupplierID != "" {
		supplier = &sess.SupplierID
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO brand_requests (link_session_id, supplier_id, name, name_key, language)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (link_session_id, name_key) DO NOTHING`,
		sess.ID, supplier, name, key, sess.Language); err != nil {
		return fmt.Errorf("db: record brand request: %w", err)
	}
	return nil
}

// BrandRequestRow is how often a missing brand was asked for at one supplier.
type BrandRequestRow struct {
	SupplierID   string `db:"supplier_id"`
	SupplierName string `db:"supplier_name"`
	Brand        string `db:"brand"`
	Count        int64  `db:"n"`
}

// ReportBrandRequests counts the missing brands users named in the
// filter's days (calendar days in zone), by supplier, most asked first (at
// most 100 rows). The supplier and language filters apply; requests from
// links a customer started on their own dashboard have no supplier. Without
// a supplier filter, test twins' requests are left out; with one, only that
// supplier's (a test twin's own in its test-mode funnel).
func (s *Store) ReportBrandRequests(ctx context.Context, f app.ReportFilter, zone string) ([]BrandRequestRow, error) {
	out := []BrandRequestRow{}
	err := s.db.SelectContext(ctx, &out, `
		SELECT coalesce(r.supplier_id, '') AS supplier_id, coalesce(max(sp.name), '') AS supplier_name,
		       min(r.name) AS brand, count(*) AS n
		FROM brand_requests r LEFT JOIN suppliers sp ON sp.id = r.supplier_id
		WHERE r.created_at >= ($1::date)::timestamp AT TIME ZONE $3
		  AND r.created_at < ($2::date + 1)::timestamp AT TIME ZONE $3
		  AND ($4 = '' OR r.supplier_id = $4) AND ($5 = '' OR r.language = $5)
		  AND ($4 <> '' OR `+app.LiveSupplierSQL("r.supplier_id")+`)
		GROUP BY r.supplier_id, r.name_key
		ORDER BY n DESC, supplier_name, brand LIMIT 100`,
		f.From.Format("2006-01-02"), f.To.Format("2006-01-02"), zone, f.SupplierID, f.Language)
	if err != nil {
		return nil, fmt.Errorf("db: report brand requests: %w", err)
	}
	return out, nil
}
