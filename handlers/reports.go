package handlers

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"noxportal/app"
	"noxportal/db"
	"noxportal/handlers/htmx"
)

// reportQuery is a report request as it appears in the URL: the filters
// and the sort order of the two breakdown tables.
type reportQuery struct {
	Range      string // "7", "30", "90" or "custom"
	FromText   string
	ToText     string
	Filter     app.ReportFilter
	BrandSort  string // a column of app.BreakdownSorts, "-" first for descending
	SupplySort string
	Problem    string // a catalog key when the dates were not usable
	Today      string // the report time zone's date, YYYY-MM-DD
	// Team is a supplier team's own funnel: the device figures, which are
	// NOX-wide (devices belong to nox users, not to one supplier), are left out.
	Team bool
}

// values returns the query's URL parameters.
func (q reportQuery) values() url.Values {
	v := url.Values{}
	v.Set("range", q.Range)
	v.Set("from", q.FromText)
	v.Set("to", q.ToText)
	for k, val := range map[string]string{"supplier": q.Filter.SupplierID, "brand": q.Filter.Brand, "flow": q.Filter.Kind,
		"language": q.Filter.Language, "bsort": q.BrandSort, "ssort": q.SupplySort} {
		if val != "" {
			v.Set(k, val)
		}
	}
	return v
}

// with returns the query string with key set to value.
func (q reportQuery) with(key, value string) string {
	v := q.values()
	if value == "" {
		v.Del(key)
	} else {
		v.Set(key, value)
	}
	return v.Encode()
}

func validSort(s string) string {
	for _, col := range app.BreakdownSorts {
		if s == col || s == "-"+col {
			return s
		}
	}
	return ""
}

// parseReportQuery reads the filters from the URL (the period as
// app.ResolveReportRange decides it, today being the report time zone's).
func (h *Handler) parseReportQuery(c *fiber.Ctx) reportQuery {
	today := app.DayOf(h.now(), h.reportLoc)
	q := reportQuery{Today: today.Format("2006-01-02"), Range: c.Query("range", "30"), BrandSort: validSort(c.Query("bsort")), SupplySort: validSort(c.Query("ssort"))}
	q.Filter.SupplierID = c.Query("supplier")
	if app.IsTestSupplier(q.Filter.SupplierID) {
		// Test twins are in no NOX report; only their own team sees them.
		q.Filter.SupplierID = ""
	}
	if teamSupplier(c) != "" {
		// A supplier's team sees its own funnel and nothing else: the live
		// supplier's, or its test twin's in the dashboard's test view.
		q.Filter.SupplierID = devSupplier(c)
		q.Team = true
	}
	q.Filter.Brand = c.Query("brand")
	if k := c.Query("flow"); k == string(app.KindSupplierLink) || k == string(app.KindSupplierSelect) {
		q.Filter.Kind = k
	}
	if l := c.Query("language"); app.ValidLanguage(l) {
		q.Filter.Language = l
	}
	r := app.ResolveReportRange(q.Range, c.Query("from"), c.Query("to"), today)
	q.Range, q.Filter.From, q.Filter.To, q.Problem = r.Preset, r.From, r.To, r.Problem
	q.FromText, q.ToText = q.Filter.From.Format("2006-01-02"), q.Filter.To.Format("2006-01-02")
	return q
}

// onlyOption keeps the option whose value is v.
func onlyOption(in []app.ReportOption, v string) []app.ReportOption {
	for _, o := range in {
		if o.Value == v {
			return []app.ReportOption{o}
		}
	}
	return nil
}

// onlyOptionName is the name of the option whose value is v (v itself when
// there is none).
func onlyOptionName(in []app.ReportOption, v string) string {
	if o := onlyOption(in, v); len(o) == 1 {
		return o[0].Name
	}
	return v
}

// reportData is everything the report page shows.
type reportData struct {
	Funnel    app.FunnelReport
	Brands    []app.BreakdownRow
	Suppliers []app.BreakdownRow
	Trend     []app.TrendPoint
	Devices   []app.DevicePoint
}

func loadReport(ctx context.Context, s *db.Store, q reportQuery) (reportData, error) {
	f := q.Filter
	var d reportData
	var err error
	if d.Funnel, err = s.ReportFunnel(ctx, f); err != nil {
		return d, err
	}
	if d.Brands, err = s.ReportBreakdown(ctx, f, db.ByBrand); err != nil {
		return d, err
	}
	if d.Suppliers, err = s.ReportBreakdown(ctx, f, db.BySupplier); err != nil {
		return d, err
	}
	if d.Trend, err = s.ReportTrend(ctx, f); err != nil {
		return d, err
	}
	if !q.Team {
		d.Devices, err = s.ReportDevices(ctx, f)
	}
	return d, err
}

// showReports renders the connection report for the filters in the URL;
// an HTMX request gets the report without the page around it.
func (h *Handler) showReports(c *fiber.Ctx) error {
	lang := pageLang(c)
	q := h.parseReportQuery(c)
	ctx := c.UserContext()
	var d reportData
	var suppliers, brands []app.ReportOption
	var asked []db.BrandRequestRow
	if err := h.read(c, func(s *db.Store) (err error) {
		if d, err = loadReport(ctx, s, q); err != nil {
			return err
		}
		if asked, err = s.ReportBrandRequests(ctx, q.Filter, h.reportLoc.String()); err != nil {
			return err
		}
		suppliers, brands, err = s.ReportOptions(ctx)
		return err
	}); err != nil {
		return err
	}
	testMode := teamSupplier(c) != "" && app.IsTestSupplier(q.Filter.SupplierID)
	switch {
	case testMode:
		suppliers = []app.ReportOption{{Value: q.Filter.SupplierID,
			Name: h.tr.T(lang, "developers.mode.report_supplier", onlyOptionName(suppliers, app.LiveSupplierID(q.Filter.SupplierID)))}}
	case teamSupplier(c) != "":
		suppliers = onlyOption(suppliers, q.Filter.SupplierID)
	}
	v := reportView{h: h, lang: lang, q: q}
	data := fiber.Map{
		"Lang":      lang,
		"Title":     h.tr.T(lang, "reports.title"),
		"Q":         q,
		"Query":     q.values().Encode(),
		"Problem":   q.Problem,
		"Presets":   v.presets(),
		"Suppliers": v.options(suppliers, q.Filter.SupplierID),
		"Brands":    v.options(brands, q.Filter.Brand),
		"Flows": v.options([]app.ReportOption{
			{Value: string(app.KindSupplierLink), Name: h.tr.T(lang, "reports.flow.supplier_link")},
			{Value: string(app.KindSupplierSelect), Name: h.tr.T(lang, "reports.flow.supplier_select")}}, q.Filter.Kind),
		"LangOpts":  v.languageOptions(),
		"Period":    v.period(),
		"Weekly":    q.Filter.Weekly(),
		"KPIs":      v.kpis(d),
		"Funnel":    v.funnelSteps(d.Funnel),
		"Failures":  v.failures(d.Funnel),
		"BrandRows": v.breakdown(d.Brands, "brand"),
		"BrandHead": v.heads("bsort", q.BrandSort),
		"SupRows":   v.breakdown(d.Suppliers, "supplier"),
		"SupHead":   v.heads("ssort", q.SupplySort),
		"TrendRows": v.trendRows(d.Trend),
		"DevRows":   v.deviceRows(d.Devices),
		"Charts": fiber.Map{
			"Funnel":   v.funnelChart(d.Funnel),
			"Failures": v.failureChart(d.Funnel),
			"Trend":    v.trendChart(d.Trend),
			"Devices":  v.devicesChart(d.Devices),
			"Relinks":  v.relinkChart(d.Devices),
		},
		"Freshness": h.freshness(c, lang),
		"Empty":     d.Funnel.Created == 0,
		"TestMode":  testMode,
		"Export":    v.exportURLs(),
		"Asked":     asked,
	}
	// The address bar names exactly the report on screen, whatever stale
	// dates the form sent, so a reload or a shared link shows these numbers.
	c.Set(htmx.HeaderPushURL, "/reports?"+q.values().Encode())
	return h.renderPortal(c, "pages/reports/index", data, "partials/reports_body")
}

// reportView turns report data into what the templates show, in one language.
type reportView struct {
	h    *Handler
	lang string
	q    reportQuery
}

func (v reportView) t(key string, args ...any) string { return v.h.tr.T(v.lang, key, args...) }

type option struct {
	Value, Name string
	Selected    bool
}

func (v reportView) options(in []app.ReportOption, current string) []option {
	out := make([]option, 0, len(in))
	for _, o := range in {
		out = append(out, option{Value: o.Value, Name: o.Name, Selected: o.Value == current})
	}
	return out
}

func (v reportView) presets() []option {
	var out []option
	for _, n := range app.ReportPresets {
		s := strconv.Itoa(n)
		out = append(out, option{Value: s, Name: v.t("reports.range.days", n), Selected: v.q.Range == s})
	}
	return append(out, option{Value: "custom", Name: v.t("reports.range.custom"), Selected: v.q.Range == "custom"})
}

func (v reportView) languageOptions() []option {
	var out []option
	for _, l := range app.Languages {
		out = append(out, option{Value: l, Name: v.t("reports.language." + l), Selected: v.q.Filter.Language == l})
	}
	return out
}

func (v reportView) date(t time.Time) string {
	return v.t("reports.date", t.Day(), v.t("reports.month."+strconv.Itoa(int(t.Month()))), t.Year())
}

func (v reportView) shortDate(t time.Time) string {
	return v.t("reports.date_short", t.Day(), v.t("reports.month."+strconv.Itoa(int(t.Month()))))
}

func (v reportView) period() string {
	return v.t("reports.period", v.date(v.q.Filter.From), v.date(v.q.Filter.To), v.q.Filter.Days())
}

// num writes n with the language's digit grouping.
func (v reportView) num(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	sep := map[string]string{"en": ",", "nl": ".", "de": ".", "es": ".", "fr": "\u202f"}[v.lang]
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// pct writes a rate as a percentage with one decimal, in the language's style.
func (v reportView) pct(r float64) string {
	s := strconv.FormatFloat(r*100, 'f', 1, 64)
	if v.lang != "en" {
		s = strings.Replace(s, ".", ",", 1)
	}
	if v.lang == "fr" || v.lang == "de" {
		return s + "\u00a0%"
	}
	return s + "%"
}

func (v reportView) duration(d time.Duration, ok bool) string {
	if !ok {
		return "–"
	}
	return app.FormatDuration(d)
}

func (v reportView) reason(r string) string {
	key := "reports.reason." + r
	if s := v.t(key); s != key {
		return s
	}
	return r
}

func (v reportView) exportURLs() map[string]string {
	out := map[string]string{}
	for _, t := range reportTables {
		out[t] = "/reports/export/" + t + ".csv?" + v.q.values().Encode()
	}
	return out
}

type kpi struct {
	Label, Value, Note string
}

func (v reportView) kpis(d reportData) []kpi {
	var all app.ConnectHistogram
	for _, b := range d.Brands {
		for i, n := range b.Times {
			all.Add(i+1, n)
		}
	}
	med, ok := all.Quantile(0.5)
	active := int64(0)
	if len(d.Devices) > 0 {
		active = d.Devices[len(d.Devices)-1].Active
	}
	f := d.Funnel
	out := []kpi{
		{v.t("reports.kpi.sessions"), v.num(f.Created), v.t("reports.kpi.sessions_note", v.num(f.Pending))},
		{v.t("reports.kpi.connected"), v.num(f.Connected), v.t("reports.kpi.connected_note", v.num(f.FailedTotal()))},
		{v.t("reports.kpi.rate"), v.pct(app.Rate(f.Connected, f.Created)), v.t("reports.kpi.rate_note")},
		{v.t("reports.kpi.median"), v.duration(med, ok), v.t("reports.kpi.median_note")},
	}
	if v.q.Team {
		return out // the device count is NOX-wide, not the team's supplier's
	}
	return append(out, kpi{v.t("reports.kpi.devices"), v.num(active), v.t("reports.kpi.devices_note")})
}

type funnelStep struct {
	Key, Label, Count, OfCreated, OfPrevious string
	N                                        int64
}

func funnelCounts(f app.FunnelReport) []int64 {
	return []int64{f.Created, f.Opened, f.BrandSelected, f.Authorizing, f.Connected}
}

var funnelKeys = []string{"created", "opened", "brand_selected", "oauth_started", "connected"}

func (v reportView) funnelSteps(f app.FunnelReport) []funnelStep {
	counts := funnelCounts(f)
	var out []funnelStep
	for i, n := range counts {
		s := funnelStep{Key: funnelKeys[i], Label: v.t("reports.step." + funnelKeys[i]), Count: v.num(n), N: n,
			OfCreated: v.pct(app.Rate(n, f.Created))}
		if i > 0 {
			s.OfPrevious = v.pct(app.Rate(n, counts[i-1]))
		} else {
			s.OfPrevious = "–"
		}
		out = append(out, s)
	}
	return out
}

type failureLine struct {
	Reason, Label, Count, Share string
}

func (v reportView) failures(f app.FunnelReport) []failureLine {
	total := f.FailedTotal()
	var out []failureLine
	for _, r := range f.Failures {
		out = append(out, failureLine{Reason: r.Reason, Label: v.reason(r.Reason), Count: v.num(r.Sessions),
			Share: v.pct(app.Rate(r.Sessions, total))})
	}
	return out
}

type breakdownLine struct {
	Key, Name, Sessions, Connected, Rate, Median, P90, Failure, FailureCount string
	RateValue                                                                float64
}

func (v reportView) breakdown(rows []app.BreakdownRow, dim string) []breakdownLine {
	sortBy := v.q.BrandSort
	if dim == "supplier" {
		sortBy = v.q.SupplySort
	}
	if sortBy == "" {
		sortBy = "-sessions"
	}
	sorted := append([]app.BreakdownRow(nil), rows...)
	app.SortBreakdown(sorted, strings.TrimPrefix(sortBy, "-"), strings.HasPrefix(sortBy, "-"))
	var out []breakdownLine
	for _, r := range sorted {
		name := r.Name
		if r.Key == "" {
			name = v.t("reports.none." + dim)
		}
		l := breakdownLine{Key: r.Key, Name: name, Sessions: v.num(r.Sessions), Connected: v.num(r.Connected),
			Rate: v.pct(r.SuccessRate()), RateValue: r.SuccessRate(), Median: v.duration(r.Median()), P90: v.duration(r.P90())}
		if top := r.TopFailure(); top.Reason != "" {
			l.Failure, l.FailureCount = v.reason(top.Reason), v.num(top.Sessions)
		} else {
			l.Failure = "–"
		}
		out = append(out, l)
	}
	return out
}

type columnHead struct {
	Label, Href, Sort, Numeric string
	Current                    bool
}

// heads returns the sortable column headers of a breakdown table: each
// links to the report sorted by it, the current column toggling direction.
func (v reportView) heads(param, current string) []columnHead {
	if current == "" {
		current = "-sessions"
	}
	var out []columnHead
	for _, col := range app.BreakdownSorts {
		h := columnHead{Label: v.t("reports.col." + col), Numeric: "num"}
		if col == "name" {
			h.Numeric = ""
			h.Label = v.t("reports.col.name_" + param)
		}
		next := "-" + col
		if col == "name" {
			next = col
		}
		switch current {
		case col:
			h.Current, h.Sort, next = true, "ascending", "-"+col
		case "-" + col:
			h.Current, h.Sort, next = true, "descending", col
		}
		h.Href = "/reports?" + v.q.with(param, next)
		out = append(out, h)
	}
	return out
}

type trendLine struct {
	Label, Sessions, Connected, Rate string
}

func (v reportView) periodLabel(d time.Time) string {
	if v.q.Filter.Weekly() {
		return v.t("reports.week_of", v.shortDate(d))
	}
	return v.shortDate(d)
}

func (v reportView) trendRows(ps []app.TrendPoint) []trendLine {
	var out []trendLine
	for _, p := range ps {
		out = append(out, trendLine{Label: v.periodLabel(p.Day), Sessions: v.num(p.Sessions), Connected: v.num(p.Connected),
			Rate: v.pct(p.SuccessRate())})
	}
	return out
}

type deviceLine struct {
	Label, Active, Needed, Done string
}

func (v reportView) deviceRows(ps []app.DevicePoint) []deviceLine {
	var out []deviceLine
	for _, p := range ps {
		out = append(out, deviceLine{Label: v.periodLabel(p.Day), Active: v.num(p.Active), Needed: v.num(p.RelinkNeeded),
			Done: v.num(p.RelinkDone)})
	}
	return out
}
