// Package metric is noxportal's Prometheus metrics: one registry per
// process, served on its own listener (server.metrics_addr). Counters are
// fed by the app.Observer methods and the HTTP middleware; gauges about
// queues are read from the database at each scrape.
package metric

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"noxportal/app"
)

const ns = "noxportal"

// Metrics holds every metric family; it implements app.Observer.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests    *prometheus.CounterVec
	httpDuration    *prometheus.HistogramVec
	sessionsCreated *prometheus.CounterVec
	sessionsEnded   *prometheus.CounterVec
	mfrDuration     *prometheus.HistogramVec
	mfrErrors       *prometheus.CounterVec
	webhookAttempts *prometheus.CounterVec
	rateLimited     *prometheus.CounterVec
	jobRuns         *prometheus.CounterVec
	jobDuration     *prometheus.HistogramVec
	requestLog      *prometheus.CounterVec
}

// New returns the metrics, registered on a fresh registry with the Go
// runtime and process collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "http_requests_total",
		Help: "HTTP requests by route template, method and status."}, []string{"route", "method", "status"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "http_request_duration_seconds",
		Help: "HTTP request latency by route template and method.", Buckets: prometheus.DefBuckets}, []string{"route", "method"})
	m.sessionsCreated = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "link_sessions_created_total",
		Help: "Link sessions created, by flow and brand (\"\" when not preselected)."}, []string{"flow", "brand"})
	m.sessionsEnded = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "link_sessions_finished_total",
		Help: "Link sessions that reached a final status, by outcome (connected, failed, expired), reason, brand and flow."},
		[]string{"outcome", "reason", "brand", "flow"})
	m.mfrDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "manufacturer_call_duration_seconds",
		Help: "Calls to manufacturers by brand and step (token, devices).", Buckets: prometheus.DefBuckets}, []string{"brand", "step"})
	m.mfrErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "manufacturer_call_errors_total",
		Help: "Failed calls to manufacturers by brand and step."}, []string{"brand", "step"})
	m.webhookAttempts = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "webhook_deliveries_total",
		Help: "Webhook delivery attempts by outcome (succeeded, retry, gave_up)."}, []string{"outcome"})
	m.rateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "rate_limit_refusals_total",
		Help: "Requests refused by a rate limit, by bucket kind."}, []string{"bucket"})
	m.jobRuns = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "job_runs_total",
		Help: "Job runs by kind and outcome (succeeded, retry, failed)."}, []string{"kind", "outcome"})
	m.jobDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "job_run_duration_seconds",
		Help: "Job run time by kind.", Buckets: []float64{.01, .05, .1, .5, 1, 5, 15, 60, 300}}, []string{"kind"})
	m.requestLog = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "api_request_log_rows_total",
		Help: "Rows of the suppliers' API request log, written or dropped (buffer full, failed write)."}, []string{"outcome"})
	m.reg.MustRegister(m.requestLog, m.httpRequests, m.httpDuration, m.sessionsCreated, m.sessionsEnded, m.mfrDuration, m.mfrErrors,
		m.webhookAttempts, m.rateLimited, m.jobRuns, m.jobDuration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry (for tests).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveHTTP counts one answered request.
func (m *Metrics) ObserveHTTP(route, method string, status int, took time.Duration) {
	m.httpRequests.WithLabelValues(route, method, statusText(status)).Inc()
	m.httpDuration.WithLabelValues(route, method).Observe(took.Seconds())
}

func statusText(code int) string {
	const digits = "0123456789"
	if code < 100 || code > 999 {
		return "0"
	}
	return string([]byte{digits[code/100], digits[code/10%10], digits[code%10]})
}

// SessionCreated implements app.Observer.
func (m *Metrics) SessionCreated(flow, brand string) {
	m.sessionsCreated.WithLabelValues(flow, brand).Inc()
}

// SessionFinished implements app.Observer.
func (m *Metrics) SessionFinished(flow, brand, outcome, reason string) {
	m.sessionsEnded.WithLabelValues(outcome, reason, brand, flow).Inc()
}

// ManufacturerCall implements app.Observer.
func (m *Metrics) ManufacturerCall(brand, step string, took time.Duration, err error) {
	m.mfrDuration.WithLabelValues(brand, step).Observe(took.Seconds())
	if err != nil {
		m.mfrErrors.WithLabelValues(brand, step).Inc()
	}
}

// WebhookAttempt implements app.Observer.
func (m *Metrics) WebhookAttempt(outcome string) { m.webhookAttempts.WithLabelValues(outcome).Inc() }

// RateLimited implements app.Observer.
func (m *Metrics) RateLimited(bucket string) { m.rateLimited.WithLabelValues(bucket).Inc() }

// APIRequestsLogged implements app.Observer.
func (m *Metrics) APIRequestsLogged(written, dropped int) {
	m.requestLog.WithLabelValues("written").Add(float64(written))
	m.requestLog.WithLabelValues("dropped").Add(float64(dropped))
}

// JobRun implements app.Observer.
func (m *Metrics) JobRun(kind, outcome string, took time.Duration) {
	m.jobRuns.WithLabelValues(kind, outcome).Inc()
	m.jobDuration.WithLabelValues(kind).Observe(took.Seconds())
}

// WatchDatabase adds the pool's statistics and the queue gauges read by
// stats (bounded to 2s per scrape) to the metrics.
func (m *Metrics) WatchDatabase(pool *sql.DB, stats func(context.Context) (app.QueueStats, error), log *slog.Logger) {
	m.reg.MustRegister(collectors.NewDBStatsCollector(pool, "noxportal"), &queueCollector{stats: stats, log: log})
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	return mux
}

var (
	descWebhooksDue   = prometheus.NewDesc(ns+"_webhook_deliveries_due", "Webhook deliveries due now (pending, next attempt in the past).", nil, nil)
	descWebhookAge    = prometheus.NewDesc(ns+"_webhook_oldest_due_seconds", "How long the oldest due webhook delivery has been due.", nil, nil)
	descEmails        = prometheus.NewDesc(ns+"_email_outbox_depth", "Emails waiting to be sent (not sent, not given up).", nil, nil)
	descJobs          = prometheus.NewDesc(ns+"_jobs", "Jobs by kind and state.", []string{"kind", "state"}, nil)
	descSweeperLag    = prometheus.NewDesc(ns+"_sweeper_lag_seconds", "How long the oldest unfinished link session has been past its deadline (0: none).", nil, nil)
	descReportBacklog = prometheus.NewDesc(ns+"_report_backlog", "Sessions, session changes and device changes not yet folded into the report rollups.", nil, nil)
	descScrapeError   = prometheus.NewDesc(ns+"_queue_stats_up", "1 when the queue gauges could be read from the database at this scrape.", nil, nil)
)

type queueCollector struct {
	stats func(context.Context) (app.QueueStats, error)
	log   *slog.Logger
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descWebhooksDue, descWebhookAge, descEmails, descJobs, descSweeperLag, descReportBacklog, descScrapeError} {
		ch <- d
	}
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := c.stats(ctx)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			c.log.Warn("metrics: queue stats", "err", err)
		}
		ch <- prometheus.MustNewConstMetric(descScrapeError, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descScrapeError, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(descWebhooksDue, prometheus.GaugeValue, float64(st.WebhooksDue))
	ch <- prometheus.MustNewConstMetric(descWebhookAge, prometheus.GaugeValue, st.OldestDueWebhook.Seconds())
	ch <- prometheus.MustNewConstMetric(descEmails, prometheus.GaugeValue, float64(st.EmailsQueued))
	ch <- prometheus.MustNewConstMetric(descSweeperLag, prometheus.GaugeValue, st.OldestOverdueSession.Seconds())
	ch <- prometheus.MustNewConstMetric(descReportBacklog, prometheus.GaugeValue, float64(st.ReportBacklog))
	// Every known kind and state is present, zero or not, so alerts on a
	// state see a series before the first job gets there.
	counts := map[[2]string]int{}
	for _, k := range []string{app.JobBulkRelink, app.JobSweep, app.JobPrune} {
		for _, s := range []string{app.JobQueued, app.JobRunning, app.JobSucceeded, app.JobFailed} {
			counts[[2]string{k, s}] = 0
		}
	}
	for _, jc := range st.Jobs {
		counts[[2]string{jc.Kind, jc.State}] = jc.N
	}
	for ks, n := range counts {
		ch <- prometheus.MustNewConstMetric(descJobs, prometheus.GaugeValue, float64(n), ks[0], ks[1])
	}
}
