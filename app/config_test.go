package app_test

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"noxportal/app"
)

const shippedConfig = "../config.yaml"

// prodEnv is a valid production environment; tests change one thing each.
func prodEnv(extra ...string) []string {
	return append([]string{
		"NOX_ENV=production",
		"NOX_SERVER_PUBLIC_URL=https://link.nox.example",
		"NOX_SECURITY_ENCRYPTION_KEY=cHJvZC1lbmNyeXB0aW9uLWtleS0zMi1ieXRlcy0hISE=",
		"NOX_SECURITY_SIGNING_KEY=cHJvZC1zaWduaW5nLWtleS1vZi1hdC1sZWFzdC0zMi1ieXRlcw==",
		"NOX_DEV_SEED=false",
		"NOX_SANDBOX_ENABLED=false",
	}, extra...)
}

func TestLoadConfigAppliesEnvOverrides(t *testing.T) {
	cfg, err := app.LoadConfig(shippedConfig, []string{
		"NOX_SERVER_PUBLIC_URL=https://link.example.com",
		"NOX_LINK_SESSION_TTL=90s",
		"NOX_SERVER_ADDR=0.0.0.0:9000",
		"NOX_SECURITY_API_RATE_LIMIT=42",
		"NOX_SANDBOX_ENABLED=false",
		"OTHER_VAR=ignored",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Server.PublicURL, "https://link.example.com"; got != want {
		t.Errorf("server.public_url: got %s, want %s", got, want)
	}
	if got, want := cfg.Link.SessionTTL.D(), 90*time.Second; got != want {
		t.Errorf("link.session_ttl: got %s, want %s", got, want)
	}
	if got, want := cfg.Server.Addr, "0.0.0.0:9000"; got != want {
		t.Errorf("server.addr: got %s, want %s", got, want)
	}
	if got, want := cfg.Security.APIRateLimit, 42; got != want {
		t.Errorf("security.api_rate_limit: got %d, want %d", got, want)
	}
	if cfg.Sandbox.Enabled || len(cfg.ActiveManufacturers()) != 0 {
		t.Errorf("sandbox: got enabled=%v with %d active brands, want disabled with none", cfg.Sandbox.Enabled, len(cfg.ActiveManufacturers()))
	}
}

func TestLoadConfigUsesShippedValuesWithoutOverrides(t *testing.T) {
	cfg, err := app.LoadConfig(shippedConfig, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Link.SessionTTL.D(), 15*time.Minute; got != want {
		t.Errorf("link.session_ttl: got %s, want %s", got, want)
	}
	if got, want := cfg.Portal.PasswordCost, app.MinProductionPasswordCost; got != want {
		t.Errorf("portal.password_cost: got %d, want %d", got, want)
	}
	if got, want := cfg.Server.PublicURL, "http://127.0.0.1:8080"; got != want {
		t.Errorf("server.public_url: got %s, want %s", got, want)
	}
	found := false
	for _, m := range cfg.ActiveManufacturers() {
		found = found || (m.ID == "sandbox-heatpump" && m.Name == "Sandbox Heat Pumps")
	}
	if !found {
		t.Errorf("active manufacturers %+v lack sandbox-heatpump \"Sandbox Heat Pumps\"", cfg.ActiveManufacturers())
	}
}

func TestLoadConfigAcceptsAValidProductionConfig(t *testing.T) {
	if _, err := app.LoadConfig(shippedConfig, prodEnv()); err != nil {
		t.Fatalf("valid production config refused: %v", err)
	}
}

func TestLoadConfigRefusesInvalidConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		wantMsg string
	}{
		{"bad duration", []string{"NOX_LINK_SESSION_TTL=fifteen minutes"}, "NOX_LINK_SESSION_TTL"},
		{"zero duration", []string{"NOX_LINK_SESSION_TTL=0s"}, "link.session_ttl must be positive"},
		{"bad boolean", []string{"NOX_DEV_SEED=maybe"}, "NOX_DEV_SEED"},
		{"bad integer", []string{"NOX_SECURITY_API_RATE_LIMIT=many"}, "NOX_SECURITY_API_RATE_LIMIT"},
		{"missing encryption key", []string{"NOX_SECURITY_ENCRYPTION_KEY="}, "security.encryption_key is required"},
		{"short encryption key", []string{"NOX_SECURITY_ENCRYPTION_KEY=c2hvcnQ="}, "security.encryption_key must be 32 bytes"},
		{"missing signing key", []string{"NOX_SECURITY_SIGNING_KEY="}, "security.signing_key is required"},
		{"relative public url", []string{"NOX_SERVER_PUBLIC_URL=/nox"}, "server.public_url"},
		{"unknown env", []string{"NOX_ENV=staging"}, "env must be"},
		{"missing encryption key in production", prodEnv("NOX_SECURITY_ENCRYPTION_KEY="), "security.encryption_key is required"},
		{"dev seed in production", prodEnv("NOX_DEV_SEED=true"), "dev.seed must be false in production"},
		{"sandbox in production", prodEnv("NOX_SANDBOX_ENABLED=true"), "sandbox.enabled must be false in production"},
		{"http in production", prodEnv("NOX_SERVER_PUBLIC_URL=http://link.nox.example"), "must be https in production"},
		{"development keys in production", prodEnv("NOX_SECURITY_ENCRYPTION_KEY=" + app.DevEncryptionKey), "development keys"},
		{"export shorter than a request", []string{"NOX_SERVER_EXPORT_TIMEOUT=1s"}, "server.export_timeout at least"},
		{"metrics on the public port", []string{"NOX_SERVER_METRICS_ADDR=127.0.0.1:8080"}, "server.metrics_addr"},
		{"negative statement timeout", []string{"NOX_DATABASE_STATEMENT_TIMEOUT=-1s"}, "database.statement_timeout"},
		{"mail lease within a send", []string{"NOX_MAIL_LEASE=15s"}, "mail.lease longer than twice"},
		{"unknown TLS policy", []string{"NOX_MAIL_SMTP_TLS=sometimes"}, "mail.smtp_tls"},
		{"job retry cap below its base", []string{"NOX_JOBS_RETRY_CAP=1s"}, "jobs.retry_cap"},
		{"idempotency keys kept under a day", []string{"NOX_RETENTION_IDEMPOTENCY_KEYS=1h"}, "idempotency_keys at least 24h"},
		{"unknown log format", []string{"NOX_LOG_FORMAT=xml"}, "log.format"},
		{"password cost below bcrypt's", []string{"NOX_PORTAL_PASSWORD_COST=3"}, "portal.password_cost must be from 4 to 31"},
		{"weak password cost in production", prodEnv("NOX_PORTAL_PASSWORD_COST=9"), "portal.password_cost must be at least 10 in production"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := app.LoadConfig(shippedConfig, tt.env)
			if err == nil {
				t.Fatalf("got no error, want one mentioning %q", tt.wantMsg)
			}
			if got := app.ErrorCode(err); got != app.EINVALID {
				t.Errorf("error code: got %s, want %s", got, app.EINVALID)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
		})
	}
}

func TestLoadConfigRefusesMalformedYAML(t *testing.T) {
	path := t.TempDir() + "/config.yaml"
	if err := writeFile(path, "link:\n  session_ttl: [not a duration\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := app.LoadConfig(path, nil); app.ErrorCode(err) != app.EINVALID {
		t.Errorf("got %v, want an EINVALID error", err)
	}
}

func TestLogFormatIsJSONInProductionUnlessSet(t *testing.T) {
	for _, tc := range []struct {
		env, format, want string
	}{
		{"production", "", "json"},
		{"development", "", "text"},
		{"production", "text", "text"},
		{"development", "json", "json"},
	} {
		c := app.Config{Env: tc.env, Log: app.LogConfig{Format: tc.format}}
		if got := c.LogFormat(); got != tc.want {
			t.Errorf("env %s, log.format %q: got %s, want %s", tc.env, tc.format, got, tc.want)
		}
	}
}

func TestSetPasswordCostMakesHashesOfThatCost(t *testing.T) {
	defer app.SetPasswordCost(app.MinProductionPasswordCost)
	for _, cost := range []int{4, 5} {
		app.SetPasswordCost(cost)
		h, err := app.HashPassword("correct horse battery")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := bcrypt.Cost([]byte(h)); err != nil || got != cost {
			t.Errorf("hash cost: got %d (%v), want %d", got, err, cost)
		}
		if !app.CheckPassword(&h, "correct horse battery") || app.CheckPassword(&h, "wrong horse battery") || app.CheckPassword(nil, "correct horse battery") {
			t.Errorf("cost %d: CheckPassword does not tell the right password from wrong ones", cost)
		}
	}
	app.SetPasswordCost(2)
	h, _ := app.HashPassword("correct horse battery")
	if got, _ := bcrypt.Cost([]byte(h)); got != 5 {
		t.Errorf("a cost below bcrypt's range was taken: hash cost %d", got)
	}
}
