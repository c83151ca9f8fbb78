package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Webhook event types.
const (
	EventLinkConnected        = "link.connected"
	EventLinkFailed           = "link.failed"
	EventLinkExpired          = "link.expired"
	EventDeviceRelinkRequired = "device.relink_required"
	EventDeviceDisconnected   = "device.disconnected"
	EventComfortBoundsUpdated = "comfort_bounds.updated"
	EventSupplierLinked       = "supplier.linked"
)

// Webhook request headers.
const (
	WebhookSignatureHeader  = "Nox-Signature"
	WebhookDeliveryIDHeader = "Nox-Delivery-Id"
	WebhookEventTypeHeader  = "Nox-Event-Type"
)

// webhookResponseBodyMaxRead bounds how much of a receiver's answer is read.
const webhookResponseBodyMaxRead = 64 << 10

// WebhookEvent is the JSON body of every webhook: a unique event id, its
// type, when it happened (unix seconds) and the event's data.
type WebhookEvent struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	CreatedAt int64  `json:"created_at"`
	Data      any    `json:"data"`
}

// LinkEventData is the data of link.* and supplier.linked events, as seen by
// the party that receives them (empty fields are left out).
type LinkEventData struct {
	SessionID          string   `json:"session_id"`
	Flow               string   `json:"flow"`
	Status             string   `json:"status"`
	Reason             string   `json:"reason,omitempty"`
	SupplierID         string   `json:"supplier_id,omitempty"`
	SupplierUserID     string   `json:"supplier_user_id,omitempty"`
	Manufacturer       string   `json:"manufacturer,omitempty"`
	ManufacturerUserID string   `json:"manufacturer_user_id,omitempty"`
	NoxUserID          string   `json:"nox_user_id,omitempty"`
	DeviceIDs          []string `json:"device_ids,omitempty"`
	At                 int64    `json:"at"`
}

// DeviceEventData is the data of device.* events.
type DeviceEventData struct {
	NoxUserID          string `json:"nox_user_id"`
	SupplierUserID     string `json:"supplier_user_id,omitempty"`
	ManufacturerUserID string `json:"manufacturer_user_id,omitempty"`
	Manufacturer       string `json:"manufacturer"`
	DeviceID           string `json:"device_id"`
	Status             string `json:"status"`
	At                 int64  `json:"at"`
}

// ComfortBoundsEventData is the data of comfort_bounds.updated. UpdatedBy is
// only the kind of party, so parties do not learn each other's ids.
type ComfortBoundsEventData struct {
	NoxUserID          string   `json:"nox_user_id"`
	SupplierUserID     string   `json:"supplier_user_id,omitempty"`
	ManufacturerUserID string   `json:"manufacturer_user_id,omitempty"`
	DeviceIDs          []string `json:"device_ids,omitempty"`
	IndoorMinC         float64  `json:"indoor_min_c"`
	IndoorMaxC         float64  `json:"indoor_max_c"`
	HotWaterMinC       *float64 `json:"hot_water_min_c"`
	HotWaterMaxC       *float64 `json:"hot_water_max_c"`
	Version            int      `json:"version"`
	UpdatedBy          string   `json:"updated_by"`
	UpdatedAt          int64    `json:"updated_at"`
}

// ValidateWebhookURL checks an endpoint URL: absolute https, or http on a
// loopback address only; no user info or fragment.
func ValidateWebhookURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || len(raw) > 2048 {
		return ReasonErrorf(EINVALID, "invalid_webhook_url", "url must be an absolute URL")
	}
	if u.User != nil || u.Fragment != "" {
		return ReasonErrorf(EINVALID, "invalid_webhook_url", "url must not have user info or a fragment")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && (u.Hostname() == "localhost" || isLoopbackIP(u.Hostname())):
	default:
		return ReasonErrorf(EINVALID, "invalid_webhook_url", "url must use https (http is allowed on loopback only)")
	}
	return nil
}

// refuseInternalDestination is a net.Dialer Control function that refuses
// loopback, private, shared (100.64.0.0/10), link-local (cloud metadata),
// multicast and unspecified addresses.
func refuseInternalDestination(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("webhook destination %q is not an IP address", host)
	}
	// Not global unicast covers loopback, link-local, multicast and
	// unspecified; global unicast still includes private and shared space.
	ip = ip.Unmap()
	if !ip.IsGlobalUnicast() || ip.IsPrivate() || sharedAddressSpace.Contains(ip) {
		return fmt.Errorf("webhook destination %s is not a public address (set webhooks.allow_private_networks to deliver inside)", ip)
	}
	return nil
}

var sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")

// NewWebhookSecret returns a fresh signing secret ("whsec_" + 40 characters).
func NewWebhookSecret() string { return "whsec_" + RandomToken(40) }

// SignWebhook returns the Nox-Signature header value of body sent at ts:
// "t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)>".
func SignWebhook(secret string, ts int64, body []byte) string {
	return "t=" + strconv.FormatInt(ts, 10) + ",v1=" + webhookMAC(secret, ts, body)
}

func webhookMAC(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// VerifyWebhookSignature checks a Nox-Signature header against body the way
// a receiver should: a v1 tag must match in constant time and the timestamp
// must be within tolerance of now (replay protection).
func VerifyWebhookSignature(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts int64
	var tags []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return errors.New("webhook signature: bad timestamp")
			}
			ts = n
		case "v1":
			tags = append(tags, v)
		}
	}
	if ts == 0 || len(tags) == 0 {
		return errors.New("webhook signature: missing t or v1")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return errors.New("webhook signature: timestamp outside tolerance")
	}
	want := webhookMAC(secret, ts, body)
	for _, t := range tags {
		if hmac.Equal([]byte(t), []byte(want)) {
			return nil
		}
	}
	return errors.New("webhook signature: no matching v1 tag")
}

// RetrySchedule says when a failed delivery is tried again: waits double
// from Base up to Cap, and attempts go on until the waits sum to at least
// For.
type RetrySchedule struct {
	Base, Cap, For time.Duration
}

// NewRetrySchedule returns the schedule of cfg.
func NewRetrySchedule(cfg WebhookConfig) RetrySchedule {
	return RetrySchedule{Base: cfg.RetryBase.D(), Cap: cfg.RetryCap.D(), For: cfg.RetryFor.D()}
}

func (r RetrySchedule) wait(n int) time.Duration {
	d := r.Base
	for i := 1; i < n && d < r.Cap; i++ {
		d *= 2
	}
	return min(d, r.Cap)
}

// After returns the wait after failed attempt n (1-based) and whether
// another attempt follows; there is none once the waits before attempt n
// already span For.
func (r RetrySchedule) After(n int) (time.Duration, bool) {
	var spent time.Duration
	for i := 1; i < n; i++ {
		spent += r.wait(i)
		if spent >= r.For {
			return 0, false
		}
	}
	return r.wait(n), true
}

// Outcomes of a delivery attempt, as the delivery log records them.
const (
	OutcomeSucceeded = "succeeded"
	OutcomeRetry     = "retry"
	OutcomeGaveUp    = "gave_up"
)

// WebhookJob is a delivery claimed by a worker for one attempt.
type WebhookJob struct {
	DeliveryID string
	EventType  string
	Body       []byte
	URL        string
	Secret     string
	Attempt    int
}

// WebhookResult is the outcome of one attempt. RetryIn is set for
// OutcomeRetry; EndpointFailing is set when the retries are exhausted.
type WebhookResult struct {
	DeliveryID      string
	Attempt         int
	Outcome         string
	StatusCode      int
	Latency         time.Duration
	Error           string
	RetryIn         time.Duration
	EndpointFailing bool
	// Signature is the Nox-Signature header the attempt was sent with.
	Signature string
}

// WebhookQueue is the outbox the worker drains (db.Store implements it).
type WebhookQueue interface {
	// ClaimWebhookDeliveries leases up to limit due deliveries to the
	// caller for lease, skipping rows other workers hold.
	ClaimWebhookDeliveries(ctx context.Context, limit int, lease time.Duration) ([]WebhookJob, error)
	// FinishWebhookAttempt records an attempt; it is ignored when another
	// worker has claimed the delivery since (its lease ran out).
	FinishWebhookAttempt(ctx context.Context, r WebhookResult) error
}

// WebhookWorker delivers webhooks from the outbox: signed, with a bounded
// timeout, retried on 5xx, 408, 429 and network errors along the retry
// schedule, given up on other 4xx. Several workers, in one process or many,
// may drain the same outbox.
type WebhookWorker struct {
	queue    WebhookQueue
	client   *http.Client
	cfg      WebhookConfig
	schedule RetrySchedule
	log      *slog.Logger
	obs      Observer
}

// WithObserver makes the worker report each attempt's outcome to o.
func (w *WebhookWorker) WithObserver(o Observer) *WebhookWorker {
	w.obs = o
	return w
}

// NewWebhookWorker builds a worker over queue.
func NewWebhookWorker(queue WebhookQueue, cfg WebhookConfig, log *slog.Logger) *WebhookWorker {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 4
	if !cfg.AllowPrivateNetworks {
		// Direct connections only, each checked after DNS resolution.
		dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: refuseInternalDestination}
		tr.Proxy = nil
		tr.DialContext = dialer.DialContext
	}
	return &WebhookWorker{
		queue: queue,
		client: &http.Client{
			Timeout:       cfg.Timeout.D(),
			Transport:     tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		cfg:      cfg,
		schedule: NewRetrySchedule(cfg),
		log:      log,
		obs:      NopObserver{},
	}
}

// Run delivers until ctx ends. A request still in flight when ctx ends is
// abandoned without a result, exactly as if the process had died: its
// lease runs out and a worker tries it again. A response already received
// is recorded.
func (w *WebhookWorker) Run(ctx context.Context) {
	t := time.NewTicker(w.cfg.PollInterval.D())
	defer t.Stop()
	for {
		n, err := w.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			w.log.Error("webhook worker", "err", err)
		}
		if n > 0 && ctx.Err() == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce claims one batch of due deliveries, attempts them concurrently and
// records the results; it returns how many it claimed.
func (w *WebhookWorker) RunOnce(ctx context.Context) (int, error) {
	jobs, err := w.queue.ClaimWebhookDeliveries(ctx, w.cfg.BatchSize, w.cfg.Lease.D())
	if err != nil || len(jobs) == 0 {
		return 0, err
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, ok := w.attempt(ctx, j)
			if !ok {
				return
			}
			w.obs.WebhookAttempt(r.Outcome)
			// A response that arrived is recorded even while stopping, so
			// it is not sent again.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := w.queue.FinishWebhookAttempt(rctx, r); err != nil {
				w.log.Error("webhook result not recorded", "delivery", j.DeliveryID, "err", err)
			}
		}()
	}
	wg.Wait()
	return len(jobs), nil
}

// attempt sends one delivery; ok is false when ctx ended during it.
func (w *WebhookWorker) attempt(ctx context.Context, j WebhookJob) (WebhookResult, bool) {
	start := time.Now()
	r := WebhookResult{DeliveryID: j.DeliveryID, Attempt: j.Attempt, Signature: SignWebhook(j.Secret, start.Unix(), j.Body)}
	code, err := w.send(ctx, j, r.Signature)
	r.Latency, r.StatusCode = time.Since(start), code
	if err != nil && ctx.Err() != nil {
		return r, false
	}
	switch {
	case err == nil && code >= 200 && code < 300:
		r.Outcome = OutcomeSucceeded
		return r, true
	case err == nil && code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests:
		r.Outcome, r.Error = OutcomeGaveUp, fmt.Sprintf("HTTP %d: the receiver refused the event", code)
		return r, true
	case err != nil:
		w.log.Info("webhook send failed", "delivery", j.DeliveryID, "attempt", j.Attempt, "err", err)
		r.Error = ReadableWebhookError(err.Error())
	default:
		r.Error = fmt.Sprintf("HTTP %d", code)
	}
	wait, again := w.schedule.After(j.Attempt)
	if !again {
		r.Outcome, r.EndpointFailing = OutcomeGaveUp, true
		r.Error += "; retries exhausted"
		return r, true
	}
	r.Outcome = OutcomeRetry
	r.RetryIn = wait + time.Duration(rand.Int64N(int64(wait)/10+1))
	return r, true
}

func (w *WebhookWorker) send(ctx context.Context, j WebhookJob, signature string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.URL, strings.NewReader(string(j.Body)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "NOX-Energy-Webhooks/1")
	req.Header.Set(WebhookDeliveryIDHeader, j.DeliveryID)
	req.Header.Set(WebhookEventTypeHeader, j.EventType)
	req.Header.Set(WebhookSignatureHeader, signature)
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, webhookResponseBodyMaxRead))
	return resp.StatusCode, nil
}

// WebhookEndpoint is where a supplier or manufacturer receives webhooks.
// The signing secret is only ever shown when it is created or rotated.
type WebhookEndpoint struct {
	ID           int64
	Owner        Party
	URL          string
	FailingSince *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// WebhookDelivery is one event on its way to one endpoint, with its log.
type WebhookDelivery struct {
	ID            string           `db:"id"`
	EndpointID    int64            `db:"endpoint_id"`
	EventID       string           `db:"event_id"`
	EventType     string           `db:"event_type"`
	Body          []byte           `db:"body"`
	Status        string           `db:"status"`
	Attempts      int              `db:"attempts"`
	NextAttemptAt time.Time        `db:"next_attempt_at"`
	LastCode      *int             `db:"last_code"`
	LastError     string           `db:"last_error"`
	ReplayOf      *string          `db:"replay_of"`
	CreatedAt     time.Time        `db:"created_at"`
	FinishedAt    *time.Time       `db:"finished_at"`
	Log           []WebhookAttempt `db:"-"`
}

// DeliveryFilter narrows a list of webhook deliveries; empty fields do not filter.
type DeliveryFilter struct {
	EventType string
	Status    string
	// Before is the position after which the page starts (nil: the newest).
	Before *DeliveryCursor
}

// DeliveryCursor is a keyset position in a delivery list (created_at, id descending).
type DeliveryCursor struct {
	CreatedAt time.Time
	ID        string
}

// Encode returns the cursor as an opaque URL-safe string.
func (c DeliveryCursor) Encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.CreatedAt.UTC().Format(time.RFC3339Nano) + "\x00" + c.ID))
}

// DecodeDeliveryCursor parses an Encode result; anything else is EINVALID.
func DecodeDeliveryCursor(s string) (DeliveryCursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	at, id, ok := strings.Cut(string(b), "\x00")
	t, terr := time.Parse(time.RFC3339Nano, at)
	if err != nil || !ok || terr != nil {
		return DeliveryCursor{}, Errorf(EINVALID, "invalid page cursor")
	}
	return DeliveryCursor{CreatedAt: t, ID: id}, nil
}

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
)

// WebhookAttempt is one line of the delivery log.
type WebhookAttempt struct {
	DeliveryID string    `db:"delivery_id"`
	Attempt    int       `db:"attempt"`
	Outcome    string    `db:"outcome"`
	StatusCode *int      `db:"status_code"`
	LatencyMS  int       `db:"latency_ms"`
	Error      string    `db:"error"`
	Signature  string    `db:"signature"`
	At         time.Time `db:"created_at"`
}
