package app

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written as "15m" in config.yaml and env vars.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalText parses a Go duration string ("90s", "15m").
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("invalid duration %q (use e.g. 30s, 15m, 1h)", string(b))
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration in Go notation.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// Config is the whole configuration, loaded from config.yaml and overridden
// by NOX_* environment variables (see LoadConfig).
type Config struct {
	Env       string          `yaml:"env"`
	Server    ServerConfig    `yaml:"server"`
	Database  DatabaseConfig  `yaml:"database"`
	Security  SecurityConfig  `yaml:"security"`
	Link      LinkConfig      `yaml:"link"`
	Portal    PortalConfig    `yaml:"portal"`
	Reports   ReportsConfig   `yaml:"reports"`
	Dev       DevConfig       `yaml:"dev"`
	Views     ViewsConfig     `yaml:"views"`
	Sandbox   SandboxConfig   `yaml:"sandbox"`
	Webhooks  WebhookConfig   `yaml:"webhooks"`
	Log       LogConfig       `yaml:"log"`
	Mail      MailConfig      `yaml:"mail"`
	Jobs      JobsConfig      `yaml:"jobs"`
	Retention RetentionConfig `yaml:"retention"`
	// Manufacturers are the brands users can link, each an OAuth 2.0
	// authorization server. Endpoint URLs starting with "/" are relative to
	// server.public_url (used by the built-in sandbox brands).
	Manufacturers []ManufacturerConfig `yaml:"manufacturers"`
}

// ServerConfig is the HTTP server.
type ServerConfig struct {
	Addr            string   `yaml:"addr"`
	PublicURL       string   `yaml:"public_url"`
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// TrustProxy makes the server take the client IP from X-Forwarded-For.
	TrustProxy bool `yaml:"trust_proxy"`
	// PprofAddr, when set, serves Go's pprof profiles on this loopback
	// address (host:port), apart from the public listener. Off by default.
	PprofAddr string `yaml:"pprof_addr"`
	// RequestTimeout is the deadline of every request's context; a request
	// past it answers 503 and its database statement is cancelled.
	RequestTimeout Duration `yaml:"request_timeout"`
	// ExportTimeout is the (longer) deadline of a report CSV export.
	ExportTimeout Duration `yaml:"export_timeout"`
	// DrainDelay is how long the listener keeps serving after SIGTERM while
	// /readyz already answers 503, so a load balancer stops sending.
	DrainDelay Duration `yaml:"drain_delay"`
	// MetricsAddr serves Prometheus metrics at /metrics on this address,
	// apart from the public listener (empty: off).
	MetricsAddr string `yaml:"metrics_addr"`
}

// DatabaseConfig is the Postgres connection.
type DatabaseConfig struct {
	URL          string `yaml:"url"`
	MaxOpenConns int    `yaml:"max_open_conns"`
	MaxIdleConns int    `yaml:"max_idle_conns"`
	// StatementTimeout, LockTimeout and IdleInTransactionTimeout are set on
	// every pooled connection: the backstops behind the request deadline.
	StatementTimeout         Duration `yaml:"statement_timeout"`
	LockTimeout              Duration `yaml:"lock_timeout"`
	IdleInTransactionTimeout Duration `yaml:"idle_in_transaction_timeout"`
	// ReplicaURL, when set, is a streaming replica of the primary: the
	// console search, a customer's console page and the reports read from
	// it; everything else uses the primary.
	ReplicaURL string `yaml:"replica_url"`
	// ReplicaMaxLag is the replay lag past which reads go back to the primary.
	ReplicaMaxLag Duration `yaml:"replica_max_lag"`
}

// SecurityConfig holds the secrets. In production they come from env vars.
type SecurityConfig struct {
	// EncryptionKey is 32 bytes, base64: AES-256-GCM for manufacturer tokens.
	EncryptionKey string `yaml:"encryption_key"`
	// SigningKey is at least 32 bytes, base64: CSRF tokens and portal JWTs.
	SigningKey string `yaml:"signing_key"`
	// APIRateLimit is the number of API requests one key may make a minute.
	APIRateLimit int `yaml:"api_rate_limit"`
	// PageRateLimit is the number of hosted-flow page requests one IP may make a minute.
	PageRateLimit int `yaml:"page_rate_limit"`
}

// LinkConfig is the link-session behaviour.
type LinkConfig struct {
	SessionTTL    Duration `yaml:"session_ttl"`
	SweepInterval Duration `yaml:"sweep_interval"`
	// OAuthTimeout bounds each call to a manufacturer (token, devices).
	OAuthTimeout Duration `yaml:"oauth_timeout"`
	// ViewCache keeps each instance's last read of an opened session for
	// its repeat views, dropped on every change announced by Postgres
	// (LISTEN/NOTIFY; db/session_view_cache.go). Off: every view reads.
	ViewCache bool `yaml:"view_cache"`
}

// CallbackLease is how long a claimed OAuth callback may go without an
// outcome before the sweeper fails its session: three manufacturer calls'
// worth, so a live callback (token exchange, devices, commit) always
// finishes first.
func (l LinkConfig) CallbackLease() time.Duration { return 3 * l.OAuthTimeout.D() }

// PortalConfig is the portal's sign-in behaviour.
type PortalConfig struct {
	// SessionIdle signs a browser out after this long without a request.
	SessionIdle Duration `yaml:"session_idle"`
	// SessionAbsolute signs a browser out this long after sign-in, active or not.
	SessionAbsolute Duration `yaml:"session_absolute"`
	// LoginWindow is how far back failed sign-ins count.
	LoginWindow Duration `yaml:"login_window"`
	// LoginMaxPerAccount failed sign-ins for one email within LoginWindow lock it.
	LoginMaxPerAccount int `yaml:"login_max_per_account"`
	// LoginMaxPerIP failed sign-ins from one IP within LoginWindow lock the IP.
	LoginMaxPerIP int `yaml:"login_max_per_ip"`
	// DashboardLinkTTL is how long a supplier-created dashboard URL is valid.
	DashboardLinkTTL Duration `yaml:"dashboard_link_ttl"`
	// PasswordCost is the bcrypt cost of new password hashes (existing
	// hashes keep the cost they were made with). At least
	// MinProductionPasswordCost in production; tests lower it.
	PasswordCost int `yaml:"password_cost"`
	// SupportEmail is where the customer help page sends customers.
	SupportEmail string `yaml:"support_email"`
}

// ReportsConfig is the connection reports.
type ReportsConfig struct {
	// Timezone is the IANA time zone report days are bucketed in.
	Timezone string `yaml:"timezone"`
	// FoldInterval is how often pending rollup changes are folded into the
	// report rollups (readers add the pending ones, so reports are exact
	// either way; folding keeps them cheap to read).
	FoldInterval Duration `yaml:"fold_interval"`
}

// DevConfig is for local development only.
type DevConfig struct {
	Seed bool `yaml:"seed"`
	// SeedHistory adds 90 days of generated report history to the seed
	// (once, in the background).
	SeedHistory bool `yaml:"seed_history"`
}

// ViewsConfig is how pages are loaded.
type ViewsConfig struct {
	// Reload re-reads the templates from the views/ folder of the working
	// directory on every render, so edits show without a restart. For
	// development only: the embedded templates are used otherwise.
	Reload bool `yaml:"reload"`
}

// SandboxConfig: Enabled lets live keys see the built-in sandbox
// manufacturers and switches on the sandbox supplier. The sandbox
// manufacturers are served in every environment for test-mode keys.
type SandboxConfig struct {
	Enabled  bool                  `yaml:"enabled"`
	Supplier SandboxSupplierConfig `yaml:"supplier"`
}

// SandboxSupplierConfig declares the built-in sandbox energy supplier served
// under /sandbox-supplier/. It is created (with its API key) at start-up
// when sandbox.enabled is true and id is set.
type SandboxSupplierConfig struct {
	ID       string `yaml:"id"`
	Name     string `yaml:"name"`
	ClientID string `yaml:"client_id"`
	// APIKey is the key its server side uses to call POST /post-login-redirect.
	APIKey string `yaml:"api_key"`
}

// SupplierActive reports whether the sandbox supplier is switched on.
func (c SandboxConfig) SupplierActive() bool { return c.Enabled && c.Supplier.ID != "" }

// WebhookConfig is the webhook delivery worker.
type WebhookConfig struct {
	// PollInterval is how often an idle worker looks for due deliveries.
	PollInterval Duration `yaml:"poll_interval"`
	// Timeout bounds one delivery request (at most 10s).
	Timeout Duration `yaml:"timeout"`
	// Lease is how long a claimed delivery stays with its worker; a worker
	// that dies mid-delivery loses it to another after the lease.
	Lease Duration `yaml:"lease"`
	// RetryBase is the first retry delay; each further retry doubles it up
	// to RetryCap, and retries go on until they span RetryFor.
	RetryBase Duration `yaml:"retry_base"`
	RetryCap  Duration `yaml:"retry_cap"`
	RetryFor  Duration `yaml:"retry_for"`
	BatchSize int      `yaml:"batch_size"`
	// AllowPrivateNetworks lets deliveries reach loopback, private and
	// link-local addresses (receivers on this machine or network, as in
	// development). Off, such destinations are refused when connecting,
	// after DNS, so a public name that resolves inside cannot be used to
	// reach internal services.
	AllowPrivateNetworks bool `yaml:"allow_private_networks"`
	// Retention is the least time finished deliveries (and their attempt
	// logs) are kept for the delivery log and replays; they leave a month
	// at a time (db.Store.MaintainHistory).
	Retention Duration `yaml:"retention"`
}

// JobsConfig is the background job runner (bulk relinks, the sweeper,
// pruning): jobs are rows claimed with a lease and retried with backoff.
type JobsConfig struct {
	PollInterval Duration `yaml:"poll_interval"`
	// Lease is how long a job stays with its runner without progress; a
	// runner that dies loses the job to another instance after it.
	Lease     Duration `yaml:"lease"`
	RetryBase Duration `yaml:"retry_base"`
	RetryCap  Duration `yaml:"retry_cap"`
	// BulkBatch is how many bulk relink items one transaction does.
	BulkBatch int `yaml:"bulk_batch"`
}

// RetentionConfig says how long rows of the tables that only grow are kept
// (docs/operations.md lists every table). Pruning runs every Interval.
type RetentionConfig struct {
	Interval Duration `yaml:"interval"`
	// IdempotencyKeys: how long an Idempotency-Key replays its response.
	IdempotencyKeys Duration `yaml:"idempotency_keys"`
	// DashboardLinks (and supplier invitations) and Sandbox rows are kept
	// this long past their expiry.
	DashboardLinks Duration `yaml:"dashboard_links"`
	Sandbox        Duration `yaml:"sandbox"`
	// Emails: sent or given-up emails.
	Emails Duration `yaml:"emails"`
	// Jobs: finished one-off jobs (and their bulk relinks).
	Jobs Duration `yaml:"jobs"`
	// PortalSessions: ended portal sessions and failed sign-ins.
	PortalSessions Duration `yaml:"portal_sessions"`
	// RateLimits: rate-limit counter windows.
	RateLimits Duration `yaml:"rate_limits"`
	// LinkEvents: the monthly partitions of link_events are dropped once
	// their month ended this long ago; 0 (the default) keeps them.
	LinkEvents Duration `yaml:"link_events"`
	// LinkSessions: the monthly partitions of finished link sessions are
	// dropped once their month ended this long ago; 0 (the default) keeps
	// them.
	LinkSessions Duration `yaml:"link_sessions"`
}

// LogConfig is the logger.
type LogConfig struct {
	Level string `yaml:"level"`
	// Format is json or text; empty picks json in production, text elsewhere.
	Format string `yaml:"format"`
	// APIRequests keeps the suppliers' API request log (the developer
	// dashboard's Requests page); false records nothing.
	APIRequests bool `yaml:"api_requests"`
}

// LogFormat returns the log format in effect: log.format, or json in
// production and text elsewhere when it is empty.
func (c Config) LogFormat() string {
	if c.Log.Format == "" && c.IsProduction() {
		return "json"
	} else if c.Log.Format == "" {
		return "text"
	}
	return c.Log.Format
}

// ManufacturerConfig declares one brand and its OAuth 2.0 endpoints.
type ManufacturerConfig struct {
	ID           string   `yaml:"id"`
	Name         string   `yaml:"name"`
	Kind         string   `yaml:"kind"` // heat_pump, thermostat, charger
	AuthorizeURL string   `yaml:"authorize_url"`
	TokenURL     string   `yaml:"token_url"`
	DevicesURL   string   `yaml:"devices_url"`
	ClientID     string   `yaml:"client_id"`
	ClientSecret string   `yaml:"client_secret"`
	Scopes       []string `yaml:"scopes"`
	// Sandbox marks a brand served by this binary: offered to test-mode
	// link sessions always, to live ones only when sandbox.enabled is true.
	Sandbox bool `yaml:"sandbox"`
}

// DefaultConfig returns the defaults that config.yaml and env vars override.
func DefaultConfig() Config {
	return Config{
		Env: "development",
		Server: ServerConfig{
			Addr:            "127.0.0.1:8080",
			PublicURL:       "http://127.0.0.1:8080",
			ShutdownTimeout: Duration(10 * time.Second),
			RequestTimeout:  Duration(10 * time.Second),
			ExportTimeout:   Duration(2 * time.Minute),
			DrainDelay:      Duration(5 * time.Second),
			MetricsAddr:     "127.0.0.1:9464",
		},
		Database: DatabaseConfig{MaxOpenConns: 40, MaxIdleConns: 40,
			StatementTimeout: Duration(30 * time.Second), LockTimeout: Duration(5 * time.Second),
			IdleInTransactionTimeout: Duration(60 * time.Second), ReplicaMaxLag: Duration(30 * time.Second)},
		Security: SecurityConfig{APIRateLimit: 6000, PageRateLimit: 600},
		Link: LinkConfig{
			SessionTTL:    Duration(15 * time.Minute),
			SweepInterval: Duration(15 * time.Second),
			OAuthTimeout:  Duration(10 * time.Second),
			ViewCache:     true,
		},
		Webhooks: WebhookConfig{
			Retention:    Duration(30 * 24 * time.Hour),
			PollInterval: Duration(time.Second),
			Timeout:      Duration(10 * time.Second),
			Lease:        Duration(time.Minute),
			RetryBase:    Duration(30 * time.Second),
			RetryCap:     Duration(6 * time.Hour),
			RetryFor:     Duration(24 * time.Hour),
			BatchSize:    10,
		},
		Portal: PortalConfig{
			SessionIdle:        Duration(30 * time.Minute),
			SessionAbsolute:    Duration(12 * time.Hour),
			LoginWindow:        Duration(15 * time.Minute),
			LoginMaxPerAccount: 5,
			LoginMaxPerIP:      50,
			DashboardLinkTTL:   Duration(5 * time.Minute),
			PasswordCost:       MinProductionPasswordCost,
			SupportEmail:       "support@nox.example",
		},
		Reports: ReportsConfig{Timezone: "Europe/Amsterdam", FoldInterval: Duration(time.Second)},
		Dev:     DevConfig{SeedHistory: true},
		Log:     LogConfig{Level: "info", APIRequests: true},
		Jobs: JobsConfig{PollInterval: Duration(time.Second), Lease: Duration(time.Minute),
			RetryBase: Duration(10 * time.Second), RetryCap: Duration(30 * time.Minute), BulkBatch: 10},
		Retention: RetentionConfig{Interval: Duration(10 * time.Minute), IdempotencyKeys: Duration(72 * time.Hour),
			DashboardLinks: Duration(7 * 24 * time.Hour), Sandbox: Duration(24 * time.Hour), Emails: Duration(30 * 24 * time.Hour),
			Jobs: Duration(30 * 24 * time.Hour), PortalSessions: Duration(24 * time.Hour), RateLimits: Duration(time.Hour)},
		Mail: MailConfig{From: "NOX Energy <no-reply@nox.example>", Interval: Duration(5 * time.Second),
			SMTPTLS: "opportunistic", Timeout: Duration(10 * time.Second), Lease: Duration(time.Minute), MaxAttempts: 5},
	}
}

// LoadConfig reads the YAML file at path (skipped when path is "") over the
// defaults, then applies env overrides: every key can be set by NOX_ plus its
// path upper-cased with "_" for "." (server.public_url → NOX_SERVER_PUBLIC_URL).
// It returns an EINVALID error naming the key when a value is invalid.
func LoadConfig(path string, environ []string) (Config, error) {
	cfg := DefaultConfig()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config: read %s: %w", path, err)
		}
		if err := yaml.Unmarshal(b, &cfg); err != nil {
			return cfg, Errorf(EINVALID, "config %s: %v", path, err)
		}
	}
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "NOX_") {
			env[k] = v
		}
	}
	if err := applyEnv(reflect.ValueOf(&cfg).Elem(), "NOX", env); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

func applyEnv(v reflect.Value, prefix string, env map[string]string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		name := prefix + "_" + strings.ToUpper(tag)
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct {
			if err := applyEnv(fv, name, env); err != nil {
				return err
			}
			continue
		}
		raw, ok := env[name]
		if !ok {
			continue
		}
		if err := setFromString(fv, raw); err != nil {
			return Errorf(EINVALID, "config: %s: %v", name, err)
		}
	}
	return nil
}

func setFromString(fv reflect.Value, raw string) error {
	if tu, ok := fv.Addr().Interface().(interface{ UnmarshalText([]byte) error }); ok {
		return tu.UnmarshalText([]byte(raw))
	}
	switch fv.Kind() {
	case reflect.String:
		fv.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("invalid boolean %q", raw)
		}
		fv.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return fmt.Errorf("invalid integer %q", raw)
		}
		fv.SetInt(n)
	case reflect.Slice:
		// Slices of structs (manufacturers) are set in config.yaml only.
		if fv.Type().Elem().Kind() != reflect.String {
			return errors.New("can only be set in config.yaml")
		}
		parts := strings.Split(raw, ",")
		fv.Set(reflect.ValueOf(parts))
	default:
		return fmt.Errorf("unsupported type %s", fv.Type())
	}
	return nil
}

// IsProduction reports whether env is "production".
func (c Config) IsProduction() bool { return c.Env == "production" }

// Validate checks the configuration and returns an EINVALID error naming
// every problem it finds.
func (c Config) Validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	switch c.Env {
	case "development", "test", "production":
	default:
		add("env must be development, test or production, not %q", c.Env)
	}
	if u, err := url.Parse(c.Server.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("server.public_url must be an absolute http(s) URL, not %q", c.Server.PublicURL)
	} else if c.IsProduction() && u.Scheme != "https" {
		add("server.public_url must be https in production")
	}
	if c.Server.Addr == "" {
		add("server.addr is required")
	}
	if c.Server.PprofAddr != "" && !loopbackAddr(c.Server.PprofAddr) {
		add("server.pprof_addr must be a loopback host:port (127.0.0.1, ::1 or localhost), not %q", c.Server.PprofAddr)
	}
	if c.Server.RequestTimeout.D() <= 0 || c.Server.ExportTimeout.D() < c.Server.RequestTimeout.D() {
		add("server.request_timeout must be positive and server.export_timeout at least as long")
	}
	if c.Server.DrainDelay.D() < 0 || c.Server.ShutdownTimeout.D() <= 0 {
		add("server.drain_delay must not be negative and server.shutdown_timeout must be positive")
	}
	if c.Server.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.Server.MetricsAddr); err != nil || c.Server.MetricsAddr == c.Server.Addr {
			add("server.metrics_addr must be a host:port apart from server.addr, not %q", c.Server.MetricsAddr)
		}
	}
	if d := c.Database; d.StatementTimeout.D() < 0 || d.LockTimeout.D() < 0 || d.IdleInTransactionTimeout.D() < 0 {
		add("database.statement_timeout, lock_timeout and idle_in_transaction_timeout must not be negative (0: off)")
	}
	if c.Database.ReplicaURL != "" && c.Database.ReplicaMaxLag.D() <= 0 {
		add("database.replica_max_lag must be positive")
	}
	if c.Link.SessionTTL.D() <= 0 {
		add("link.session_ttl must be positive")
	}
	if c.Link.SweepInterval.D() <= 0 {
		add("link.sweep_interval must be positive")
	}
	if c.Link.OAuthTimeout.D() <= 0 {
		add("link.oauth_timeout must be positive")
	}
	if c.Portal.SessionIdle.D() <= 0 || c.Portal.SessionAbsolute.D() < c.Portal.SessionIdle.D() {
		add("portal.session_idle must be positive and at most portal.session_absolute")
	}
	if c.Portal.LoginWindow.D() <= 0 || c.Portal.LoginMaxPerAccount <= 0 || c.Portal.LoginMaxPerIP <= 0 {
		add("portal.login_window, portal.login_max_per_account and portal.login_max_per_ip must be positive")
	}
	if c.Portal.DashboardLinkTTL.D() <= 0 {
		add("portal.dashboard_link_ttl must be positive")
	}
	if c.Portal.PasswordCost < bcrypt.MinCost || c.Portal.PasswordCost > bcrypt.MaxCost {
		add("portal.password_cost must be from %d to %d, not %d", bcrypt.MinCost, bcrypt.MaxCost, c.Portal.PasswordCost)
	} else if c.IsProduction() && c.Portal.PasswordCost < MinProductionPasswordCost {
		add("portal.password_cost must be at least %d in production", MinProductionPasswordCost)
	}
	if at := strings.IndexByte(c.Portal.SupportEmail, '@'); at < 1 || at == len(c.Portal.SupportEmail)-1 || len(c.Portal.SupportEmail) > 254 {
		add("portal.support_email must be an email address")
	}
	if k, err := base64.StdEncoding.DecodeString(c.Security.EncryptionKey); c.Security.EncryptionKey == "" {
		add("security.encryption_key is required (32 bytes, base64; set NOX_SECURITY_ENCRYPTION_KEY)")
	} else if err != nil || len(k) != 32 {
		add("security.encryption_key must be 32 bytes, base64-encoded")
	}
	if k, err := base64.StdEncoding.DecodeString(c.Security.SigningKey); c.Security.SigningKey == "" {
		add("security.signing_key is required (32+ bytes, base64; set NOX_SECURITY_SIGNING_KEY)")
	} else if err != nil || len(k) < 32 {
		add("security.signing_key must be at least 32 bytes, base64-encoded")
	}
	if c.IsProduction() {
		if c.Dev.Seed {
			add("dev.seed must be false in production")
		}
		if c.Sandbox.Enabled {
			add("sandbox.enabled must be false in production")
		}
		if c.Security.EncryptionKey == DevEncryptionKey || c.Security.SigningKey == DevSigningKey {
			add("the development keys from config.yaml must not be used in production")
		}
	}
	w := c.Webhooks
	if w.Retention.D() < 24*time.Hour {
		add("webhooks.retention must be at least 24h (finished deliveries stay replayable that long)")
	}
	if w.PollInterval.D() <= 0 || w.RetryBase.D() <= 0 || w.RetryCap.D() < w.RetryBase.D() || w.BatchSize <= 0 {
		add("webhooks.poll_interval, retry_base and batch_size must be positive and retry_cap at least retry_base")
	}
	if w.Timeout.D() <= 0 || w.Timeout.D() > 10*time.Second {
		add("webhooks.timeout must be between 0 and 10s")
	}
	if w.Lease.D() <= w.Timeout.D() {
		add("webhooks.lease must be longer than webhooks.timeout")
	}
	if w.RetryFor.D() <= 0 || (c.Env != "test" && w.RetryFor.D() < 24*time.Hour) {
		add("webhooks.retry_for must be at least 24h")
	}
	if s := c.Sandbox.Supplier; s.ID != "" {
		if !validSlug(s.ID) || s.Name == "" || s.ClientID == "" || len(s.APIKey) < 32 {
			add("sandbox.supplier needs an id (lower-case letters, digits, - and _), name, client_id and an api_key of 32+ characters")
		}
	}
	if _, err := ReportTimezone(c.Reports.Timezone); err != nil {
		add("reports.timezone %q is not a known IANA time zone (e.g. Europe/Amsterdam)", c.Reports.Timezone)
	}
	if c.Reports.FoldInterval.D() <= 0 {
		add("reports.fold_interval must be positive")
	}
	if m := c.Mail; m.Timeout.D() <= 0 || m.Lease.D() <= 2*m.Timeout.D() || m.MaxAttempts <= 0 || m.Interval.D() <= 0 {
		add("mail.timeout, mail.interval and mail.max_attempts must be positive and mail.lease longer than twice mail.timeout")
	}
	if j := c.Jobs; j.PollInterval.D() <= 0 || j.Lease.D() <= 0 || j.RetryBase.D() <= 0 || j.RetryCap.D() < j.RetryBase.D() || j.BulkBatch <= 0 {
		add("jobs.poll_interval, lease, retry_base and bulk_batch must be positive and jobs.retry_cap at least retry_base")
	}
	if r := c.Retention; r.Interval.D() <= 0 || r.IdempotencyKeys.D() < 24*time.Hour || r.DashboardLinks.D() < 0 ||
		r.Sandbox.D() < 0 || r.Emails.D() < time.Hour || r.Jobs.D() < time.Hour || r.PortalSessions.D() < 0 || r.RateLimits.D() < time.Minute ||
		r.LinkEvents.D() < 0 || r.LinkSessions.D() < 0 {
		add("retention: interval must be positive, idempotency_keys at least 24h, emails and jobs at least 1h, rate_limits at least 1m, the rest not negative")
	}
	switch c.Log.Format {
	case "", "text", "json":
	default:
		add("log.format must be json, text or empty (json in production, text elsewhere), not %q", c.Log.Format)
	}
	switch c.Mail.SMTPTLS {
	case "opportunistic", "mandatory", "none":
	default:
		add("mail.smtp_tls must be opportunistic, mandatory or none, not %q", c.Mail.SMTPTLS)
	}
	if c.Security.APIRateLimit <= 0 || c.Security.PageRateLimit <= 0 {
		add("security.api_rate_limit and security.page_rate_limit must be positive")
	}
	seen := map[string]bool{}
	for i, m := range c.Manufacturers {
		if !validSlug(m.ID) {
			add("manufacturers[%d].id %q must be lower-case letters, digits and dashes", i, m.ID)
		}
		if seen[m.ID] {
			add("manufacturers[%d].id %q is declared twice", i, m.ID)
		}
		seen[m.ID] = true
		if m.Name == "" || m.AuthorizeURL == "" || m.TokenURL == "" || m.DevicesURL == "" || m.ClientID == "" {
			add("manufacturers[%d] (%s) needs name, authorize_url, token_url, devices_url and client_id", i, m.ID)
		}
	}
	if len(problems) > 0 {
		return Errorf(EINVALID, "invalid configuration:\n  - %s", strings.Join(problems, "\n  - "))
	}
	return nil
}

// ActiveManufacturers returns the manufacturers that are switched on: all
// real ones, and the sandbox ones only when the sandbox is enabled.
func (c Config) ActiveManufacturers() []ManufacturerConfig {
	var out []ManufacturerConfig
	for _, m := range c.Manufacturers {
		if m.Sandbox && !c.Sandbox.Enabled {
			continue
		}
		out = append(out, m)
	}
	return out
}

// ServedManufacturers returns every brand this instance serves: the real
// ones and the sandbox ones, which test-mode link sessions use in every
// environment (production included); live sessions see the sandbox brands
// only where sandbox.enabled is true (ActiveManufacturers).
func (c Config) ServedManufacturers() []ManufacturerConfig { return c.Manufacturers }

// ResolveURL makes a manufacturer endpoint absolute against server.public_url.
func (c Config) ResolveURL(u string) string {
	if strings.HasPrefix(u, "/") {
		return strings.TrimRight(c.Server.PublicURL, "/") + u
	}
	return u
}

func loopbackAddr(addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func validSlug(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// Development keys shipped in config.yaml; Validate refuses them in production.
const (
	DevEncryptionKey = "ZGV2LW9ubHktZW5jcnlwdGlvbi1rZXktMzItYnl0ZXM="
	DevSigningKey    = "ZGV2LW9ubHktc2lnbmluZy1rZXktZm9yLWxvY2FsLXVzZS0zMmI="
)
