package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// percentiles returns p50, p95 and p99 of lat in milliseconds (nearest rank).
func percentiles(lat []time.Duration) (p50, p95, p99 float64) {
	if len(lat) == 0 {
		return 0, 0, 0
	}
	slices.Sort(lat)
	at := func(p float64) float64 {
		i := int(p*float64(len(lat))+0.5) - 1
		i = min(max(i, 0), len(lat)-1)
		return float64(lat[i].Microseconds()) / 1000
	}
	return at(0.50), at(0.95), at(0.99)
}

// pgbenchResult reads pgbench's per-transaction logs (-l): the third field
// of each line is the latency in microseconds.
func pgbenchResult(o opts, tps float64, glob string) (Result, error) {
	files, err := filepath.Glob(glob)
	if err != nil || len(files) == 0 {
		return Result{}, fmt.Errorf("no pgbench logs match %q", glob)
	}
	var lat []time.Duration
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return Result{}, err
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 3 {
				continue
			}
			us, err := strconv.ParseInt(fields[2], 10, 64)
			if err != nil {
				continue
			}
			lat = append(lat, time.Duration(us)*time.Microsecond)
		}
		fh.Close()
	}
	res := Result{Unit: "txn", Workers: o.workers, Ops: int64(len(lat)), PerSec: tps}
	if tps > 0 {
		res.Seconds = float64(len(lat)) / tps
	}
	res.P50ms, res.P95ms, res.P99ms = percentiles(lat)
	return res, nil
}

// target is what a measurement is held to.
type target struct {
	ceiling  string   // id of the ceiling it is divided by
	also     []string // further ceilings whose ratio is shown, not held to
	minRatio float64  // throughput / ceiling throughput at least
	maxP95   float64  // ms; 0: none
	maxP99   float64  // ms; 0: none
	// maxP99x bounds p99 by a multiple of the ceiling's p99; 0: none
	maxP99x float64
	text    string
}

var targets = map[string]target{
	"link": {ceiling: "pg_insert_free", also: []string{"pg_insert"}, minRatio: 0.8, maxP99x: 2,
		text: "≥ 0.8× trigger-free INSERT, p99 ≤ 2× its p99"},
	// The same POST /link with the API request log off: the log's cost is
	// the difference between the two rows.
	"link_nolog": {ceiling: "pg_insert_free", also: []string{"pg_insert"}, text: "— (before: request log off)"},
	"brand":      {ceiling: "pg_select", minRatio: 0.5, maxP99: 15, text: "≥ 0.5× SELECT, p99 ≤ 15 ms"},
	"flow":       {text: "—"},
	"search":     {maxP95: 50, text: "p95 ≤ 50 ms"},
	"search4":    {text: "—"},
	"reports":    {maxP99: 200, text: "≤ 200 ms each"},
}

// order is the table's row order; unknown ids follow by file name.
var order = []string{"pg_insert_free", "pg_insert", "pg_select", "fiber", "link_nolog", "link", "brand_first", "brand", "flow", "search", "search4", "reports"}

func report(args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	in := fs.String("in", "", "folder of JSON results")
	out := fs.String("out", "bench/results.md", "Markdown file to write")
	head := fs.String("head", "", "Markdown file to put above the table")
	rssLimit := fs.Float64("rss-limit", 200, "server peak RSS target, MB")
	if err := fs.Parse(args); err != nil {
		return err
	}
	files, _ := filepath.Glob(filepath.Join(*in, "*.json"))
	byID := map[string]Result{}
	var ids []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var r Result
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		byID[r.ID] = r
		ids = append(ids, r.ID)
	}
	rounds := mergeRounds(byID, &ids)
	slices.SortStableFunc(ids, func(a, b string) int { return rank(a) - rank(b) })

	var sb strings.Builder
	if *head != "" {
		h, err := os.ReadFile(*head)
		if err != nil {
			return err
		}
		sb.Write(h)
		sb.WriteString("\n")
	}
	sb.WriteString("| Measurement | Conc. | Throughput | p50 | p95 | p99 | Ratio to ceiling | Target | Result |\n")
	sb.WriteString("|---|---:|---:|---:|---:|---:|---:|---|---|\n")
	var peak float64
	failed := 0
	for _, id := range ids {
		r := byID[id]
		peak = max(peak, r.RSSMB)
		t, hasTarget := targets[id]
		ratio, verdict, ttext := "—", "ceiling", "—"
		if hasTarget {
			ttext = t.text
			verdict = "—"
			ok := r.Errors == 0
			if c, found := byID[t.ceiling]; found && c.PerSec > 0 && t.ceiling != "" {
				x := ceilingRatio(r, c, rounds[id], rounds[t.ceiling])
				ratio = fmt.Sprintf("%.2f× %s", x, shortName(t.ceiling))
				if t.minRatio > 0 {
					ok = ok && x >= t.minRatio
				}
				if t.maxP99x > 0 {
					ok = ok && r.P99ms <= t.maxP99x*c.P99ms
				}
			}
			for _, a := range t.also {
				if c, found := byID[a]; found && c.PerSec > 0 {
					ratio += fmt.Sprintf("; %.2f× %s", ceilingRatio(r, c, rounds[id], rounds[a]), shortName(a))
				}
			}
			if t.maxP95 > 0 {
				ok = ok && r.P95ms <= t.maxP95
			}
			if t.maxP99 > 0 {
				ok = ok && r.P99ms <= t.maxP99
			}
			if t.minRatio > 0 || t.maxP95 > 0 || t.maxP99 > 0 || t.maxP99x > 0 {
				verdict = map[bool]string{true: "**pass**", false: "**FAIL**"}[ok]
				if !ok {
					failed++
				}
			}
		}
		if r.Errors > 0 {
			verdict += fmt.Sprintf(" (%d errors: %.80s)", r.Errors, r.FirstErr)
		}
		name := r.Name
		if r.Note != "" {
			name += " — " + r.Note
		}
		fmt.Fprintf(&sb, "| %s | %d | %s %s/s | %.2f ms | %.2f ms | %.2f ms | %s | %s | %s |\n",
			name, r.Workers, human(r.PerSec), r.Unit, r.P50ms, r.P95ms, r.P99ms, ratio, ttext, verdict)
	}
	ok := peak > 0 && peak <= *rssLimit
	if !ok {
		failed++
	}
	fmt.Fprintf(&sb, "| Server peak RSS (VmHWM) over all of the above | | %.0f MB | | | | | ≤ %.0f MB | %s |\n",
		peak, *rssLimit, map[bool]string{true: "**pass**", false: "**FAIL**"}[ok])
	fmt.Fprintf(&sb, "\n%d target(s) missed.\n", failed)
	if err := os.WriteFile(*out, []byte(sb.String()), 0o644); err != nil {
		return err
	}
	fmt.Print(sb.String())
	return nil
}

func rank(id string) int {
	if i := slices.Index(order, id); i >= 0 {
		return i
	}
	return len(order)
}

func shortName(id string) string {
	switch id {
	case "pg_insert":
		return "INSERT (real table)"
	case "pg_insert_free":
		return "trigger-free INSERT"
	case "pg_select":
		return "SELECT"
	case "fiber":
		return "bare Fiber"
	}
	return id
}

func human(x float64) string {
	switch {
	case x >= 100:
		return strconv.FormatFloat(x, 'f', 0, 64)
	case x >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
	return strconv.FormatFloat(x, 'f', 2, 64)
}

// mergeRounds replaces the results of measurements run in rounds (ids
// ending in "_r1", "_r2", ...) by one result per measurement: the median of
// the rounds' throughputs and latency percentiles, the sum of their
// operations and errors. It returns each measurement's rounds by number.
func mergeRounds(byID map[string]Result, ids *[]string) map[string]map[string]Result {
	rounds := map[string]map[string]Result{}
	var keep []string
	for _, id := range *ids {
		i := strings.LastIndex(id, "_r")
		base, n := id, ""
		if i > 0 {
			base, n = id[:i], id[i+2:]
		}
		if _, err := strconv.Atoi(n); err != nil {
			keep = append(keep, id)
			continue
		}
		if rounds[base] == nil {
			rounds[base] = map[string]Result{}
			keep = append(keep, base)
		}
		rounds[base][n] = byID[id]
		delete(byID, id)
	}
	for base, rs := range rounds {
		var m Result
		var per, p50, p95, p99 []float64
		for _, r := range rs {
			if m.ID == "" {
				m = r
				m.Ops, m.Errors, m.Seconds = 0, 0, 0
			}
			m.Ops += r.Ops
			m.Errors += r.Errors
			m.Seconds += r.Seconds
			m.RSSMB = max(m.RSSMB, r.RSSMB)
			if m.FirstErr == "" {
				m.FirstErr = r.FirstErr
			}
			per, p50, p95, p99 = append(per, r.PerSec), append(p50, r.P50ms), append(p95, r.P95ms), append(p99, r.P99ms)
		}
		m.ID = base
		m.PerSec, m.P50ms, m.P95ms, m.P99ms = median(per), median(p50), median(p95), median(p99)
		m.Note = fmt.Sprintf("median of %d rounds", len(rs))
		byID[base] = m
	}
	*ids = keep
	return rounds
}

// ceilingRatio is r's throughput over its ceiling c's: the median of the
// per-round ratios when both ran in rounds, else the ratio of the medians.
func ceilingRatio(r, c Result, rRounds, cRounds map[string]Result) float64 {
	if xs := roundRatios(rRounds, cRounds); len(xs) > 0 {
		return median(xs)
	}
	return r.PerSec / c.PerSec
}

// roundRatios returns, for each round both a and its ceiling c have, a's
// throughput over c's: a ratio taken minutes apart would mostly measure how
// the machine's other load changed in between.
func roundRatios(a, c map[string]Result) []float64 {
	var out []float64
	for n, r := range a {
		if cr, ok := c[n]; ok && cr.PerSec > 0 {
			out = append(out, r.PerSec/cr.PerSec)
		}
	}
	return out
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
