package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"noxportal/app"
	"noxportal/handlers/handlertest"
)

// logLines parses every line of the server log as JSON.
func logLines(t *testing.T, s *handlertest.Server) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.Logs()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q (%v)", line, err)
		}
		out = append(out, rec)
	}
	return out
}

// linesOf returns the messages of the log lines carrying request id id.
func linesOf(lines []map[string]any, id string) []string {
	var msgs []string
	for _, l := range lines {
		if l["request_id"] == id {
			msgs = append(msgs, l["msg"].(string))
		}
	}
	return msgs
}

// TestRequestLogLinesAreJSONAndShareTheRequestID runs the server with JSON
// logs: the OAuth callback's manufacturer calls and a request stopped by its
// deadline (with its database error) log lines that carry the request's
// id, and the log mail sink prints no link token.
func TestRequestLogLinesAreJSONAndShareTheRequestID(t *testing.T) {
	s := handlertest.Start(t, func(c *app.Config) {
		c.Log.Format = "json"
		c.Server.RequestTimeout = app.Duration(testRequestTimeout)
		c.Mail.Interval = app.Duration(20 * time.Millisecond)
	})
	c := s.Client()
	link := s.MustCreateLink(t, "logs-user")
	callback := walkToCallback(t, s, c, link["link_url"].(string), "sandbox-heatpump", "user_good", "allow")
	resp, err := c.Get(callback)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	callbackID := resp.Header.Get("X-Request-ID")

	tx := holdTableLock(t, s, "supplier_mappings")
	r := s.API(t, "GET", "/users/logs-user", s.APIKey, "")
	tx.Rollback()
	if r.Status != http.StatusServiceUnavailable {
		t.Fatalf("held request: got %d, want 503", r.Status)
	}
	timeoutID := r.Header.Get("X-Request-ID")

	// A relink email goes through the log sink.
	sess, token, err := s.Store.CreateRelink(context.Background(), app.Relink{SupplierID: s.SupplierID, SupplierUserID: "logs-user",
		TTL: time.Minute, Email: "customer@example.com"},
		func(tok string) string { return s.URL + "/connect?token=" + tok },
		func(link string) (string, string) { return "Reconnect", "Open " + link })
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.Logs(), `"email (log sink)"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the relink email for %s was never sent to the log sink", sess.ID)
		}
		time.Sleep(20 * time.Millisecond)
	}

	lines := logLines(t, s)
	for _, tc := range []struct {
		name, id string
		want     []string
	}{
		{"callback", callbackID, []string{"manufacturer call", "request"}},
		{"past its deadline", timeoutID, []string{"request failed", "request"}},
	} {
		got := linesOf(lines, tc.id)
		for _, w := range tc.want {
			if tc.id == "" || !strings.Contains(strings.Join(got, "|"), w) {
				t.Errorf("%s (request id %q): lines %q, want one %q", tc.name, tc.id, got, w)
			}
		}
	}
	if n := strings.Count(strings.Join(linesOf(lines, callbackID), "|"), "manufacturer call"); n != 2 {
		t.Errorf("callback: %d manufacturer call lines with its request id, want 2 (token, devices)", n)
	}
	for _, secret := range []string{token, link["link_token"].(string)} {
		if strings.Contains(s.Logs(), secret) {
			t.Errorf("the log holds a link token")
		}
	}
	if !strings.Contains(s.Logs(), "token=REDACTED") {
		t.Errorf("the email line does not show the redacted link")
	}
}
