// Command load drives noxportal (or the bare ceiling server) on loopback
// with N concurrent workers for a fixed time and writes one JSON result:
// throughput, p50/p95/p99 from every recorded latency, and errors.
//
//	load -mode plain  -url http://127.0.0.1:18090/
//	load -mode link   -url http://127.0.0.1:18089 -key nox_sk_...
//	load -mode brand  -url http://127.0.0.1:18089 -key nox_sk_...
//	load -mode flow   -url http://127.0.0.1:18089 -key nox_sk_...
//	load -mode pgbench -name "..." -tps 1234 -log 'dir/pgb_insert*'
//	load report -in dir -out bench/results.md
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/html"

	"noxportal/handlers/htmlform"
)

// Result is one measurement, written as JSON for the report.
type Result struct {
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	Unit     string  `json:"unit"` // what one operation is: "req", "flow", "txn"
	Workers  int     `json:"workers"`
	Ops      int64   `json:"ops"`
	Errors   int64   `json:"errors"`
	Seconds  float64 `json:"seconds"`
	PerSec   float64 `json:"per_sec"`
	P50ms    float64 `json:"p50_ms"`
	P95ms    float64 `json:"p95_ms"`
	P99ms    float64 `json:"p99_ms"`
	RSSMB    float64 `json:"rss_mb,omitempty"`
	Note     string  `json:"note,omitempty"`
	FirstErr string  `json:"first_error,omitempty"`
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "report" {
		if err := report(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "load report:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

type opts struct {
	mode, base, key, id, name, out, note string
	login, paths                         string
	workers, pool                        int
	dur                                  time.Duration
}

func run(args []string) error {
	var o opts
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.StringVar(&o.mode, "mode", "plain", "plain, link, brand, flow, page or pgbench")
	fs.StringVar(&o.login, "login", "", "page mode: email:password of the portal account that signs in")
	fs.StringVar(&o.paths, "paths", "", "page mode: comma-separated paths to GET in turn")
	fs.StringVar(&o.base, "url", "", "server base URL (plain: the URL to GET)")
	fs.StringVar(&o.key, "key", "", "supplier API key")
	fs.StringVar(&o.id, "id", "", "result id (default: mode)")
	fs.StringVar(&o.name, "name", "", "result name")
	fs.StringVar(&o.out, "out", "", "write the JSON result here (default stdout)")
	fs.StringVar(&o.note, "note", "", "note for the report")
	fs.IntVar(&o.workers, "c", 64, "concurrent workers (connections)")
	fs.IntVar(&o.pool, "pool", 20, "brand mode: link tokens per worker")
	fs.DurationVar(&o.dur, "d", 15*time.Second, "how long to measure")
	tps := fs.Float64("tps", 0, "pgbench mode: the tps pgbench reported")
	logs := fs.String("log", "", "pgbench mode: glob of pgbench per-transaction logs")
	rssPid := fs.Int("pid", 0, "read this process's peak RSS (VmHWM) after the run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.id == "" {
		o.id = o.mode
	}
	var res Result
	var err error
	switch o.mode {
	case "plain":
		res, err = loop(o, "req", nil, func(w *worker) error { return w.get(o.base, 200) })
	case "link":
		res, err = loop(o, "req", nil, func(w *worker) error { _, err := w.createLink(o); return err })
	case "brand":
		res, err = loop(o, "req", func(w *worker) error {
			for i := 0; i < o.pool; i++ {
				link, err := w.createLink(o)
				if err != nil {
					return err
				}
				if err := w.get(link, 200); err != nil { // the first view opens the session
					return err
				}
				w.links = append(w.links, link)
			}
			return nil
		}, func(w *worker) error {
			w.n++
			return w.get(w.links[w.n%len(w.links)], 200)
		})
	case "flow":
		res, err = loop(o, "flow", nil, func(w *worker) error { return w.flow(o) })
	case "page":
		paths := strings.Split(o.paths, ",")
		res, err = loop(o, "req", func(w *worker) error { return w.signIn(o) }, func(w *worker) error {
			w.n++
			return w.get(o.base+paths[w.n%len(paths)], 200)
		})
	case "pgbench":
		res, err = pgbenchResult(o, *tps, *logs)
	default:
		return fmt.Errorf("unknown mode %q", o.mode)
	}
	if err != nil {
		return err
	}
	res.ID, res.Name, res.Note = o.id, o.name, o.note
	if *rssPid > 0 {
		res.RSSMB = peakRSS(*rssPid)
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	if o.out == "" {
		fmt.Println(string(b))
		return nil
	}
	return os.WriteFile(o.out, append(b, '\n'), 0o644)
}

// peakRSS returns VmHWM of pid in MB, or 0.
func peakRSS(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			var kb float64
			fmt.Sscan(f[1], &kb)
			return kb / 1024
		}
	}
	return 0
}

type worker struct {
	id     int
	client *http.Client
	lat    []time.Duration
	links  []string
	n      int
	seq    int
}

func newTransport(n int) *http.Transport {
	return &http.Transport{
		MaxIdleConns:        n,
		MaxIdleConnsPerHost: n,
		MaxConnsPerHost:     n,
		DisableCompression:  true,
		IdleConnTimeout:     time.Minute,
	}
}

// loop runs setup once per worker, then op on every worker until the
// duration is over, recording each op's latency.
func loop(o opts, unit string, setup, op func(*worker) error) (Result, error) {
	tr := newTransport(o.workers)
	defer tr.CloseIdleConnections()
	ws := make([]*worker, o.workers)
	for i := range ws {
		jar, _ := cookiejar.New(nil)
		ws[i] = &worker{id: i, client: &http.Client{
			Transport: tr, Jar: jar, Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}, lat: make([]time.Duration, 0, 1<<16)}
	}
	var firstErr atomic.Value
	var errs atomic.Int64
	if setup != nil {
		// A worker whose setup fails is left out and counted as an error,
		// so one slow request does not abort the whole benchmark.
		failed := make([]bool, len(ws))
		var wg sync.WaitGroup
		for i, w := range ws {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := setup(w); err != nil {
					failed[i] = true
					errs.Add(1)
					firstErr.CompareAndSwap(nil, "setup: "+err.Error())
				}
			}()
		}
		wg.Wait()
		var ok []*worker
		for i, w := range ws {
			if !failed[i] {
				ok = append(ok, w)
			}
		}
		if len(ok) == 0 {
			return Result{Unit: unit, Workers: o.workers, Errors: errs.Load(), FirstErr: fmt.Sprint(firstErr.Load())}, nil
		}
		ws = ok
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.dur)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				t := time.Now()
				if err := op(w); err != nil {
					if errs.Add(1) == 1 {
						firstErr.Store(err.Error())
					}
					continue
				}
				w.lat = append(w.lat, time.Since(t))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	var all []time.Duration
	for _, w := range ws {
		all = append(all, w.lat...)
	}
	res := Result{Unit: unit, Workers: o.workers, Ops: int64(len(all)), Errors: errs.Load(), Seconds: elapsed,
		PerSec: float64(len(all)) / elapsed}
	res.P50ms, res.P95ms, res.P99ms = percentiles(all)
	if v, ok := firstErr.Load().(string); ok {
		res.FirstErr = v
	}
	return res, nil
}

func (w *worker) do(req *http.Request, want int) ([]byte, *http.Response, error) {
	resp, err := w.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != want {
		return b, resp, fmt.Errorf("%s %s: status %d, want %d: %.200s", req.Method, req.URL.Path, resp.StatusCode, want, b)
	}
	return b, resp, nil
}

func (w *worker) get(u string, want int) error {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	_, _, err = w.do(req, want)
	return err
}

// createLink creates a link session for a fresh supplier user and returns its link_url.
func (w *worker) createLink(o opts) (string, error) {
	w.seq++
	body := `{"redirect_uri":"http://localhost:3000/callback","language":"nl"}`
	req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/users/bench-%d-%d/link", o.base, w.id, w.seq), strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", o.key)
	b, _, err := w.do(req, 200)
	if err != nil {
		return "", err
	}
	var env struct {
		Data struct {
			LinkURL string `json:"link_url"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &env); err != nil || env.Data.LinkURL == "" {
		return "", fmt.Errorf("create link: unexpected body %.200s", b)
	}
	return env.Data.LinkURL, nil
}

// flow walks the hosted flow like a browser without JavaScript: create the
// link, open it, pick the sandbox heat pump, sign in, allow, and follow the
// callback to the redirect back to the supplier.
func (w *worker) flow(o opts) error {
	link, err := w.createLink(o)
	if err != nil {
		return err
	}
	page, _, err := w.fetch(http.MethodGet, link, nil, 200)
	if err != nil {
		return err
	}
	action, vals, err := htmlform.Values(page, "/connect/brand", "brand", "sandbox-heatpump")
	if err != nil {
		return err
	}
	_, resp, err := w.fetch(http.MethodPost, o.base+action, vals, 303)
	if err != nil {
		return err
	}
	login, _, err := w.fetch(http.MethodGet, resp.Header.Get("Location"), nil, 200)
	if err != nil {
		return err
	}
	action, vals, err = htmlform.Values(login, "/login", "", "")
	if err != nil {
		return err
	}
	vals.Set("username", "user_good")
	vals.Set("password", "pass_good")
	consent, _, err := w.fetch(http.MethodPost, o.base+action, vals, 200)
	if err != nil {
		return err
	}
	action, vals, err = htmlform.Values(consent, "/consent", "", "")
	if err != nil {
		return err
	}
	vals.Set("decision", "allow")
	_, resp, err = w.fetch(http.MethodPost, o.base+action, vals, 303)
	if err != nil {
		return err
	}
	_, resp, err = w.fetch(http.MethodGet, resp.Header.Get("Location"), nil, 303)
	if err != nil {
		return err
	}
	if loc := resp.Header.Get("Location"); !strings.Contains(loc, "connection_status=connected") {
		return fmt.Errorf("flow ended at %s", loc)
	}
	return nil
}

func (w *worker) fetch(method, u string, form url.Values, want int) (*html.Node, *http.Response, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return nil, nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	b, resp, err := w.do(req, want)
	if err != nil {
		return nil, nil, err
	}
	doc, err := html.Parse(bytes.NewReader(b))
	return doc, resp, err
}

// signIn signs the worker's cookie jar in to the portal as o.login.
func (w *worker) signIn(o opts) error {
	email, password, _ := strings.Cut(o.login, ":")
	doc, _, err := w.fetch("GET", o.base+"/login", nil, 200)
	if err != nil {
		return err
	}
	action, vals, err := htmlform.Values(doc, "/login", "", "")
	if err != nil {
		return err
	}
	vals.Set("email", email)
	vals.Set("password", password)
	_, _, err = w.fetch("POST", o.base+action, vals, 303)
	return err
}
