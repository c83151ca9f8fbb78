package app

import (
	"fmt"
	"sort"
	"time"
)

// ConnectBuckets are the upper bounds, in seconds, of the time-to-connect
// histogram buckets (opened → connected) kept in the report rollups; bucket
// i (1-based) holds times in [ConnectBuckets[i-2], ConnectBuckets[i-1]), and
// the last bucket everything from one hour on. Keep in step with
// report_connect_bucket in migrations/00006_reports.sql.
var ConnectBuckets = []float64{15, 30, 45, 60, 90, 120, 150, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 3600}

// Report outcomes beside the failure reasons.
const (
	OutcomeConnected = "connected"
	OutcomePending   = "pending"
)

// Report range presets, in days.
var ReportPresets = []int{7, 30, 90}

// ReportMaxDays is the longest range a report covers.
const ReportMaxDays = 731

// ReportFilter selects the sessions a report covers: creation days From to
// To inclusive (in the report time zone) and, when not empty, one supplier,
// brand, flow (session kind) and language.
type ReportFilter struct {
	From       time.Time
	To         time.Time
	SupplierID string
	Brand      string
	Kind       string
	Language   string
}

// Days returns the number of days the filter covers.
func (f ReportFilter) Days() int { return int(f.To.Sub(f.From).Hours()/24+0.5) + 1 }

// Weekly reports whether the trend of this range is shown per week (ranges
// longer than 62 days) rather than per day.
func (f ReportFilter) Weekly() bool { return f.Days() > 62 }

// Validate returns EINVALID when the range is empty, reversed or too long.
func (f ReportFilter) Validate() error {
	if f.From.IsZero() || f.To.IsZero() || f.To.Before(f.From) {
		return ReasonErrorf(EINVALID, "invalid_range", "The start date must be on or before the end date.")
	}
	if f.Days() > ReportMaxDays {
		return ReasonErrorf(EINVALID, "invalid_range", "A report covers at most %d days.", ReportMaxDays)
	}
	return nil
}

// ReportRange is the period of a report as its URL names it: a preset
// ("7", "30", "90": the days ending today) or "custom", and the first and
// last day it covers in the report time zone.
type ReportRange struct {
	Preset   string
	From, To time.Time
	// Problem is a catalog key when the dates asked for were not usable
	// and the default range is shown instead.
	Problem string
}

// ResolveReportRange decides the period a report URL shows on the day
// today (midnight in the report time zone). A preset with dates that span
// exactly its length keeps those dates, so a link shared today shows the
// same days tomorrow (as "custom" once they no longer end today); a preset
// with dates of another length (left over from the previous choice) ends
// today. A custom range needs both dates; an unusable one falls back to
// the last 30 days with a Problem.
func ResolveReportRange(preset, from, to string, today time.Time) ReportRange {
	loc := today.Location()
	last := func(days int) ReportRange {
		return ReportRange{Preset: fmt.Sprint(days), From: today.AddDate(0, 0, -(days - 1)), To: today}
	}
	f, errFrom := ReportDate(from, loc)
	t, errTo := ReportDate(to, loc)
	for _, n := range ReportPresets {
		if preset != fmt.Sprint(n) {
			continue
		}
		if errFrom != nil || errTo != nil || t.After(today) || (ReportFilter{From: f, To: t}).Days() != n {
			return last(n)
		}
		if t.Equal(today) {
			return ReportRange{Preset: preset, From: f, To: t}
		}
		return ReportRange{Preset: "custom", From: f, To: t}
	}
	if preset != "custom" {
		return last(30)
	}
	r := ReportRange{Preset: "custom", From: f, To: t}
	if errFrom != nil || errTo != nil {
		r = last(30)
		r.Problem = "reports.error.date"
	} else if err := (ReportFilter{From: f, To: t}).Validate(); err != nil {
		r = last(30)
		r.Problem = "reports.error.range"
	}
	return r
}

// FunnelReport is the funnel of the sessions a filter selects: how many
// reached each step, and how the finished ones that did not connect failed.
type FunnelReport struct {
	Created       int64
	Opened        int64
	BrandSelected int64
	Authorizing   int64
	Connected     int64
	Pending       int64
	// Failures counts failed and expired sessions by reason, most first.
	Failures []ReasonCount
}

// ReasonCount is a number of sessions with one failure reason.
type ReasonCount struct {
	Reason   string
	Sessions int64
}

// FailedTotal returns the number of failed and expired sessions.
func (f FunnelReport) FailedTotal() int64 {
	var n int64
	for _, r := range f.Failures {
		n += r.Sessions
	}
	return n
}

// Rate returns part/whole, 0 when whole is 0.
func Rate(part, whole int64) float64 {
	if whole == 0 {
		return 0
	}
	return float64(part) / float64(whole)
}

// ConnectHistogram counts connected sessions per ConnectBuckets bucket;
// index 0 is bucket 1.
type ConnectHistogram []int64

// Add adds n sessions to bucket (1-based); out-of-range buckets are clamped.
func (h *ConnectHistogram) Add(bucket int, n int64) {
	if bucket < 1 {
		bucket = 1
	}
	if bucket > len(ConnectBuckets)+1 {
		bucket = len(ConnectBuckets) + 1
	}
	for len(*h) < bucket {
		*h = append(*h, 0)
	}
	(*h)[bucket-1] += n
}

// Quantile estimates the q-quantile (0 < q ≤ 1) of the time to connect by
// linear interpolation inside the bucket that holds it. The estimate is
// within that bucket's bounds (at most one bucket width off); in the open
// last bucket it is its lower bound, one hour. ok is false without data.
func (h ConnectHistogram) Quantile(q float64) (d time.Duration, ok bool) {
	var total int64
	for _, n := range h {
		total += n
	}
	if total == 0 {
		return 0, false
	}
	rank := q * float64(total)
	var seen float64
	for i, n := range h {
		if n == 0 {
			continue
		}
		if seen+float64(n) >= rank {
			lo := 0.0
			if i > 0 {
				lo = ConnectBuckets[i-1]
			}
			if i >= len(ConnectBuckets) {
				return time.Duration(lo * float64(time.Second)), true
			}
			hi := ConnectBuckets[i]
			secs := lo + (hi-lo)*(rank-seen)/float64(n)
			return time.Duration(secs * float64(time.Second)).Round(time.Second), true
		}
		seen += float64(n)
	}
	return time.Duration(ConnectBuckets[len(ConnectBuckets)-1] * float64(time.Second)), true
}

// BreakdownRow is one brand's or supplier's line of a report.
type BreakdownRow struct {
	Key       string
	Name      string
	Sessions  int64
	Connected int64
	Times     ConnectHistogram
	// Failures by reason, most first.
	Failures []ReasonCount
}

// SuccessRate returns connected / sessions.
func (r BreakdownRow) SuccessRate() float64 { return Rate(r.Connected, r.Sessions) }

// Median returns the estimated median time to connect.
func (r BreakdownRow) Median() (time.Duration, bool) { return r.Times.Quantile(0.5) }

// P90 returns the estimated 90th percentile of the time to connect.
func (r BreakdownRow) P90() (time.Duration, bool) { return r.Times.Quantile(0.9) }

// TopFailure returns the most common failure reason and its count, "" when
// no session failed.
func (r BreakdownRow) TopFailure() ReasonCount {
	if len(r.Failures) == 0 {
		return ReasonCount{}
	}
	return r.Failures[0]
}

// SortReasons orders reasons by count, most first, then by name.
func SortReasons(rs []ReasonCount) {
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].Sessions != rs[j].Sessions {
			return rs[i].Sessions > rs[j].Sessions
		}
		return rs[i].Reason < rs[j].Reason
	})
}

// BreakdownSorts are the columns a breakdown table sorts by.
var BreakdownSorts = []string{"name", "sessions", "connected", "rate", "median", "p90", "failure"}

// SortBreakdown sorts rows by column (one of BreakdownSorts), descending
// when desc; ties keep name order.
func SortBreakdown(rows []BreakdownRow, column string, desc bool) {
	dur := func(d time.Duration, ok bool) float64 {
		if !ok {
			return -1
		}
		return float64(d)
	}
	key := func(r BreakdownRow) float64 {
		switch column {
		case "sessions":
			return float64(r.Sessions)
		case "connected":
			return float64(r.Connected)
		case "rate":
			return r.SuccessRate()
		case "median":
			return dur(r.Median())
		case "p90":
			return dur(r.P90())
		case "failure":
			return float64(r.TopFailure().Sessions)
		}
		return 0
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if column != "name" {
			if ka, kb := key(a), key(b); ka != kb {
				return (ka < kb) != desc
			}
		}
		if a.Name != b.Name {
			return (a.Name < b.Name) != (desc && column == "name")
		}
		return a.Key < b.Key
	})
}

// TrendPoint is one day (or week, starting Monday) of the trend.
type TrendPoint struct {
	Day       time.Time
	Sessions  int64
	Connected int64
}

// SuccessRate returns connected / sessions of the point.
func (p TrendPoint) SuccessRate() float64 { return Rate(p.Connected, p.Sessions) }

// DevicePoint is the device picture at the end of one day (or week).
type DevicePoint struct {
	Day time.Time
	// Active is the number of connected devices at the end of the period.
	Active       int64
	RelinkNeeded int64
	RelinkDone   int64
}

// ReportOption is a value a report can be filtered on, with its label.
type ReportOption struct {
	Value string `db:"value"`
	Name  string `db:"name"`
}

// ReportDate parses a YYYY-MM-DD date in loc.
func ReportDate(s string, loc *time.Location) (time.Time, error) {
	t, err := time.ParseInLocation("2006-01-02", s, loc)
	if err != nil {
		return t, ReasonErrorf(EINVALID, "invalid_date", "%q is not a date (YYYY-MM-DD).", s)
	}
	return t, nil
}

// DayOf returns midnight of t's calendar day in loc.
func DayOf(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// ReportTimezone loads the report time zone name, EINVALID when unknown.
func ReportTimezone(name string) (*time.Location, error) {
	loc, err := time.LoadLocation(name)
	if err != nil || name == "" || name == "Local" {
		return nil, Errorf(EINVALID, "reports.timezone %q is not a known IANA time zone", name)
	}
	return loc, nil
}

// FormatDuration writes d compactly: "45s", "3m 20s", "1h 05m".
func FormatDuration(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm %02ds", s/60, s%60)
	}
	return fmt.Sprintf("%dh %02dm", s/3600, s%3600/60)
}

// ConnectBucket returns the histogram bucket (1-based) of a time to connect,
// as report_connect_bucket computes it in the database.
func ConnectBucket(d time.Duration) int {
	secs := d.Seconds()
	b := 1
	for _, bound := range ConnectBuckets {
		if secs >= bound {
			b++
		}
	}
	return b
}
