package app_test

import (
	"strings"
	"testing"
	"time"

	"noxportal/app"
)

func TestDefaultRetryScheduleSpansAtLeastADayWithGrowingWaits(t *testing.T) {
	r := app.NewRetrySchedule(app.DefaultConfig().Webhooks)
	var spent, prev time.Duration
	attempts := 1
	for ; ; attempts++ {
		wait, again := r.After(attempts)
		if !again {
			break
		}
		if wait < prev || wait > r.Cap {
			t.Errorf("wait after attempt %d: %s (previous %s, cap %s)", attempts, wait, prev, r.Cap)
		}
		prev = wait
		spent += wait
		if attempts > 100 {
			t.Fatal("retries never end")
		}
	}
	if spent < 24*time.Hour {
		t.Errorf("retries span %s over %d attempts, want at least 24h", spent, attempts)
	}
	if first, _ := r.After(1); first != 30*time.Second {
		t.Errorf("first wait: got %s, want 30s", first)
	}
}

func TestRetryScheduleStopsOnceWaitsSpanFor(t *testing.T) {
	r := app.RetrySchedule{Base: time.Second, Cap: 4 * time.Second, For: 10 * time.Second}
	tests := []struct {
		attempt int
		wait    time.Duration
		again   bool
	}{
		{1, time.Second, true}, {2, 2 * time.Second, true}, {3, 4 * time.Second, true},
		{4, 4 * time.Second, true}, {5, 0, false},
	}
	for _, tt := range tests {
		if wait, again := r.After(tt.attempt); wait != tt.wait || again != tt.again {
			t.Errorf("After(%d) = %s, %v; want %s, %v", tt.attempt, wait, again, tt.wait, tt.again)
		}
	}
}

func TestWebhookSignatureVerifiesOnlyTheSignedBodyInTime(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":"evt_1","type":"link.connected"}`)
	sig := app.SignWebhook("whsec_a", now.Unix(), body)
	if !strings.HasPrefix(sig, "t=1800000000,v1=") || len(sig) != len("t=1800000000,v1=")+64 {
		t.Fatalf("signature format: %s", sig)
	}
	tests := []struct {
		name, secret, header string
		body                 []byte
		at                   time.Time
		ok                   bool
	}{
		{"valid", "whsec_a", sig, body, now, true},
		{"valid within tolerance", "whsec_a", sig, body, now.Add(4 * time.Minute), true},
		{"another v1 tag first", "whsec_a", "t=1800000000,v1=00ff," + sig[len("t=1800000000,"):], body, now, true},
		{"wrong secret", "whsec_b", sig, body, now, false},
		{"changed body", "whsec_a", sig, []byte(`{"id":"evt_2"}`), now, false},
		{"too old", "whsec_a", sig, body, now.Add(6 * time.Minute), false},
		{"changed timestamp", "whsec_a", strings.Replace(sig, "t=1800000000", "t=1800000001", 1), body, now, false},
		{"no v1", "whsec_a", "t=1800000000", body, now, false},
		{"empty", "whsec_a", "", body, now, false},
	}
	for _, tt := range tests {
		err := app.VerifyWebhookSignature(tt.secret, tt.header, tt.body, tt.at, 5*time.Minute)
		if (err == nil) != tt.ok {
			t.Errorf("%s: got %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestComfortBoundsValidation(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		name string
		b    app.ComfortBounds
		ok   bool
		msg  string
	}{
		{"indoor only", app.ComfortBounds{IndoorMinC: 19, IndoorMaxC: 22}, true, ""},
		{"with hot water", app.ComfortBounds{IndoorMinC: 5, IndoorMaxC: 30, HotWaterMinC: f(30), HotWaterMaxC: f(75)}, true, ""},
		{"half-degree span", app.ComfortBounds{IndoorMinC: 20, IndoorMaxC: 20.5}, true, ""},
		{"min equals max", app.ComfortBounds{IndoorMinC: 20, IndoorMaxC: 20}, false, "below indoor_max_c"},
		{"below 5", app.ComfortBounds{IndoorMinC: 4.9, IndoorMaxC: 20}, false, "between 5 and 30"},
		{"hot water min only", app.ComfortBounds{IndoorMinC: 19, IndoorMaxC: 22, HotWaterMinC: f(40)}, false, "together"},
		{"hot water reversed", app.ComfortBounds{IndoorMinC: 19, IndoorMaxC: 22, HotWaterMinC: f(60), HotWaterMaxC: f(50)}, false, "below hot_water_max_c"},
		{"hot water too cold", app.ComfortBounds{IndoorMinC: 19, IndoorMaxC: 22, HotWaterMinC: f(20), HotWaterMaxC: f(50)}, false, "between 30 and 75"},
		{"two decimals", app.ComfortBounds{IndoorMinC: 19.05, IndoorMaxC: 22}, false, "one decimal"},
		{"negative version", app.ComfortBounds{IndoorMinC: 19, IndoorMaxC: 22, ExpectVersion: -1}, false, "version"},
	}
	for _, tt := range tests {
		err := tt.b.Validate()
		if (err == nil) != tt.ok || (err != nil && !strings.Contains(app.ErrorMessage(err), tt.msg)) {
			t.Errorf("%s: got %v, want ok=%v with %q", tt.name, err, tt.ok, tt.msg)
		}
		if err != nil && app.ErrorCode(err) != app.EINVALID {
			t.Errorf("%s: code %s, want invalid", tt.name, app.ErrorCode(err))
		}
	}
}

func TestManufacturerRedirectCarriesTheOutcome(t *testing.T) {
	nox, finished := "nox_1", time.Unix(1_700_000_000, 0)
	reason := func(r string) *string { return &r }
	base := app.LinkSession{Kind: app.KindSupplierSelect, RedirectURI: "https://m.example/back?app=1", ManufacturerUserID: "mu-1"}
	tests := []struct {
		name string
		edit func(*app.LinkSession)
		want string
	}{
		{"connected", func(s *app.LinkSession) {
			s.Status, s.SupplierID, s.NoxUserID, s.FinishedAt = app.StatusConnected, "sup_1", &nox, &finished
		}, "https://m.example/back?app=1&connection_status=connected&supplier_id=sup_1&nox_user_id=nox_1&manufacturer_user_id=mu-1&connected_at=1700000000"},
		{"expired after the supplier said yes", func(s *app.LinkSession) {
			s.Status, s.SupplierID, s.FailureReason = app.StatusExpired, "sup_1", reason(app.ReasonExpiredAfterAuth)
		}, "https://m.example/back?app=1&connection_status=failed&error=expired&manufacturer_user_id=mu-1&supplier_id=sup_1"},
		{"cancelled before choosing", func(s *app.LinkSession) {
			s.Status, s.FailureReason = app.StatusFailed, reason(app.ReasonCancelled)
		}, "https://m.example/back?app=1&connection_status=failed&error=cancelled&manufacturer_user_id=mu-1"},
	}
	for _, tt := range tests {
		s := base
		tt.edit(&s)
		if got := s.SupplierRedirect(); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

func TestLoadConfigRefusesUnsafeWebhookAndSandboxSupplierSettings(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		wantMsg string
	}{
		{"timeout above 10s", []string{"NOX_WEBHOOKS_TIMEOUT=11s"}, "webhooks.timeout"},
		{"lease not above timeout", []string{"NOX_WEBHOOKS_LEASE=10s"}, "webhooks.lease"},
		{"retries shorter than a day", []string{"NOX_WEBHOOKS_RETRY_FOR=1h"}, "webhooks.retry_for must be at least 24h"},
		{"retries shorter than a day in production", prodEnv("NOX_WEBHOOKS_RETRY_FOR=23h"), "webhooks.retry_for"},
		{"cap below base", []string{"NOX_WEBHOOKS_RETRY_CAP=1s"}, "retry_cap"},
		{"short sandbox supplier key", []string{"NOX_SANDBOX_SUPPLIER_API_KEY=short"}, "sandbox.supplier"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := app.LoadConfig(shippedConfig, tt.env)
			if err == nil || app.ErrorCode(err) != app.EINVALID || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("got %v, want an invalid-config error mentioning %q", err, tt.wantMsg)
			}
		})
	}
	cfg, err := app.LoadConfig(shippedConfig, []string{"NOX_ENV=test", "NOX_WEBHOOKS_RETRY_FOR=1s"})
	if err != nil || cfg.Webhooks.RetryFor.D() != time.Second {
		t.Errorf("tests may shorten retry_for: got %v, %v", cfg.Webhooks.RetryFor, err)
	}
}

func TestValidateWebhookURL(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://hooks.example/nox", true},
		{"https://hooks.example:8443/nox?x=1", true},
		{"http://127.0.0.1:9000/hooks", true},
		{"http://[::1]:9000/hooks", true},
		{"http://localhost:9000/hooks", true},
		{"http://hooks.example/nox", false},
		{"http://10.0.0.1/hooks", false},
		{"https://user:pw@hooks.example/", false},
		{"https://hooks.example/#frag", false},
		{"hooks.example/nox", false},
		{"", false},
	}
	for _, tt := range tests {
		if err := app.ValidateWebhookURL(tt.url); (err == nil) != tt.ok {
			t.Errorf("ValidateWebhookURL(%q) = %v, want ok=%v", tt.url, err, tt.ok)
		}
	}
}
