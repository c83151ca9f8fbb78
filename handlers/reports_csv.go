package handlers

import (
	"bufio"
	"encoding/csv"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"noxportal/app"
	"noxportal/db"
)

// csvSafe neutralises a cell a spreadsheet would run as a formula (one
// starting with =, +, -, @, tab or carriage return) by prefixing a quote.
func csvSafe(cell string) string {
	if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
		return "'" + cell
	}
	return cell
}

// reportTables are the tables a report exports as CSV.
var reportTables = []string{"funnel", "failures", "brands", "suppliers", "trend", "devices", "asked"}

// exportReport streams one report table as CSV with the filters in the URL
// applied; rows are written as they are formatted, not buffered as a file.
func (h *Handler) exportReport(c *fiber.Ctx) error {
	table := c.Params("table")
	known := false
	for _, t := range reportTables {
		known = known || t == table
	}
	if !known {
		return app.Errorf(app.ENOTFOUND, "No report table %q.", table)
	}
	lang := pageLang(c)
	q := h.parseReportQuery(c)
	if q.Problem != "" {
		return app.ReasonErrorf(app.EINVALID, "invalid_range", "%s", h.tr.T(lang, q.Problem))
	}
	var header []string
	var n int
	var row func(int) []string
	if err := h.read(c, func(s *db.Store) (err error) {
		header, n, row, err = reportCSV(c, s, table, q, reportView{h: h, lang: lang, q: q})
		return err
	}); err != nil {
		return err
	}
	name := "noxportal-" + table + "-" + q.FromText + "-" + q.ToText + ".csv"
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		cw := csv.NewWriter(w)
		for i := -1; i < n; i++ {
			cells := header
			if i >= 0 {
				cells = row(i)
			}
			for j := range cells {
				cells[j] = csvSafe(cells[j])
			}
			if cw.Write(cells) != nil {
				return
			}
			if i%500 == 499 {
				cw.Flush()
				if w.Flush() != nil {
					return
				}
			}
		}
		cw.Flush()
	})
	return nil
}

// reportCSV queries one table and returns its header, its number of rows
// and a function formatting row i. Numbers are plain (rates as fractions,
// times in seconds).
func reportCSV(c *fiber.Ctx, s *db.Store, table string, q reportQuery, v reportView) (header []string, n int, row func(int) []string, err error) {
	ctx := c.UserContext()
	f := q.Filter
	i64 := func(n int64) string { return strconv.FormatInt(n, 10) }
	rate := func(r float64) string { return strconv.FormatFloat(r, 'f', 4, 64) }
	secs := func(d time.Duration, ok bool) string {
		if !ok {
			return ""
		}
		return strconv.FormatInt(int64(d.Seconds()), 10)
	}
	head := func(keys ...string) {
		for _, k := range keys {
			header = append(header, v.t("reports.csv."+k))
		}
	}
	switch table {
	case "asked":
		rows, err := s.ReportBrandRequests(ctx, f, v.h.reportLoc.String())
		if err != nil {
			return nil, 0, nil, err
		}
		head("supplier", "id", "brand", "requests")
		return header, len(rows), func(i int) []string {
			r := rows[i]
			name := r.SupplierName
			if r.SupplierID == "" {
				name = v.t("reports.asked.own_dashboard")
			}
			return []string{name, r.SupplierID, r.Brand, i64(r.Count)}
		}, nil
	case "funnel", "failures":
		fr, err := s.ReportFunnel(ctx, f)
		if err != nil {
			return nil, 0, nil, err
		}
		if table == "funnel" {
			head("step", "sessions", "of_created", "of_previous")
			counts := funnelCounts(fr)
			return header, len(counts), func(i int) []string {
				prev := ""
				if i > 0 {
					prev = rate(app.Rate(counts[i], counts[i-1]))
				}
				return []string{v.t("reports.step." + funnelKeys[i]), i64(counts[i]), rate(app.Rate(counts[i], fr.Created)), prev}
			}, nil
		} else {
			head("reason", "code", "sessions", "share")
			return header, len(fr.Failures), func(i int) []string {
				r := fr.Failures[i]
				return []string{v.reason(r.Reason), r.Reason, i64(r.Sessions), rate(app.Rate(r.Sessions, fr.FailedTotal()))}
			}, nil
		}
	case "brands", "suppliers":
		by, sortBy, dim := db.ByBrand, q.BrandSort, "brand"
		if table == "suppliers" {
			by, sortBy, dim = db.BySupplier, q.SupplySort, "supplier"
		}
		rows, err := s.ReportBreakdown(ctx, f, by)
		if err != nil {
			return nil, 0, nil, err
		}
		if sortBy == "" {
			sortBy = "-sessions"
		}
		app.SortBreakdown(rows, strings.TrimPrefix(sortBy, "-"), strings.HasPrefix(sortBy, "-"))
		head(dim, "id", "sessions", "connected", "success_rate", "median_seconds", "p90_seconds", "top_failure", "top_failure_sessions")
		return header, len(rows), func(i int) []string {
			r := rows[i]
			name := r.Name
			if r.Key == "" {
				name = v.t("reports.none." + dim)
			}
			top := r.TopFailure()
			return []string{name, r.Key, i64(r.Sessions), i64(r.Connected), rate(r.SuccessRate()),
				secs(r.Median()), secs(r.P90()), top.Reason, i64(top.Sessions)}
		}, nil
	case "trend":
		ps, err := s.ReportTrend(ctx, f)
		if err != nil {
			return nil, 0, nil, err
		}
		head("period_start", "sessions", "connected", "success_rate")
		return header, len(ps), func(i int) []string {
			p := ps[i]
			return []string{p.Day.Format("2006-01-02"), i64(p.Sessions), i64(p.Connected), rate(p.SuccessRate())}
		}, nil
	case "devices":
		if q.Team {
			break // NOX-wide figures, not a supplier's own
		}
		ps, err := s.ReportDevices(ctx, f)
		if err != nil {
			return nil, 0, nil, err
		}
		head("period_start", "active_devices", "relinks_needed", "relinks_done")
		return header, len(ps), func(i int) []string {
			p := ps[i]
			return []string{p.Day.Format("2006-01-02"), i64(p.Active), i64(p.RelinkNeeded), i64(p.RelinkDone)}
		}, nil
	}
	return nil, 0, nil, app.Errorf(app.ENOTFOUND, "No report table %q.", table)
}
