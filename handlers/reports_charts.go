package handlers

import (
	"fmt"
	"html/template"
	"math"
	"strings"

	"noxportal/app"
)

// The report charts are drawn here as SVG, on the server: no script, no
// style attributes (the CSP forbids both), colours from static/reports.css.
// Series differ by shape as well as colour (bars, line with dots, hatching)
// and every value is labelled or in the table printed next to the chart.

const (
	wideW    = 720 // full-width cards
	halfW    = 500 // cards side by side
	chartH   = 260
	chartML  = 56
	chartMR  = 56
	chartMT  = 34
	chartMB  = 34
	hatchDef = `<defs><pattern id="%s" patternUnits="userSpaceOnUse" width="7" height="7" patternTransform="rotate(45)">` +
		`<rect width="7" height="7" fill="#ffffff"/><rect width="3" height="7" fill="%s"/></pattern></defs>`
)

type svgBuf struct {
	strings.Builder
	w, h int
}

func (b *svgBuf) f(format string, args ...any) { fmt.Fprintf(&b.Builder, format, args...) }

func esc(s string) string { return template.HTMLEscapeString(s) }

func (b *svgBuf) open(id, title, desc string, width, height int) {
	b.w, b.h = width, height
	b.f(`<svg class="chart" id="%s" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-t %s-d" preserveAspectRatio="xMidYMid meet">`,
		id, width, height, id, id)
	b.f(`<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, id, esc(title), id, esc(desc))
}

func (b *svgBuf) html() template.HTML {
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// axisTop returns the top of a count axis with four gridlines: four times
// a round, whole step, the smallest that reaches v.
func axisTop(v float64) float64 {
	need := math.Max(v/4, 1)
	p := math.Pow(10, math.Floor(math.Log10(need)))
	for _, m := range []float64{1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		step := m * p
		if step >= need && step == math.Trunc(step) {
			return 4 * step
		}
	}
	return 40 * p
}

// legend draws legend entries at the top right; kind is "bar", "hatch:<pattern id>" or "line".
func (b *svgBuf) legend(entries ...[2]string) {
	x := float64(b.w - chartMR)
	for i := len(entries) - 1; i >= 0; i-- {
		kind, label := entries[i][0], entries[i][1]
		w := float64(len([]rune(label)))*6.6 + 22
		x -= w
		switch {
		case kind == "line":
			b.f(`<line class="line-rate" x1="%.1f" y1="12" x2="%.1f" y2="12"/><circle class="dot-rate" cx="%.1f" cy="12" r="3.5"/>`, x, x+14, x+7)
		case kind == "area":
			b.f(`<line class="line-devices" x1="%.1f" y1="12" x2="%.1f" y2="12"/><circle class="dot-devices" cx="%.1f" cy="12" r="3"/>`, x, x+14, x+7)
		case strings.HasPrefix(kind, "hatch:"):
			b.f(`<rect class="swatch-hatch" x="%.1f" y="6" width="12" height="12" fill="url(#%s)"/>`, x, strings.TrimPrefix(kind, "hatch:"))
		default:
			b.f(`<rect class="swatch %s" x="%.1f" y="6" width="12" height="12"/>`, kind, x)
		}
		b.f(`<text class="legend-text" x="%.1f" y="16">%s</text>`, x+18, esc(label))
		x -= 10
	}
}

// axisY draws horizontal grid lines with labels at 0, ¼, ½, ¾ and max.
func (b *svgBuf) axisY(max float64, label func(float64) string, right func(float64) string) {
	ph := float64(b.h - chartMT - chartMB)
	for i := 0; i <= 4; i++ {
		y := float64(chartMT) + ph*(1-float64(i)/4)
		b.f(`<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>`, chartML, y, b.w-chartMR, y)
		b.f(`<text class="axis" x="%d" y="%.1f" text-anchor="end">%s</text>`, chartML-8, y+4, esc(label(max*float64(i)/4)))
		if right != nil {
			b.f(`<text class="axis" x="%d" y="%.1f">%s</text>`, b.w-chartMR+8, y+4, esc(right(float64(i)/4)))
		}
	}
}

// axisX labels about eight of n periods, centred on their bands.
func (b *svgBuf) axisX(n int, band float64, label func(int) string) {
	every := int(math.Ceil(float64(n) / 8))
	for i := 0; i < n; i += every {
		x := float64(chartML) + band*(float64(i)+0.5)
		b.f(`<text class="axis" x="%.1f" y="%d" text-anchor="middle">%s</text>`, x, b.h-chartMB+18, esc(label(i)))
	}
}

func (v reportView) emptyChart(b *svgBuf) template.HTML {
	b.f(`<text class="chart-empty" x="%d" y="%d" text-anchor="middle">%s</text>`, b.w/2, b.h/2, esc(v.t("reports.empty_chart")))
	return b.html()
}

// trendChart draws sessions per period as bars and the success rate as a
// line with dots on a 0–100 %% axis on the right.
func (v reportView) trendChart(ps []app.TrendPoint) template.HTML {
	var b svgBuf
	var max, total, conn int64
	for _, p := range ps {
		if p.Sessions > max {
			max = p.Sessions
		}
		total += p.Sessions
		conn += p.Connected
	}
	b.open("chart-trend", v.t("reports.trend.title"), v.t("reports.trend.desc", v.num(total), v.pct(app.Rate(conn, total))), wideW, chartH)
	if len(ps) == 0 || total == 0 {
		return v.emptyChart(&b)
	}
	top := axisTop(float64(max))
	b.legend([2]string{"bar-sessions", v.t("reports.series.sessions")}, [2]string{"line", v.t("reports.series.rate")})
	b.axisY(top, func(x float64) string { return v.num(int64(math.Round(x))) }, func(r float64) string { return v.pct(r) })
	pw, ph := float64(b.w-chartML-chartMR), float64(b.h-chartMT-chartMB)
	band := pw / float64(len(ps))
	bw := math.Max(band*0.64, 1)
	var line []string
	for i, p := range ps {
		x := float64(chartML) + band*float64(i) + (band-bw)/2
		h := ph * float64(p.Sessions) / top
		b.f(`<rect class="bar-sessions" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s</title></rect>`,
			x, float64(chartMT)+ph-h, bw, h,
			esc(v.t("reports.trend.point", v.periodLabel(p.Day), v.num(p.Sessions), v.num(p.Connected), v.pct(p.SuccessRate()))))
		if p.Sessions > 0 {
			line = append(line, fmt.Sprintf("%.1f,%.1f", x+bw/2, float64(chartMT)+ph*(1-p.SuccessRate())))
		}
	}
	b.f(`<polyline class="line-rate" points="%s"/>`, strings.Join(line, " "))
	for _, pt := range line {
		xy := strings.Split(pt, ",")
		b.f(`<circle class="dot-rate" cx="%s" cy="%s" r="3.5"/>`, xy[0], xy[1])
	}
	b.axisX(len(ps), band, func(i int) string { return v.shortDate(ps[i].Day) })
	return b.html()
}

// devicesChart draws the connected devices at the end of each period as an
// area with a line and dots.
func (v reportView) devicesChart(ps []app.DevicePoint) template.HTML {
	var b svgBuf
	var max int64
	for _, p := range ps {
		if p.Active > max {
			max = p.Active
		}
	}
	last := int64(0)
	if len(ps) > 0 {
		last = ps[len(ps)-1].Active
	}
	b.open("chart-devices", v.t("reports.devices.title"), v.t("reports.devices.desc", v.num(last)), halfW, chartH)
	if len(ps) == 0 || max == 0 {
		return v.emptyChart(&b)
	}
	top := axisTop(float64(max))
	b.legend([2]string{"area", v.t("reports.series.active")})
	b.axisY(top, func(x float64) string { return v.num(int64(math.Round(x))) }, nil)
	pw, ph := float64(b.w-chartML-chartMR), float64(b.h-chartMT-chartMB)
	band := pw / float64(len(ps))
	var pts []string
	for i, p := range ps {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", float64(chartML)+band*(float64(i)+0.5), float64(chartMT)+ph*(1-float64(p.Active)/top)))
	}
	base := float64(chartMT) + ph
	first, lastX := strings.Split(pts[0], ",")[0], strings.Split(pts[len(pts)-1], ",")[0]
	b.f(`<polygon class="area-devices" points="%s,%.1f %s %s,%.1f"/>`, first, base, strings.Join(pts, " "), lastX, base)
	b.f(`<polyline class="line-devices" points="%s"/>`, strings.Join(pts, " "))
	for i, pt := range pts {
		xy := strings.Split(pt, ",")
		b.f(`<circle class="dot-devices" cx="%s" cy="%s" r="3"><title>%s</title></circle>`, xy[0], xy[1],
			esc(v.t("reports.devices.point", v.periodLabel(ps[i].Day), v.num(ps[i].Active))))
	}
	b.axisX(len(ps), band, func(i int) string { return v.shortDate(ps[i].Day) })
	return b.html()
}

// relinkChart draws relinks needed (solid) and done (hatched) per period
// as grouped bars.
func (v reportView) relinkChart(ps []app.DevicePoint) template.HTML {
	var b svgBuf
	var max, needed, done int64
	for _, p := range ps {
		max = int64(math.Max(float64(max), math.Max(float64(p.RelinkNeeded), float64(p.RelinkDone))))
		needed += p.RelinkNeeded
		done += p.RelinkDone
	}
	b.open("chart-relinks", v.t("reports.relinks.title"), v.t("reports.relinks.desc", v.num(needed), v.num(done)), halfW, chartH)
	if len(ps) == 0 || max == 0 {
		return v.emptyChart(&b)
	}
	b.f(hatchDef, "hatch-relinks", "#0b7a53")
	top := axisTop(float64(max))
	b.legend([2]string{"bar-needed", v.t("reports.series.relink_needed")}, [2]string{"hatch:hatch-relinks", v.t("reports.series.relink_done")})
	b.axisY(top, func(x float64) string { return v.num(int64(math.Round(x))) }, nil)
	pw, ph := float64(b.w-chartML-chartMR), float64(b.h-chartMT-chartMB)
	band := pw / float64(len(ps))
	bw := math.Max(band*0.36, 1)
	for i, p := range ps {
		x := float64(chartML) + band*float64(i) + band*0.14
		label := esc(v.t("reports.relinks.point", v.periodLabel(p.Day), v.num(p.RelinkNeeded), v.num(p.RelinkDone)))
		hn := ph * float64(p.RelinkNeeded) / top
		hd := ph * float64(p.RelinkDone) / top
		b.f(`<rect class="bar-needed" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s</title></rect>`, x, float64(chartMT)+ph-hn, bw, hn, label)
		b.f(`<rect class="bar-done" fill="url(#hatch-relinks)" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s</title></rect>`,
			x+bw, float64(chartMT)+ph-hd, bw, hd, label)
	}
	b.axisX(len(ps), band, func(i int) string { return v.shortDate(ps[i].Day) })
	return b.html()
}

// hbars draws horizontal bars scaled to max, one per row, each with its
// label above it and its value after it.
func (v reportView) hbars(b *svgBuf, labels []string, values []int64, notes []string, max int64, class string) {
	const rowH, top, left = 46, 4, 4
	barMax := float64(b.w - left - 130)
	for i, label := range labels {
		y := float64(top + i*rowH)
		w := 0.0
		if max > 0 {
			w = math.Max(barMax*float64(values[i])/float64(max), 2)
		}
		b.f(`<text class="bar-label" x="%d" y="%.1f">%s</text>`, left, y+14, esc(label))
		b.f(`<rect class="track" x="%d" y="%.1f" width="%.1f" height="20" rx="4"/>`, left, y+20, barMax)
		b.f(`<rect class="%s %s-%d" x="%d" y="%.1f" width="%.1f" height="20" rx="4"/>`, class, class, i, left, y+20, w)
		b.f(`<text class="bar-value" x="%.1f" y="%.1f">%s</text>`, float64(left)+w+8, y+35, esc(notes[i]))
	}
}

// funnelChart draws each funnel step as a bar relative to created sessions.
func (v reportView) funnelChart(f app.FunnelReport) template.HTML {
	var b svgBuf
	counts := funnelCounts(f)
	h := 8 + len(counts)*46
	b.open("chart-funnel", v.t("reports.funnel.title"), v.t("reports.funnel.desc", v.num(f.Created), v.num(f.Connected),
		v.pct(app.Rate(f.Connected, f.Created))), halfW, h)
	var labels, notes []string
	for i, n := range counts {
		labels = append(labels, v.t("reports.step."+funnelKeys[i]))
		notes = append(notes, v.num(n)+" · "+v.pct(app.Rate(n, f.Created)))
	}
	v.hbars(&b, labels, counts, notes, f.Created, "bar-step")
	return b.html()
}

// failureChart draws failed and expired sessions by reason, hatched.
func (v reportView) failureChart(f app.FunnelReport) template.HTML {
	var b svgBuf
	total := f.FailedTotal()
	h := 8 + max(len(f.Failures), 1)*46
	b.open("chart-failures", v.t("reports.failures.title"), v.t("reports.failures.desc", v.num(total)), halfW, h)
	if total == 0 {
		b.f(`<text class="chart-empty" x="%d" y="%d" text-anchor="middle">%s</text>`, b.w/2, h/2+4, esc(v.t("reports.failures.none")))
		return b.html()
	}
	b.f(hatchDef, "hatch-failures", "#b3261e")
	var labels, notes []string
	var values []int64
	for _, r := range f.Failures {
		labels = append(labels, v.reason(r.Reason))
		values = append(values, r.Sessions)
		notes = append(notes, v.num(r.Sessions)+" · "+v.pct(app.Rate(r.Sessions, total)))
	}
	v.hbars(&b, labels, values, notes, f.Failures[0].Sessions, "bar-failure")
	s := strings.ReplaceAll(string(b.html()), `class="bar-failure `, `fill="url(#hatch-failures)" class="bar-failure `)
	return template.HTML(s)
}
