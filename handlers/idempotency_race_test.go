package handlers_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"noxportal/handlers/handlertest"
)

// concurrentLinks sends the bodies at once, all under the same
// Idempotency-Key, and returns the results in the order of bodies.
func concurrentLinks(t *testing.T, s *handlertest.Server, key string, bodies []string) []handlertest.APIResult {
	t.Helper()
	out := make([]handlertest.APIResult, len(bodies))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, body := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i] = s.API(t, "POST", "/users/cust-race/link", s.APIKey, body, "Idempotency-Key", key)
		}()
	}
	close(start)
	wg.Wait()
	return out
}

func TestIdempotencyKeyUnderConcurrencyCreatesOneSession(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	body := `{"redirect_uri":"` + s.RedirectURI + `","language":"en"}`
	bodies := make([]string, 50)
	for i := range bodies {
		bodies[i] = body
	}
	results := concurrentLinks(t, s, "race-1", bodies)
	var first string
	for i, r := range results {
		if r.Status != http.StatusOK {
			t.Fatalf("request %d: got %d %s, want 200", i, r.Status, r.Raw)
		}
		data, _ := json.Marshal(r.Body["data"])
		if first == "" {
			first = string(data)
		} else if string(data) != first {
			t.Errorf("request %d data: got %s, want %s", i, data, first)
		}
	}
	if n := count(t, s, `SELECT count(*) FROM link_sessions WHERE supplier_user_id = 'cust-race'`); n != 1 {
		t.Errorf("sessions: got %d, want 1", n)
	}
	if n := count(t, s, `SELECT count(*) FROM link_events WHERE type = 'created'`); n != 1 {
		t.Errorf("created events: got %d, want 1", n)
	}
}

func TestIdempotencyKeyWithDifferentBodiesInFlightAcceptsOne(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	bodies := make([]string, 20)
	// Twenty distinct valid bodies: a loopback redirect_uri on its own
	// port, each language, with and without a brand.
	langs := []string{"en", "nl", "de", "fr", "es"}
	for i := range bodies {
		brand := ""
		if i >= len(langs) {
			brand = `,"brand":"sandbox-heatpump"`
		}
		bodies[i] = fmt.Sprintf(`{"redirect_uri":"http://127.0.0.1:%d/callback","language":"%s"%s}`, 3000+i, langs[i%len(langs)], brand)
	}
	results := concurrentLinks(t, s, "race-2", bodies)
	ok, refused := 0, 0
	for i, r := range results {
		switch {
		case r.Status == http.StatusOK:
			ok++
		case r.Status == http.StatusUnprocessableEntity && r.ErrorCode() == "idempotency_key_reused":
			refused++
		default:
			t.Errorf("request %d: got %d %s, want 200 or 422 idempotency_key_reused", i, r.Status, r.Raw)
		}
	}
	if ok != 1 || refused != len(bodies)-1 {
		t.Errorf("outcomes: got %d accepted and %d refused, want 1 and %d", ok, refused, len(bodies)-1)
	}
	if n := count(t, s, `SELECT count(*) FROM link_sessions WHERE supplier_user_id = 'cust-race'`); n != 1 {
		t.Errorf("sessions: got %d, want 1", n)
	}
}

func TestExpiredIdempotencyKeyIsReplacedOnceUnderConcurrency(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	body := `{"redirect_uri":"` + s.RedirectURI + `","language":"en"}`
	old := s.API(t, "POST", "/users/cust-race/link", s.APIKey, body, "Idempotency-Key", "race-3")
	if old.Status != http.StatusOK {
		t.Fatalf("first create: got %d %s", old.Status, old.Raw)
	}
	if _, err := s.Store.DB().Exec(`UPDATE idempotency_keys SET created_at = now() - interval '25 hours'`); err != nil {
		t.Fatal(err)
	}
	bodies := make([]string, 30)
	for i := range bodies {
		bodies[i] = body
	}
	results := concurrentLinks(t, s, "race-3", bodies)
	tokens := map[any]bool{}
	for i, r := range results {
		if r.Status != http.StatusOK {
			t.Fatalf("request %d: got %d %s, want 200", i, r.Status, r.Raw)
		}
		tokens[r.Data()["link_token"]] = true
	}
	if len(tokens) != 1 || tokens[old.Data()["link_token"]] {
		t.Errorf("tokens after the key expired: got %d distinct (old one among them: %v), want 1 new one", len(tokens), tokens[old.Data()["link_token"]])
	}
	if n := count(t, s, `SELECT count(*) FROM link_sessions WHERE supplier_user_id = 'cust-race'`); n != 2 {
		t.Errorf("sessions: got %d, want 2 (the old one and one new)", n)
	}
}
