// Package handlertest starts the whole noxportal server — real Postgres,
// real HTTP on a loopback port, the sandbox manufacturers — for tests.
package handlertest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"noxportal/app"
	"noxportal/db"
	"noxportal/db/dbtest"
	"noxportal/handlers"
	"noxportal/metric"
	"noxportal/service"
	"noxportal/views"
)

// Server is a running test server.
type Server struct {
	URL        string
	Config     app.Config
	Store      *db.Store
	App        *fiber.App
	SupplierID string
	APIKey     string
	// RedirectURI is allowed for the test supplier.
	RedirectURI string
	// ManufacturerID is the sandbox brand with the manufacturer API key
	// ManufacturerKey (flow 2); ManufacturerRedirectURI is allowed for it,
	// and so is http://127.0.0.1:<any port>/manufacturer/callback.
	ManufacturerID          string
	ManufacturerKey         string
	ManufacturerRedirectURI string
	// Now is the pages' clock (see StartAt).
	Now func() time.Time
	// Metrics are the server's metrics (scrape them with Metrics.Handler).
	Metrics *metric.Metrics
	logs    *syncBuffer
	// tb is the test of Start, which contract failures of Client fail.
	tb testing.TB
	// dbURL is the test database (Peer opens its own pool on it).
	dbURL string
}

// RepoRoot returns the repository's root folder.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Start runs a server on a fresh database with the shipped config.yaml
// (sandbox on, dev seed off), adjusted by opts, and a test supplier
// "supplier_test" whose API key is s.APIKey. It stops when the test ends.
func Start(tb testing.TB, opts ...func(*app.Config)) *Server {
	tb.Helper()
	return start(tb, time.Now, opts)
}

// StartAt is Start with the pages' clock (handlers.Deps.Now) starting at
// at and running from there, so a test runs on the date it chooses. The
// database keeps its own clock: data a test dates itself (e.g. the report
// history, devdata.ReportHistory with s.Now()) follows the test's.
func StartAt(tb testing.TB, at time.Time, opts ...func(*app.Config)) *Server {
	tb.Helper()
	began := time.Now()
	return start(tb, func() time.Time { return at.Add(time.Since(began)) }, opts)
}

func start(tb testing.TB, now func() time.Time, opts []func(*app.Config)) *Server {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	serverHosts.Store(ln.Addr().String(), true)
	cfg, err := app.LoadConfig(filepath.Join(RepoRoot(), "config.yaml"), []string{
		"NOX_ENV=test",
		"NOX_SERVER_PUBLIC_URL=" + base,
		"NOX_SECURITY_ENCRYPTION_KEY=" + dbtest.TestKey,
		"NOX_DEV_SEED=false",
		"NOX_SANDBOX_ENABLED=true",
		"NOX_WEBHOOKS_POLL_INTERVAL=20ms",
		"NOX_WEBHOOKS_RETRY_BASE=20ms",
		"NOX_WEBHOOKS_RETRY_CAP=100ms",
		"NOX_JOBS_POLL_INTERVAL=20ms",
		// bcrypt at its least cost: a sign-in costs milliseconds instead
		// of seconds under the race detector. Production keeps 10+.
		"NOX_PORTAL_PASSWORD_COST=4",
		// Tests expire sessions themselves; the sweeper and pruning run
		// only when a test calls them.
		"NOX_LINK_SWEEP_INTERVAL=1h",
		"NOX_RETENTION_INTERVAL=1h",
	})
	if err != nil {
		tb.Fatal(err)
	}
	for _, o := range opts {
		o(&cfg)
	}
	app.SetPasswordCost(cfg.Portal.PasswordCost)
	store, dbURL := dbtest.MustStoreURL(tb)
	ctx := context.Background()
	if err := store.SyncManufacturers(ctx, cfg.ServedManufacturers()); err != nil {
		tb.Fatal(err)
	}
	s := &Server{URL: base, Config: cfg, Store: store, SupplierID: "supplier_test",
		RedirectURI: "https://supplier.example/callback?src=nox", Now: now, logs: &syncBuffer{}, tb: tb, dbURL: dbURL}
	if err := store.UpsertSupplier(ctx, app.Supplier{ID: s.SupplierID, Name: "Test Energy",
		RedirectURIs: []string{s.RedirectURI, "http://127.0.0.1:3000/callback"}}); err != nil {
		tb.Fatal(err)
	}
	if s.APIKey, err = store.CreateAPIKey(ctx, app.APIKeyOwner{SupplierID: s.SupplierID}, "test"); err != nil {
		tb.Fatal(err)
	}
	if cfg.Sandbox.SupplierActive() {
		if err := store.SyncSandboxSupplier(ctx, app.SandboxLoginSupplier(cfg), cfg.Sandbox.Supplier.APIKey); err != nil {
			tb.Fatal(err)
		}
	}
	s.ManufacturerID, s.ManufacturerRedirectURI = "sandbox-heatpump", "https://manufacturer.example/return?app=hp"
	if cfg.Sandbox.Enabled {
		if err := store.SetManufacturerRedirectURIs(ctx, s.ManufacturerID,
			[]string{s.ManufacturerRedirectURI, "http://127.0.0.1:3000/manufacturer/callback"}); err != nil {
			tb.Fatal(err)
		}
		if s.ManufacturerKey, err = store.CreateAPIKey(ctx, app.APIKeyOwner{ManufacturerID: s.ManufacturerID}, "test"); err != nil {
			tb.Fatal(err)
		}
	}
	s.serve(tb, ln)
	return s
}

// Peer starts a second instance of the server on the same database (its
// own pool, view cache and loops, the same configuration and keys), as a
// fleet runs behind a load balancer. It stops when the test ends.
func (s *Server) Peer(tb testing.TB) *Server {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	serverHosts.Store(ln.Addr().String(), true)
	p := *s
	p.URL, p.logs, p.tb = "http://"+ln.Addr().String(), &syncBuffer{}, tb
	p.Store = dbtest.MustStoreOn(tb, s.dbURL)
	p.serve(tb, ln)
	return &p
}

// serve runs the server's app, loops and session change listener on ln.
func (s *Server) serve(tb testing.TB, ln net.Listener) {
	tb.Helper()
	cfg, store, now := s.Config, s.Store, s.Now
	tr, err := app.NewTranslator(views.Locales())
	if err != nil {
		tb.Fatal(err)
	}
	signer, err := app.NewSigner(cfg.Security.SigningKey)
	if err != nil {
		tb.Fatal(err)
	}
	var handler slog.Handler = slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug})
	if cfg.LogFormat() == "json" {
		handler = slog.NewJSONHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug})
	}
	log := slog.New(app.ContextHandler(handler))
	mailer, err := app.NewMailer(cfg.Mail, log)
	if err != nil {
		tb.Fatal(err)
	}
	s.Metrics = metric.New()
	s.Metrics.WatchDatabase(store.DB().DB, func(ctx context.Context) (app.QueueStats, error) {
		return store.QueueStats(ctx, cfg.Mail.MaxAttempts)
	}, log)
	s.App = handlers.New(handlers.Deps{Config: cfg, Store: store, Manufacturers: app.NewManufacturers(cfg).WithLogger(log),
		Translator: tr, Signer: signer, Logger: log, Metrics: s.Metrics, Now: now})
	go s.App.Listener(ln)
	workerCtx, stopWorkers := context.WithCancel(context.Background())
	var workers sync.WaitGroup
	for _, l := range service.Loops(service.Deps{Config: cfg, Store: store, Translator: tr, Logger: log,
		Observer: s.Metrics, Mailer: mailer}) {
		workers.Go(func() { l.Run(workerCtx) })
	}
	workers.Go(func() { store.RunRequestLog(workerCtx, log) })
	if cfg.Link.ViewCache {
		workers.Go(func() { store.ListenSessionChanges(workerCtx, s.dbURL, log) })
		// Views are cached only once it listens, as in the server.
		for deadline := time.Now().Add(10 * time.Second); !store.SessionViewsCaching(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				tb.Fatal("handlertest: the session change listener did not start")
			}
		}
	}
	tb.Cleanup(func() {
		stopWorkers()
		workers.Wait()
		s.App.ShutdownWithTimeout(5 * time.Second)
		if tb.Failed() {
			tb.Logf("server log:\n%s", s.Logs())
		}
	})
}

// apiTransport carries the API calls of every test server: a transport of
// its own, so a test binary that validates http.DefaultClient's traffic
// (ContractTransport) does not check these answers twice.
var (
	apiTransport = http.DefaultTransport.(*http.Transport).Clone()
	apiClient    = &http.Client{Transport: apiTransport}
)

// Logs returns everything the server logged so far.
func (s *Server) Logs() string { return s.logs.String() }

// Client returns an HTTP client with a cookie jar that does not follow
// redirects, so tests can inspect each 303.
func (s *Server) Client() *http.Client {
	return &http.Client{
		Jar:           newJar(),
		Transport:     ContractTransport(s.tb, apiTransport, strings.TrimPrefix(s.URL, "http://")),
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// APIResult is a decoded API response.
type APIResult struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

// Data returns the envelope's data object.
func (r APIResult) Data() map[string]any { d, _ := r.Body["data"].(map[string]any); return d }

// ErrorCode returns the envelope's error.code.
func (r APIResult) ErrorCode() string {
	e, _ := r.Body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// API sends a request to the JSON API with key (no header when key is "").
func (s *Server) API(tb testing.TB, method, path, key, body string, headers ...string) APIResult {
	tb.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if problems := CheckContract(req, resp.StatusCode, resp.Header, raw); len(problems) > 0 {
		tb.Errorf("%s %s → %d breaks the API contract (openapi/openapi.yaml):\n  %s\n  body: %.400s",
			method, path, resp.StatusCode, strings.Join(problems, "\n  "), raw)
	}
	r := APIResult{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			tb.Fatalf("%s %s: response is not JSON: %q", method, path, raw)
		}
	}
	return r
}

// MustCreateLink creates a link session for supplierUserID with the test
// supplier's redirect URI and returns its data (link_token, link_url, ...).
func (s *Server) MustCreateLink(tb testing.TB, supplierUserID string, extra ...string) map[string]any {
	tb.Helper()
	body := `{"redirect_uri":"` + s.RedirectURI + `","language":"en"` + strings.Join(extra, "") + `}`
	r := s.API(tb, "POST", "/users/"+supplierUserID+"/link", s.APIKey, body)
	if r.Status != 200 {
		tb.Fatalf("create link: got %d %s, want 200", r.Status, r.Raw)
	}
	return r.Data()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
