package app

import (
	"testing"
	"time"
)

// TestResolveReportRange checks the period a report URL shows: presets end
// today unless their dates span exactly the preset (a shared link keeps
// its days), dates left over from another range are ignored, and unusable
// custom dates fall back to 30 days with a problem named.
func TestResolveReportRange(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	today := time.Date(2026, 12, 1, 0, 0, 0, 0, loc)
	for _, tc := range []struct {
		name                   string
		preset, from, to       string
		wantPreset, wFrom, wTo string
		wantProblem            string
	}{
		{"no parameters", "", "", "", "30", "2026-11-02", "2026-12-01", ""},
		{"preset alone", "7", "", "", "7", "2026-11-25", "2026-12-01", ""},
		{"preset with the previous range's dates", "7", "2026-11-02", "2026-12-01", "7", "2026-11-25", "2026-12-01", ""},
		{"preset with its own dates", "7", "2026-11-25", "2026-12-01", "7", "2026-11-25", "2026-12-01", ""},
		{"shared preset link, a week later", "7", "2026-11-18", "2026-11-24", "custom", "2026-11-18", "2026-11-24", ""},
		{"preset across the spring DST change", "7", "2026-03-26", "2026-04-01", "custom", "2026-03-26", "2026-04-01", ""},
		{"preset ending in the future", "7", "2026-11-26", "2026-12-02", "7", "2026-11-25", "2026-12-01", ""},
		{"90 days across the autumn DST change", "90", "2026-09-03", "2026-12-01", "90", "2026-09-03", "2026-12-01", ""},
		{"custom", "custom", "2026-10-30", "2026-11-02", "custom", "2026-10-30", "2026-11-02", ""},
		{"custom, bad date", "custom", "2026-13-01", "2026-11-02", "30", "2026-11-02", "2026-12-01", "reports.error.date"},
		{"custom, reversed", "custom", "2026-11-03", "2026-11-02", "30", "2026-11-02", "2026-12-01", "reports.error.range"},
		{"unknown preset", "12", "", "", "30", "2026-11-02", "2026-12-01", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ResolveReportRange(tc.preset, tc.from, tc.to, today)
			got := [4]string{r.Preset, r.From.Format("2006-01-02"), r.To.Format("2006-01-02"), r.Problem}
			want := [4]string{tc.wantPreset, tc.wFrom, tc.wTo, tc.wantProblem}
			if got != want {
				t.Errorf("ResolveReportRange(%q, %q, %q): got %v, want %v", tc.preset, tc.from, tc.to, got, want)
			}
		})
	}
}
