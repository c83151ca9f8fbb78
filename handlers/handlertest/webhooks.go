package handlertest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"noxportal/app"
)

// Webhook is one request a Receiver got.
type Webhook struct {
	DeliveryID string
	EventType  string
	Signature  string
	Body       []byte
	// Event is the decoded body; Data its data object.
	Event map[string]any
	Data  map[string]any
	// SignatureOK says whether the signature verified with the secret.
	SignatureOK bool
	// Status is what the receiver answered.
	Status int
	// Contract lists how the request breaks the webhooks section of the
	// published contract (openapi/openapi.yaml); empty when it conforms.
	Contract []string
}

// Receiver is a webhook endpoint on loopback that records every request,
// checks its signature with the endpoint's secret and validates its headers
// and body against the contract's webhooks section: the test fails when
// one it got does not conform.
type Receiver struct {
	URL     string
	mu      sync.Mutex
	secret  string
	got     []Webhook
	respond func(n int) int
}

// NewReceiver starts a receiver; respond gives the status of the n-th
// request (from 1); nil answers 204 always. It stops when the test ends.
func NewReceiver(tb testing.TB, respond func(n int) int) *Receiver {
	tb.Helper()
	if respond == nil {
		respond = func(int) int { return http.StatusNoContent }
	}
	r := &Receiver{respond: respond}
	// Registered before srv.Close, so it runs after the server has
	// finished every request it got.
	tb.Cleanup(func() {
		for _, w := range r.Got() {
			if len(w.Contract) > 0 {
				tb.Errorf("webhook %s (delivery %s) breaks the contract's webhooks section (openapi/openapi.yaml):\n  %s\n  body: %.400s",
					w.EventType, w.DeliveryID, strings.Join(w.Contract, "\n  "), w.Body)
			}
		}
	})
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	tb.Cleanup(srv.Close)
	r.URL = srv.URL + "/hooks"
	return r
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	wh := Webhook{DeliveryID: req.Header.Get(app.WebhookDeliveryIDHeader), EventType: req.Header.Get(app.WebhookEventTypeHeader),
		Signature: req.Header.Get(app.WebhookSignatureHeader), Body: body}
	json.Unmarshal(body, &wh.Event)
	wh.Data, _ = wh.Event["data"].(map[string]any)
	wh.Contract = CheckWebhook(req, body)
	r.mu.Lock()
	wh.SignatureOK = app.VerifyWebhookSignature(r.secret, wh.Signature, body, time.Now(), 5*time.Minute) == nil
	wh.Status = r.respond(len(r.got) + 1)
	r.got = append(r.got, wh)
	r.mu.Unlock()
	w.WriteHeader(wh.Status)
}

// SetSecret sets the signing secret the receiver checks signatures with.
func (r *Receiver) SetSecret(secret string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secret = secret
}

// Got returns the requests so far.
func (r *Receiver) Got() []Webhook {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Webhook(nil), r.got...)
}

// WaitFor returns the requests once done(requests) holds, failing the test
// if it does not within 20 seconds.
func (r *Receiver) WaitFor(tb testing.TB, what string, done func([]Webhook) bool) []Webhook {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := r.Got()
		if done(got) {
			return got
		}
		if time.Now().After(deadline) {
			tb.Fatalf("receiver: still waiting for %s; got %d request(s)", what, len(got))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// OfType returns the requests of event type typ.
func OfType(ws []Webhook, typ string) []Webhook {
	var out []Webhook
	for _, w := range ws {
		if w.EventType == typ {
			out = append(out, w)
		}
	}
	return out
}

// MustRegisterWebhook registers r as the endpoint of the API key's owner and
// gives r the signing secret.
func (s *Server) MustRegisterWebhook(tb testing.TB, key string, r *Receiver) {
	tb.Helper()
	res := s.API(tb, "PUT", "/api/webhooks/endpoint", key, `{"url":"`+r.URL+`"}`)
	secret, _ := res.Data()["secret"].(string)
	if res.Status != 200 || secret == "" {
		tb.Fatalf("register webhook: got %d %s, want 200 with a secret", res.Status, res.Raw)
	}
	r.SetSecret(secret)
}
