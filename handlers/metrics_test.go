package handlers_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"noxportal/handlers/handlertest"
)

// scrape returns the server's /metrics text.
func scrape(t *testing.T, s *handlertest.Server) string {
	t.Helper()
	srv := httptest.NewServer(s.Metrics.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, b)
	}
	return string(b)
}

// TestMetricsExposeEveryFamilyWithItsLabels drives one of each thing the
// metrics count — a connected flow (manufacturer calls, a webhook), a
// denied one, an expiry by the sweeper job, a rate-limit refusal — and
// checks that /metrics has every family with its labels.
func TestMetricsExposeEveryFamilyWithItsLabels(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	rec := handlertest.NewReceiver(t, nil)
	s.MustRegisterWebhook(t, s.APIKey, rec)
	link := s.MustCreateLink(t, "metrics-ok")
	s.Walk(t, s.Client(), link["link_url"].(string), "sandbox-heatpump", "user_good", "pass_good", "allow")
	denied := s.MustCreateLink(t, "metrics-denied")
	s.Walk(t, s.Client(), denied["link_url"].(string), "sandbox-heatpump", "user_good", "pass_good", "deny")
	late := s.MustCreateLink(t, "metrics-late")
	s.ExpireLinkSession(t, late["link_token"].(string))
	// The sweeper is a periodic job: make it due now and let the runner take it.
	if _, err := s.Store.DB().Exec(`UPDATE jobs SET run_at = now() WHERE kind = 'sweep'`); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 61; i++ {
		s.API(t, "GET", "/users/nobody", "nox_sk_wrong_key_wrong_key_wrong_key_00", "")
	}
	rec.WaitFor(t, "a delivered webhook", func(ws []handlertest.Webhook) bool { return len(ws) > 0 })
	var text string
	deadline := time.Now().Add(10 * time.Second)
	for {
		text = scrape(t, s)
		if strings.Contains(text, `noxportal_job_runs_total{kind="sweep",outcome="succeeded"}`) &&
			strings.Contains(text, `noxportal_webhook_deliveries_total{outcome="succeeded"}`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sweep job's expiry or the webhook delivery never reached the metrics:\n%s", text)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{
		`noxportal_http_requests_total{method="POST",route="/users/:supplier_user_id/link",status="200"}`,
		`noxportal_http_request_duration_seconds_bucket{method="POST",route="/users/:supplier_user_id/link",le="0.1"}`,
		`go_sql_max_open_connections{db_name="noxportal"}`,
		`go_sql_in_use_connections{db_name="noxportal"}`,
		`go_sql_wait_count_total{db_name="noxportal"}`,
		`noxportal_link_sessions_created_total{brand="",flow="supplier_link"}`,
		`noxportal_link_sessions_finished_total{brand="sandbox-heatpump",flow="supplier_link",outcome="connected",reason=""}`,
		`noxportal_link_sessions_finished_total{brand="sandbox-heatpump",flow="supplier_link",outcome="failed",reason="access_denied"}`,
		`noxportal_link_sessions_finished_total{brand="",flow="supplier_link",outcome="expired",reason="expired"}`,
		`noxportal_manufacturer_call_duration_seconds_count{brand="sandbox-heatpump",step="token"}`,
		`noxportal_manufacturer_call_duration_seconds_count{brand="sandbox-heatpump",step="devices"}`,
		`noxportal_webhook_deliveries_total{outcome="succeeded"}`,
		`noxportal_webhook_deliveries_due `,
		`noxportal_webhook_oldest_due_seconds `,
		`noxportal_email_outbox_depth `,
		`noxportal_jobs{kind="bulk_relink",state="failed"}`,
		`noxportal_jobs{kind="sweep",state="queued"} 1`,
		`noxportal_job_runs_total{kind="sweep",outcome="succeeded"}`,
		`noxportal_sweeper_lag_seconds `,
		`noxportal_report_backlog `,
		`noxportal_rate_limit_refusals_total{bucket="apifail"}`,
		`noxportal_queue_stats_up 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
	if strings.Contains(text, "manufacturer_call_errors_total{") {
		t.Errorf("manufacturer errors counted for calls that all succeeded")
	}
	// The public listener does not serve the metrics.
	if resp, err := http.Get(s.URL + "/metrics"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("public /metrics: got %v %v, want 404", resp.StatusCode, err)
	}
}
