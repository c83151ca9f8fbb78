// Package cluster_test proves the fleet `make cluster` starts: flows served
// by several instances, the loss of an instance under load, reads moving
// between the replica and the primary, and background jobs done once with
// three instances. It starts its own fleet (scripts/cluster.sh) on free
// loopback ports and runs only with NOX_TEST_CLUSTER=1 (`make test-cluster`).
package cluster_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"
	"golang.org/x/net/html"

	"noxportal/app"
	"noxportal/handlers/htmlform"
)

// fleet is the running cluster the tests share.
type fleet struct {
	root, dir string
	env       []string
	lb        string // HAProxy's base URL
	primary   *sqlx.DB
	// replicaURL reaches the replica's noxportal database directly.
	replicaURL string
	hooks      *receiver
}

var the *fleet

func TestMain(m *testing.M) {
	if os.Getenv("NOX_TEST_CLUSTER") == "" {
		fmt.Println("cluster tests skipped: set NOX_TEST_CLUSTER=1 (make test-cluster)")
		os.Exit(0)
	}
	f, err := startFleet()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start fleet:", err)
		if f != nil {
			f.script("destroy")
			os.RemoveAll(f.dir)
		}
		os.Exit(1)
	}
	the = f
	code := m.Run()
	if code != 0 {
		for _, n := range []string{"app1.log", "app2.log", "app3.log"} {
			if b, err := os.ReadFile(filepath.Join(f.dir, n)); err == nil {
				fmt.Fprintf(os.Stderr, "--- %s (tail)\n%s\n", n, tail(string(b), 4000))
			}
		}
	}
	f.hooks.srv.Close()
	f.primary.Close()
	if out, err := f.script("destroy"); err != nil {
		fmt.Fprintln(os.Stderr, "destroy fleet:", err, out)
	} else {
		os.RemoveAll(f.dir)
	}
	os.Exit(code)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func startFleet() (*fleet, error) {
	root, err := filepath.Abs("..")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "noxportal-cluster-")
	if err != nil {
		return nil, err
	}
	// As root the Postgres servers run as 'postgres', which must reach it.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "noxportal")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build: %v\n%s", err, out)
	}
	p, err := freePorts(9)
	if err != nil {
		return nil, err
	}
	f := &fleet{root: root, dir: dir, lb: fmt.Sprintf("http://127.0.0.1:%d", p[0]), hooks: newReceiver()}
	f.env = append(os.Environ(),
		"NOX_CLUSTER_DIR="+filepath.Join(dir, "fleet"),
		"NOX_CLUSTER_BIN="+bin,
		"NOX_CLUSTER_PORT="+strconv.Itoa(p[0]),
		"NOX_CLUSTER_PG_PORT="+strconv.Itoa(p[1]),
		"NOX_CLUSTER_REPLICA_PORT="+strconv.Itoa(p[2]),
		fmt.Sprintf("NOX_CLUSTER_APP_PORTS=%d %d %d", p[3], p[4], p[5]),
		fmt.Sprintf("NOX_CLUSTER_METRICS_PORTS=%d %d %d", p[6], p[7], p[8]),
		// Every client of these tests is 127.0.0.1.
		"NOX_SECURITY_API_RATE_LIMIT=100000000",
		"NOX_SECURITY_PAGE_RATE_LIMIT=100000000",
		"NOX_SERVER_DRAIN_DELAY=1s",
		"NOX_DATABASE_MAX_OPEN_CONNS=20",
		"NOX_DATABASE_MAX_IDLE_CONNS=20",
		"NOX_WEBHOOKS_POLL_INTERVAL=200ms",
		"NOX_WEBHOOKS_TIMEOUT=2s",
		"NOX_WEBHOOKS_LEASE=5s",
		"NOX_WEBHOOKS_RETRY_BASE=1s",
		"NOX_REPORTS_FOLD_INTERVAL=300ms",
		"NOX_MAIL_SINK_DIR="+filepath.Join(dir, "mail"),
		"NOX_MAIL_INTERVAL=300ms",
		// Bulk relinks in small batches under a short lease, so a job
		// moves between instances (a late runner, a killed one) mid-way.
		"NOX_JOBS_BULK_BATCH=4",
		"NOX_JOBS_LEASE=4s",
		"NOX_LOG_LEVEL=warn",
		// The demo accounts and keys, not the generated report history:
		// the tests measure what they add to the reports.
		"NOX_DEV_SEED_HISTORY=false",
	)
	if out, err := f.script("up"); err != nil {
		return f, fmt.Errorf("%v\n%s", err, out)
	}
	f.replicaURL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/noxportal?sslmode=disable", p[2])
	f.primary, err = sqlx.Connect("postgres", fmt.Sprintf("postgres://postgres@127.0.0.1:%d/noxportal?sslmode=disable", p[1]))
	if err != nil {
		return f, err
	}
	// The webhook endpoint of the demo supplier is this test's receiver.
	body := fmt.Sprintf(`{"url":%q}`, f.hooks.url)
	req, _ := http.NewRequest(http.MethodPut, f.lb+"/api/webhooks/endpoint", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", app.DevAPIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return f, err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return f, fmt.Errorf("register webhook endpoint: %d", resp.StatusCode)
	}
	return f, nil
}

// script runs scripts/cluster.sh with the fleet's environment.
func (f *fleet) script(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(f.root, "scripts", "cluster.sh"), args...)
	cmd.Env = f.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (f *fleet) mustScript(tb testing.TB, args ...string) {
	tb.Helper()
	if out, err := f.script(args...); err != nil {
		tb.Fatalf("cluster.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// receiver records the webhooks the fleet delivers.
type receiver struct {
	srv *httptest.Server
	url string
	mu  sync.Mutex
	got []delivery
}

type delivery struct {
	ID, Type, SessionID, SupplierUserID string
}

func newReceiver() *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		var ev struct {
			Data app.LinkEventData `json:"data"`
		}
		json.Unmarshal(b, &ev)
		r.mu.Lock()
		r.got = append(r.got, delivery{ID: req.Header.Get(app.WebhookDeliveryIDHeader), Type: req.Header.Get(app.WebhookEventTypeHeader),
			SessionID: ev.Data.SessionID, SupplierUserID: ev.Data.SupplierUserID})
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	r.url = r.srv.URL + "/hooks"
	return r
}

// connected returns, per session id, the link.connected requests received.
func (r *receiver) connected() map[string]map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]map[string]int{}
	for _, d := range r.got {
		if d.Type == app.EventLinkConnected {
			if out[d.SessionID] == nil {
				out[d.SessionID] = map[string]int{}
			}
			out[d.SessionID][d.ID]++
		}
	}
	return out
}

// browser is one user's client through HAProxy: a cookie jar, no
// redirects followed, and a record of which instance served each request.
type browser struct {
	base   string
	c      *http.Client
	served []string
	reqs   int
}

func newBrowser(base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{base: base, c: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends req and wants status want; it returns the body and Location.
func (b *browser) do(req *http.Request, want int) ([]byte, string, error) {
	b.reqs++
	resp, err := b.c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	b.served = append(b.served, resp.Header.Get("X-Served-By"))
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != want {
		return body, "", fmt.Errorf("%s %s: got %d, want %d: %.200s", req.Method, req.URL.Path, resp.StatusCode, want, body)
	}
	return body, resp.Header.Get("Location"), nil
}

func (b *browser) page(method, u string, form url.Values, want int) (*html.Node, string, error) {
	if strings.HasPrefix(u, "/") {
		u = b.base + u
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return nil, "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	raw, loc, err := b.do(req, want)
	if err != nil {
		return nil, "", err
	}
	doc, err := html.Parse(bytes.NewReader(raw))
	return doc, loc, err
}

// createLink creates a link session for supplierUserID with an
// Idempotency-Key (so HAProxy may resend it) and returns its token and URL.
func (b *browser) createLink(supplierUserID string) (token, linkURL string, err error) {
	req, _ := http.NewRequest(http.MethodPost, b.base+"/users/"+supplierUserID+"/link",
		strings.NewReader(`{"redirect_uri":"http://localhost:3000/callback","language":"en"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", app.DevAPIKey)
	req.Header.Set("Idempotency-Key", "create-"+supplierUserID)
	raw, _, err := b.do(req, 200)
	if err != nil {
		return "", "", err
	}
	var env struct {
		Data struct {
			LinkToken string `json:"link_token"`
			LinkURL   string `json:"link_url"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &env); err != nil || env.Data.LinkToken == "" {
		return "", "", fmt.Errorf("create link: unexpected body %.200s", raw)
	}
	return env.Data.LinkToken, env.Data.LinkURL, nil
}

// flowSteps names where a flow's brand page and callback were served.
type flowSteps struct {
	token, brandPage, callback string
}

// flow walks a whole hosted flow for supplierUserID like a browser without
// JavaScript and returns where its brand page and callback ran.
func (b *browser) flow(supplierUserID string) (flowSteps, error) {
	var st flowSteps
	token, link, err := b.createLink(supplierUserID)
	if err != nil {
		return st, err
	}
	st.token = token
	doc, _, err := b.page(http.MethodGet, link, nil, 200)
	if err != nil {
		return st, err
	}
	st.brandPage = b.served[len(b.served)-1]
	action, vals, err := htmlform.Values(doc, "/connect/brand", "brand", "sandbox-heatpump")
	if err != nil {
		return st, err
	}
	_, loc, err := b.page(http.MethodPost, action, vals, 303)
	if err != nil {
		return st, err
	}
	login, _, err := b.page(http.MethodGet, loc, nil, 200)
	if err != nil {
		return st, err
	}
	action, vals, err = htmlform.Values(login, "/login", "", "")
	if err != nil {
		return st, err
	}
	vals.Set("username", "user_good")
	vals.Set("password", "pass_good")
	consent, _, err := b.page(http.MethodPost, action, vals, 200)
	if err != nil {
		return st, err
	}
	action, vals, err = htmlform.Values(consent, "/consent", "", "")
	if err != nil {
		return st, err
	}
	vals.Set("decision", "allow")
	if _, loc, err = b.page(http.MethodPost, action, vals, 303); err != nil {
		return st, err
	}
	if _, loc, err = b.page(http.MethodGet, loc, nil, 303); err != nil {
		return st, err
	}
	st.callback = b.served[len(b.served)-1]
	if !strings.Contains(loc, "connection_status=connected") {
		return st, fmt.Errorf("flow ended at %s", loc)
	}
	return st, nil
}

// signIn signs the browser in to the portal as email.
func (b *browser) signIn(email string) error {
	doc, _, err := b.page(http.MethodGet, "/login", nil, 200)
	if err != nil {
		return err
	}
	action, vals, err := htmlform.Values(doc, "/login", "", "")
	if err != nil {
		return err
	}
	vals.Set("email", email)
	vals.Set("password", app.DevPassword)
	_, _, err = b.page(http.MethodPost, action, vals, 303)
	return err
}

// readSource fetches path (signed in) and returns the X-Read-Source header
// and the body; the page must answer 200.
func (b *browser) readSource(tb testing.TB, path string) (string, string) {
	tb.Helper()
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		tb.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		tb.Fatalf("GET %s: got %d, want 200: %.300s", path, resp.StatusCode, body)
	}
	return resp.Header.Get("X-Read-Source"), string(body)
}

// waitFor polls cond every 200 ms until it holds or d passes.
func waitFor(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("still waiting after %s for %s", d, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitForDeliveries waits until no webhook delivery to the demo supplier is pending.
func (f *fleet) waitForDeliveries(tb testing.TB) {
	tb.Helper()
	waitFor(tb, 90*time.Second, "every webhook delivery to finish", func() bool {
		var pending int
		if err := f.primary.Get(&pending, `SELECT count(*) FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
			WHERE d.status = 'pending' AND e.supplier_id = $1`, app.DevSupplierID); err != nil {
			tb.Fatal(err)
		}
		return pending == 0
	})
}

// checkOneConnectedWebhookEach fails unless every connected session of the
// demo supplier created since t0 got exactly one link.connected delivery,
// sent once unless killed says an instance was killed meanwhile.
func (f *fleet) checkOneConnectedWebhookEach(tb testing.TB, t0 time.Time, killed bool) int {
	tb.Helper()
	f.waitForDeliveries(tb)
	var ids []string
	if err := f.primary.Select(&ids, `SELECT id FROM link_sessions WHERE supplier_id = $1 AND status = 'connected' AND created_at >= $2`,
		app.DevSupplierID, t0); err != nil {
		tb.Fatal(err)
	}
	// One delivery (one Nox-Delivery-Id) per connected session, sent once.
	// Only when an instance was killed: a worker killed between sending a
	// delivery and recording its answer leaves it to be sent again once its
	// lease runs out, with the same id for the receiver to deduplicate on
	// (docs/webhooks.md), so such a repeat is counted, not a failure.
	got := f.hooks.connected()
	bad, repeats := 0, 0
	for _, id := range ids {
		if len(got[id]) != 1 {
			bad++
			if bad <= 5 {
				tb.Errorf("session %s: got %d link.connected deliveries (%v), want 1", id, len(got[id]), got[id])
			}
		}
		for _, n := range got[id] {
			repeats += n - 1
		}
	}
	if bad > 0 {
		tb.Errorf("%d of %d connected sessions did not get exactly one link.connected delivery", bad, len(ids))
	}
	switch {
	case repeats > 0 && killed:
		tb.Logf("%d link.connected deliveries were sent again under the same Nox-Delivery-Id after the kill", repeats)
	case repeats > 0:
		tb.Errorf("%d link.connected deliveries were sent twice with no instance killed", repeats)
	}
	return len(ids)
}

// TestFlowsCompleteAcrossInstances walks 50 flows through HAProxy; round
// robin sends the steps of each to all three instances, so the brand page,
// the manufacturer's pages and the callback are served by different ones.
func TestFlowsCompleteAcrossInstances(t *testing.T) {
	f := the
	t0 := time.Now()
	crossed := 0
	for i := 0; i < 50; i++ {
		b := newBrowser(f.lb)
		st, err := b.flow(fmt.Sprintf("spread-%d", i))
		if err != nil {
			t.Fatalf("flow %d: %v (served by %v)", i, err, b.served)
		}
		seen := map[string]bool{}
		for _, s := range b.served {
			seen[s] = true
		}
		if len(seen) != 3 || seen[""] {
			t.Errorf("flow %d: served by %v, want all of app1, app2, app3", i, b.served)
		}
		if st.brandPage != st.callback {
			crossed++
		}
	}
	if crossed == 0 {
		t.Error("no flow had its brand page and its callback on different instances")
	}
	t.Logf("50 flows connected; %d had the brand page and the callback on different instances", crossed)
	n := f.checkOneConnectedWebhookEach(t, t0, false)
	if n != 50 {
		t.Errorf("connected sessions since the test began: got %d, want 50", n)
	}
}

// TestKillingAnInstanceUnderLoadLosesNothing runs link creations and whole
// flows through HAProxy, kills one instance with SIGKILL midway, and checks
// that under 1% of requests failed, every acknowledged creation exists,
// every connected session got exactly one link.connected webhook (the
// deliveries the dead instance had leased are finished by the others), and
// the report counts what was created, once.
func TestKillingAnInstanceUnderLoadLosesNothing(t *testing.T) {
	f := the
	t0 := time.Now()
	before := f.reportFunnel(t)

	const workers = 6
	stop := make(chan struct{})
	var mu sync.Mutex
	var requests, failures, flows int
	var acked []string // link tokens the API answered 200 for
	var failed []string
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				b := newBrowser(f.lb)
				suid := fmt.Sprintf("load-%d-%d", w, i)
				var err error
				var token string
				if i%2 == 0 {
					token, _, err = b.createLink(suid)
				} else {
					var st flowSteps
					st, err = b.flow(suid)
					token = st.token
				}
				mu.Lock()
				requests += b.reqs
				if token != "" {
					acked = append(acked, token)
				}
				if err != nil {
					failures++
					failed = append(failed, err.Error())
				} else if i%2 == 1 {
					flows++
				}
				mu.Unlock()
			}
		}(w)
	}
	time.Sleep(8 * time.Second)
	f.mustScript(t, "kill", "2")
	killedAt := time.Now()
	time.Sleep(10 * time.Second)
	close(stop)
	wg.Wait()
	t.Logf("%d requests (%d flows connected, %d link creations acknowledged), %d failed; instance 2 killed %.1fs before the end",
		requests, flows, len(acked), failures, time.Since(killedAt).Seconds())
	for i, e := range failed {
		if i < 5 {
			t.Logf("failure: %s", e)
		}
	}
	if requests < 200 {
		t.Errorf("only %d requests ran; the load is too light to say anything", requests)
	}
	if rate := float64(failures) / float64(requests); rate >= 0.01 {
		t.Errorf("failed requests: %d of %d (%.2f%%), want under 1%%", failures, requests, 100*rate)
	}

	hashes := make([][]byte, len(acked))
	for i, tok := range acked {
		hashes[i] = app.HashToken(tok)
	}
	var found int
	if err := f.primary.Get(&found, `SELECT count(*) FROM link_sessions WHERE token_hash = ANY($1)`, pqByteaArray(hashes)); err != nil {
		t.Fatal(err)
	}
	if found != len(acked) {
		t.Errorf("acknowledged link creations in the database: got %d, want %d", found, len(acked))
	}

	f.checkOneConnectedWebhookEach(t, t0, true)

	// The report counts each session once: its growth equals the sessions
	// created since the test began.
	var created, connected int
	if err := f.primary.QueryRow(`SELECT count(*), count(*) FILTER (WHERE status = 'connected') FROM link_sessions
		WHERE supplier_id = $1 AND created_at >= $2`, app.DevSupplierID, t0).Scan(&created, &connected); err != nil {
		t.Fatal(err)
	}
	var after map[string]int
	deadline := time.Now().Add(30 * time.Second)
	for {
		after = f.reportFunnel(t)
		if after["created"]-before["created"] == created && after["connected"]-before["connected"] == connected {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("report growth: created %d, connected %d; want the %d sessions and %d connections made (before %v, after %v)",
				after["created"]-before["created"], after["connected"]-before["connected"], created, connected, before, after)
		}
		time.Sleep(300 * time.Millisecond)
	}

	f.mustScript(t, "start", "2")
}

// pqByteaArray formats byte slices as a Postgres bytea[] literal.
func pqByteaArray(bs [][]byte) string {
	parts := make([]string, len(bs))
	for i, b := range bs {
		parts[i] = fmt.Sprintf(`"\\x%x"`, b)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// reportFunnel returns today's funnel counts of the demo supplier from the
// report's CSV export (read from the replica or the primary).
func (f *fleet) reportFunnel(tb testing.TB) map[string]int {
	tb.Helper()
	b := newBrowser(f.lb)
	if err := b.signIn("manager@demo.nox"); err != nil {
		tb.Fatal(err)
	}
	loc, _ := time.LoadLocation("Europe/Amsterdam")
	today := time.Now().In(loc).Format("2006-01-02")
	q := url.Values{"range": {"custom"}, "from": {today}, "to": {today}, "supplier": {app.DevSupplierID}, "lang": {"en"}}
	_, body := b.readSource(tb, "/reports/export/funnel.csv?"+q.Encode())
	out := map[string]int{}
	lines := strings.Split(strings.TrimSpace(body), "\n")
	keys := []string{"created", "opened", "brand_selected", "oauth_started", "connected"}
	for i, line := range lines[1:] {
		cells := strings.Split(line, ",")
		if i < len(keys) && len(cells) > 1 {
			out[keys[i]], _ = strconv.Atoi(cells[1])
		}
	}
	return out
}

// TestReadsMoveToThePrimaryAndBackWithTheReplica stops the replica: the
// console and the reports keep answering, from the primary; started
// again, their reads move back to it. With replay paused, the pages say
// how far behind they are.
func TestReadsMoveToThePrimaryAndBackWithTheReplica(t *testing.T) {
	f := the
	b := newBrowser(f.lb)
	if err := b.signIn("manager@demo.nox"); err != nil {
		t.Fatal(err)
	}
	pages := []string{"/console?q=spread-1", "/console/users/" + app.DevSupplierID + "/spread-1", "/reports"}
	onReplica := func() bool {
		for _, p := range pages {
			if src, _ := b.readSource(t, p); src != "replica" {
				return false
			}
		}
		return true
	}
	waitFor(t, 20*time.Second, "every page to read from the replica", onReplica)

	f.mustScript(t, "stop-replica")
	for round := 0; round < 2; round++ {
		for _, p := range pages {
			src, body := b.readSource(t, p)
			if src != "primary" {
				t.Errorf("replica stopped, %s: X-Read-Source %q, want primary", p, src)
			}
			if p == pages[0] && !strings.Contains(body, "spread-1") {
				t.Errorf("replica stopped, console search: spread-1 is missing from the results")
			}
		}
	}
	f.mustScript(t, "start-replica")
	waitFor(t, 30*time.Second, "reads to move back to the replica", onReplica)

	// Pause replay on the replica after a write it has replayed, then
	// write again: the replica falls behind, and the pages it serves say so
	// until replay resumes.
	replica, err := sqlx.Connect("postgres", f.replicaURL)
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Close()
	if _, _, err := newBrowser(f.lb).createLink("before-pause"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if _, err := replica.Exec(`SELECT pg_wal_replay_pause()`); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			if _, err := replica.Exec(`SELECT pg_wal_replay_resume()`); err != nil {
				t.Error(err)
			}
		}
	}
	defer resume()
	if _, _, err := newBrowser(f.lb).createLink("behind-1"); err != nil {
		t.Fatal(err)
	}
	// Each instance probes the lag every second: wait until the pages
	// any of them serves pass the 5 s mark.
	for _, p := range []string{"/reports", pages[0], pages[1]} {
		waitFor(t, 20*time.Second, p+" to say it is behind", func() bool {
			src, body := b.readSource(t, p)
			return src == "replica" && strings.Contains(body, "data-freshness") && strings.Contains(body, "behind")
		})
	}
	resume()
	waitFor(t, 20*time.Second, "the freshness note to go once the replica caught up", func() bool {
		src, body := b.readSource(t, "/reports")
		return src == "replica" && !strings.Contains(body, "data-freshness")
	})
}

var hiddenInput = regexp.MustCompile(`name="(_csrf|form_key)" value="([^"]*)"`)

// TestEachEmailIsSentOnceByThreeInstances has agents create relinks with
// an email through HAProxy: the three instances' mailers share the outbox,
// and each email is claimed once, sent once and written once.
func TestEachEmailIsSentOnceByThreeInstances(t *testing.T) {
	f := the
	b := newBrowser(f.lb)
	if err := b.signIn("agent@demo.nox"); err != nil {
		t.Fatal(err)
	}
	const n = 12
	path := "/console/users/" + app.DevSupplierID + "/spread-2"
	for i := 0; i < n; i++ {
		_, page := b.readSource(t, path)
		form := url.Values{}
		for _, m := range hiddenInput.FindAllStringSubmatch(page, -1) {
			if form.Get(m[1]) == "" {
				form.Set(m[1], html.UnescapeString(m[2]))
			}
		}
		if form.Get("form_key") == "" || form.Get("_csrf") == "" {
			t.Fatalf("relink form not found on %s", path)
		}
		form.Set("send_email", "1")
		form.Set("email", fmt.Sprintf("fleet-%d@example.com", i))
		if _, _, err := b.page(http.MethodPost, path+"/relink", form, 200); err != nil {
			t.Fatal(err)
		}
	}
	type row struct {
		Sent, Attempts int
	}
	var got row
	waitFor(t, 60*time.Second, "every email to be sent", func() bool {
		if err := f.primary.Get(&got, `SELECT count(sent_at) AS sent, coalesce(sum(attempts), 0) AS attempts
			FROM email_outbox WHERE to_address LIKE 'fleet-%@example.com'`); err != nil {
			t.Fatal(err)
		}
		return got.Sent == n
	})
	if got.Attempts != n {
		t.Errorf("send attempts of %d emails: got %d, want %d (one claim each)", n, got.Attempts, n)
	}
	files, _ := filepath.Glob(filepath.Join(f.dir, "mail", "*.eml"))
	written := map[string]int{}
	for _, fn := range files {
		b, err := os.ReadFile(fn)
		if err != nil {
			t.Fatal(err)
		}
		if m := regexp.MustCompile(`fleet-\d+@example\.com`).Find(b); m != nil {
			written[string(m)]++
		}
	}
	for i := 0; i < n; i++ {
		if to := fmt.Sprintf("fleet-%d@example.com", i); written[to] != 1 {
			t.Errorf("emails written to %s: got %d, want 1", to, written[to])
		}
	}
}

// TestEachBulkRelinkItemIsDoneOnceByThreeInstances starts three bulk
// relinks (one per brand) through HAProxy and kills one instance while they
// run: whichever instances run the jobs, taking them over after a lease
// ran out, every item is processed once: one new agent session per item
// done, one email per session at most, and the counts add up.
func TestEachBulkRelinkItemIsDoneOnceByThreeInstances(t *testing.T) {
	f := the
	var t0 time.Time
	if err := f.primary.Get(&t0, `SELECT now()`); err != nil {
		t.Fatal(err)
	}
	var brands []string
	if err := f.primary.Select(&brands, `SELECT manufacturer_id FROM devices GROUP BY 1 ORDER BY count(*) DESC LIMIT 3`); err != nil {
		t.Fatal(err)
	}
	if len(brands) < 2 {
		t.Fatalf("the demo data has devices of %d brands, want several", len(brands))
	}
	if _, err := f.primary.Exec(`UPDATE devices SET status = 'relink_required' WHERE manufacturer_id = ANY($1) AND status <> 'relink_required'`,
		pqTextArray(brands)); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(f.lb)
	if err := b.signIn("agent@demo.nox"); err != nil {
		t.Fatal(err)
	}
	var ids []string
	total := 0
	for _, brand := range brands {
		var n int
		if err := f.primary.Get(&n, `SELECT count(*) FROM devices d JOIN supplier_mappings m ON m.nox_user_id = d.nox_user_id
			WHERE d.status = 'relink_required' AND d.manufacturer_id = $1`, brand); err != nil {
			t.Fatal(err)
		}
		doc, _, err := b.page(http.MethodGet, "/console/bulk?brand="+url.QueryEscape(brand), nil, 200)
		if err != nil {
			t.Fatal(err)
		}
		action, vals, err := htmlform.Values(doc, "/console/bulk", "count", strconv.Itoa(n))
		if err != nil {
			t.Fatalf("bulk confirmation of %s (%d devices): %v", brand, n, err)
		}
		_, loc, err := b.page(http.MethodPost, action, vals, 303)
		if err != nil {
			t.Fatal(err)
		}
		id := loc[strings.LastIndex(loc, "/")+1:]
		if _, err := strconv.Atoi(id); err != nil {
			t.Fatalf("bulk relink of %s: redirected to %q", brand, loc)
		}
		ids = append(ids, id)
		total += n
	}
	// Kill an instance once work has started; its leased job goes on
	// elsewhere once the lease runs out.
	waitFor(t, 60*time.Second, "bulk relinks to start", func() bool {
		var done int
		if err := f.primary.Get(&done, `SELECT coalesce(sum(done + failed), 0) FROM bulk_relinks WHERE id::text = ANY($1)`,
			pqTextArray(ids)); err != nil {
			t.Fatal(err)
		}
		return done > 0
	})
	f.mustScript(t, "kill", "3")
	defer f.mustScript(t, "start", "3")
	waitFor(t, 180*time.Second, "every bulk relink to finish", func() bool {
		var open int
		if err := f.primary.Get(&open, `SELECT count(*) FROM bulk_relinks WHERE id::text = ANY($1) AND finished_at IS NULL`,
			pqTextArray(ids)); err != nil {
			t.Fatal(err)
		}
		return open == 0
	})
	type sums struct {
		Total, Done, Failed, Items, Unprocessed, Sessions int
	}
	var got sums
	if err := f.primary.Get(&got, `
		SELECT sum(b.total) AS total, sum(b.done) AS done, sum(b.failed) AS failed,
		       (SELECT count(*) FROM bulk_relink_items i WHERE i.bulk_id::text = ANY($1)) AS items,
		       (SELECT count(*) FROM bulk_relink_items i WHERE i.bulk_id::text = ANY($1) AND i.processed_at IS NULL) AS unprocessed,
		       (SELECT count(DISTINCT i.session_id) FROM bulk_relink_items i WHERE i.bulk_id::text = ANY($1)) AS sessions
		FROM bulk_relinks b WHERE b.id::text = ANY($1)`, pqTextArray(ids)); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d items over %d bulk relinks: %d done, %d failed", got.Items, len(ids), got.Done, got.Failed)
	if got.Total != total || got.Items != total || got.Unprocessed != 0 || got.Done+got.Failed != total || got.Sessions != got.Done {
		t.Errorf("bulk relinks: %+v; want %d items, each processed once, one session per item done", got, total)
	}
	// No item made a second session or a second email: the agent
	// sessions of these brands since the start are the items' sessions.
	var made, emails, twice int
	if err := f.primary.Get(&made, `SELECT count(*) FROM link_sessions WHERE initiator = 'agent' AND manufacturer_id = ANY($1)
		AND created_at >= $2`, pqTextArray(brands), t0); err != nil {
		t.Fatal(err)
	}
	if made != got.Done {
		t.Errorf("agent sessions made: %d, want one per item done (%d)", made, got.Done)
	}
	if err := f.primary.Get(&emails, `SELECT count(*) FROM email_outbox WHERE kind = 'relink' AND created_at >= $1`, t0); err != nil {
		t.Fatal(err)
	}
	if err := f.primary.Get(&twice, `SELECT count(*) FROM (SELECT ref FROM email_outbox WHERE kind = 'relink' AND created_at >= $1
		GROUP BY ref HAVING count(*) > 1) x`, t0); err != nil {
		t.Fatal(err)
	}
	if twice != 0 || emails > got.Done {
		t.Errorf("relink emails: %d for %d sessions, %d sessions emailed more than once", emails, got.Done, twice)
	}
}

// pqTextArray formats strings as a Postgres text[] literal.
func pqTextArray(ss []string) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
	}
	return "{" + strings.Join(parts, ",") + "}"
}
