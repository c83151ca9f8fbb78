package db_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"noxportal/app"
	"noxportal/db"
	"noxportal/db/dbtest"
)

// hook is one request a receiver got.
type hook struct {
	id       string
	status   int
	verified bool
}

// receiver is a webhook endpoint on loopback; respond decides the answer to
// the n-th request (from 1) and may block.
type receiver struct {
	srv     *httptest.Server
	secret  string
	mu      sync.Mutex
	got     []hook
	respond func(n int, r *http.Request) int
}

func newReceiver(t *testing.T, respond func(n int, r *http.Request) int) *receiver {
	rc := &receiver{respond: respond}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.got) + 1
		ok := app.VerifyWebhookSignature(rc.secret, r.Header.Get(app.WebhookSignatureHeader), body, time.Now(), time.Minute) == nil
		rc.got = append(rc.got, hook{id: r.Header.Get(app.WebhookDeliveryIDHeader), verified: ok})
		rc.mu.Unlock()
		status := rc.respond(n, r)
		rc.mu.Lock()
		rc.got[n-1].status = status
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) hooks() []hook {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]hook(nil), rc.got...)
}

func (rc *receiver) waitFor(t *testing.T, what string, done func([]hook) bool) []hook {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !done(rc.hooks()) {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s; got %+v", what, rc.hooks())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return rc.hooks()
}

// outboxWithEvent returns a store whose supplier has rc as its endpoint and
// one link.failed event waiting for it, with the delivery's id.
func outboxWithEvent(t *testing.T, rc *receiver) (*db.Store, string) {
	t.Helper()
	ctx := context.Background()
	s := dbtest.MustStore(t)
	if err := s.UpsertSupplier(ctx, app.Supplier{ID: "supplier_hooks", Name: "Hooks", RedirectURIs: []string{"https://x.example/cb"}}); err != nil {
		t.Fatal(err)
	}
	secret, err := s.SetWebhookEndpoint(ctx, app.SupplierParty("supplier_hooks"), rc.srv.URL, false)
	if err != nil {
		t.Fatal(err)
	}
	rc.secret = secret
	addEvent(t, s)
	ds, err := s.WebhookDeliveries(ctx, app.SupplierParty("supplier_hooks"), "", 10)
	if err != nil || len(ds) != 1 {
		t.Fatalf("outbox: %v, %v", ds, err)
	}
	return s, ds[0].ID
}

// addEvent fails a fresh link session, which writes link.failed to the outbox.
func addEvent(t *testing.T, s *db.Store) {
	t.Helper()
	ctx := context.Background()
	sess, _, _, err := s.CreateLinkSession(ctx, app.NewLinkSession{Kind: app.KindSupplierLink, SupplierID: "supplier_hooks",
		SupplierUserID: "u1", RedirectURI: "https://x.example/cb", Language: "en", Initiator: app.InitiatorAPI, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.FailLinkSession(ctx, sess.ID, app.ReasonCancelled, ""); err != nil {
		t.Fatal(err)
	}
}

func workerConfig() app.WebhookConfig {
	return app.WebhookConfig{AllowPrivateNetworks: true, PollInterval: app.Duration(10 * time.Millisecond), Timeout: app.Duration(5 * time.Second),
		Lease: app.Duration(6 * time.Second), RetryBase: app.Duration(10 * time.Millisecond), RetryCap: app.Duration(40 * time.Millisecond),
		RetryFor: app.Duration(24 * time.Hour), BatchSize: 10}
}

// runWorker runs a worker until the returned stop is called (stop waits for it).
func runWorker(s *db.Store, cfg app.WebhookConfig) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		app.NewWebhookWorker(s, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))).Run(ctx)
	}()
	return func() { cancel(); <-done }
}

func outcomes(d app.WebhookDelivery) []string {
	var out []string
	for _, a := range d.Log {
		out = append(out, a.Outcome)
	}
	return out
}

func TestWebhookFailingThreeTimesIsDeliveredOnceWithTheSameID(t *testing.T) {
	rc := newReceiver(t, func(n int, _ *http.Request) int {
		if n <= 3 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	s, id := outboxWithEvent(t, rc)
	stop := runWorker(s, workerConfig())
	d := waitStatus(t, s, id, app.DeliverySucceeded)
	stop()
	got := rc.hooks()
	for i, h := range got {
		if h.id != id || !h.verified {
			t.Errorf("request %d: delivery id %q verified %v, want %s and a valid signature", i+1, h.id, h.verified, id)
		}
	}
	if len(got) != 4 || got[3].status != 200 {
		t.Fatalf("requests: got %+v, want 3 failures then a success", got)
	}
	if d.Attempts != 4 {
		t.Errorf("delivery: status %s after %d attempts, want succeeded after 4", d.Status, d.Attempts)
	}
	want := []string{"retry", "retry", "retry", "succeeded"}
	if got := outcomes(d); len(got) != 4 || got[0] != want[0] || got[2] != want[2] || got[3] != want[3] {
		t.Errorf("log outcomes: got %v, want %v", got, want)
	}
	if c := d.Log[0].StatusCode; c == nil || *c != 500 {
		t.Errorf("log attempt 1 code: got %v, want 500", c)
	}
	if n := len(rc.hooks()); n != 4 {
		t.Errorf("requests after success: got %d, want 4", n)
	}
}

func TestWebhookWorkerKilledMidDeliveryLosesNothing(t *testing.T) {
	inFlight := make(chan struct{})
	rc := newReceiver(t, func(n int, r *http.Request) int {
		if n == 1 {
			close(inFlight)
			<-r.Context().Done() // hangs until the first worker goes away
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	s, id := outboxWithEvent(t, rc)
	cfg := workerConfig()
	cfg.Timeout, cfg.Lease = app.Duration(2*time.Second), app.Duration(2500*time.Millisecond)
	stopA := runWorker(s, cfg)
	<-inFlight
	stopA()
	d, err := s.WebhookDelivery(context.Background(), nil, id)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != app.DeliveryPending || d.Attempts != 1 || len(d.Log) != 0 {
		t.Fatalf("after the worker died: status %s, %d attempts, %d log rows; want pending, 1, 0", d.Status, d.Attempts, len(d.Log))
	}
	stopB := runWorker(s, cfg)
	defer stopB()
	got := rc.waitFor(t, "the retry after the lease", func(hs []hook) bool { return len(hs) == 2 && hs[1].status != 0 })
	if got[1].id != id || got[1].status != http.StatusNoContent {
		t.Errorf("retry: delivery %s status %d, want %s 204", got[1].id, got[1].status, id)
	}
	waitStatus(t, s, id, app.DeliverySucceeded)
}

func waitStatus(t *testing.T, s *db.Store, id, status string) app.WebhookDelivery {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		d, err := s.WebhookDelivery(context.Background(), nil, id)
		if err != nil {
			t.Fatal(err)
		}
		if d.Status == status {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery %s: status %s, want %s", id, d.Status, status)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWebhookResponseCodesDecideRetryOrGiveUp(t *testing.T) {
	tests := []struct {
		name     string
		codes    []int
		status   string
		attempts int
	}{
		{"4xx gives up", []int{400}, app.DeliveryFailed, 1},
		{"410 gives up", []int{410}, app.DeliveryFailed, 1},
		{"408 is retried", []int{408, 200}, app.DeliverySucceeded, 2},
		{"429 is retried", []int{429, 202}, app.DeliverySucceeded, 2},
		{"5xx is retried", []int{502, 503, 204}, app.DeliverySucceeded, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, func(n int, _ *http.Request) int { return tt.codes[min(n, len(tt.codes))-1] })
			s, id := outboxWithEvent(t, rc)
			stop := runWorker(s, workerConfig())
			d := waitStatus(t, s, id, tt.status)
			stop()
			if d.Attempts != tt.attempts || len(d.Log) != tt.attempts {
				t.Errorf("attempts: got %d (log %d), want %d", d.Attempts, len(d.Log), tt.attempts)
			}
			e, _ := s.WebhookEndpoint(context.Background(), app.SupplierParty("supplier_hooks"))
			if e.FailingSince != nil {
				t.Errorf("endpoint marked failing after %v", tt.codes)
			}
		})
	}
}

func TestWebhookRetriesExhaustedMarkTheEndpointFailingUntilASuccess(t *testing.T) {
	healthy := false
	var mu sync.Mutex
	rc := newReceiver(t, func(int, *http.Request) int {
		mu.Lock()
		defer mu.Unlock()
		if healthy {
			return 200
		}
		return 503
	})
	s, id := outboxWithEvent(t, rc)
	cfg := workerConfig()
	cfg.RetryBase, cfg.RetryCap, cfg.RetryFor = app.Duration(5*time.Millisecond), app.Duration(5*time.Millisecond), app.Duration(12*time.Millisecond)
	stop := runWorker(s, cfg)
	defer stop()
	d := waitStatus(t, s, id, app.DeliveryFailed)
	if got := outcomes(d); len(got) != 4 || got[3] != app.OutcomeGaveUp {
		t.Errorf("log: got %v, want 3 retries then gave_up", got)
	}
	ctx := context.Background()
	e, _ := s.WebhookEndpoint(ctx, app.SupplierParty("supplier_hooks"))
	if e.FailingSince == nil {
		t.Fatal("endpoint not marked failing after its retries ran out")
	}
	mu.Lock()
	healthy = true
	mu.Unlock()
	replay, err := s.ReplayWebhookDelivery(ctx, nil, id)
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, s, replay.ID, app.DeliverySucceeded)
	if e, _ := s.WebhookEndpoint(ctx, app.SupplierParty("supplier_hooks")); e.FailingSince != nil {
		t.Error("a successful delivery did not clear the failing mark")
	}
}

func TestClaimSkipsDeliveriesLockedOrLeasedByOtherWorkers(t *testing.T) {
	rc := newReceiver(t, func(int, *http.Request) int { return 200 })
	s, locked := outboxWithEvent(t, rc)
	addEvent(t, s)
	addEvent(t, s)
	ctx := context.Background()
	tx, err := s.DB().BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT id FROM webhook_deliveries WHERE id = $1 FOR UPDATE`, locked); err != nil {
		t.Fatal(err)
	}
	first, err := s.ClaimWebhookDeliveries(ctx, 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 2 {
		t.Fatalf("first claim: got %d deliveries, want the 2 unlocked ones", len(first))
	}
	for _, j := range first {
		if j.DeliveryID == locked || j.Attempt != 1 || j.Secret != rc.secret {
			t.Errorf("claimed %+v", j)
		}
	}
	tx.Rollback()
	second, err := s.ClaimWebhookDeliveries(ctx, 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(second) != 1 || second[0].DeliveryID != locked {
		t.Errorf("second claim: got %v, want only the formerly locked delivery (the others are leased)", second)
	}
	late := app.WebhookResult{DeliveryID: first[0].DeliveryID, Attempt: 0, Outcome: app.OutcomeSucceeded}
	if err := s.FinishWebhookAttempt(ctx, late); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.WebhookDelivery(ctx, nil, first[0].DeliveryID); d.Status != app.DeliveryPending || len(d.Log) != 0 {
		t.Errorf("a result for an older claim was recorded: %s, %d log rows", d.Status, len(d.Log))
	}
}

// TestWebhooksToInternalAddressesAreRefused delivers to a receiver on
// loopback with private networks not allowed (the production setting): the
// connection is refused after DNS, the receiver gets nothing, and the
// attempt is logged with the reason and retried later.
func TestWebhooksToInternalAddressesAreRefused(t *testing.T) {
	rc := newReceiver(t, func(int, *http.Request) int { return http.StatusOK })
	s, id := outboxWithEvent(t, rc)
	cfg := workerConfig()
	cfg.AllowPrivateNetworks = false
	cfg.RetryBase = app.Duration(time.Hour)
	cfg.RetryCap = app.Duration(time.Hour)
	stop := runWorker(s, cfg)
	deadline := time.Now().Add(20 * time.Second)
	var d app.WebhookDelivery
	for {
		var err error
		if d, err = s.WebhookDelivery(context.Background(), nil, id); err != nil {
			t.Fatal(err)
		}
		// attempts counts the claim; the outcome is recorded when the
		// attempt ends.
		if d.LastError != "" || d.Status != app.DeliveryPending || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if d.Attempts != 1 || d.Status == app.DeliverySucceeded || !strings.Contains(d.LastError, "private or local") {
		t.Errorf("delivery: %d attempts, status %s, last error %q; want one refused attempt", d.Attempts, d.Status, d.LastError)
	}
	if got := rc.hooks(); len(got) != 0 {
		t.Errorf("receiver got %d requests, want none", len(got))
	}
}
