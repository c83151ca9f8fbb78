package app_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"noxportal/app"
)

// cleanAndBounded fails unless s is valid UTF-8 without NUL of at most max bytes.
func cleanAndBounded(t *testing.T, what, s string, max int) {
	t.Helper()
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) || len(s) > max {
		t.Errorf("%s %q: want valid UTF-8 without NUL, at most %d bytes", what, s, max)
	}
}

func FuzzParseOAuthCallback(f *testing.F) {
	f.Add("state-1", "code-1", "", "")
	f.Add("state-1", "", "access_denied", "")
	f.Add("state-1", "", "server_error", "\xff")
	f.Add("state-1", "", "server\x00error", "a\x00b")
	f.Add("state-1", "", "server_error", strings.Repeat("x", 168)+"😀tail")
	f.Add("", "code", "", "")
	f.Fuzz(func(t *testing.T, state, code, errCode, desc string) {
		cb, ok := app.ParseOAuthCallback(state, code, errCode, desc)
		if !ok {
			if state != "" && len(state) <= app.MaxStateLength {
				t.Errorf("state %q refused", state)
			}
			return
		}
		if cb.State != state || cb.Granted != (code != "" && errCode == "") {
			t.Errorf("ParseOAuthCallback(%q, %q, %q): got %+v", state, code, errCode, cb)
		}
		cleanAndBounded(t, "error", cb.Error, 100)
		cleanAndBounded(t, "detail", cb.Detail, 200)
	})
}

func FuzzParseSupplierReturn(f *testing.F) {
	f.Add("state-1", "")
	f.Add("state-1", "access_denied")
	f.Add("state-1", "\xff\x00"+strings.Repeat("é", 60))
	f.Add(strings.Repeat("s", 129), "")
	f.Fuzz(func(t *testing.T, state, errCode string) {
		r, ok := app.ParseSupplierReturn(state, errCode)
		if !ok {
			if state != "" && len(state) <= app.MaxStateLength {
				t.Errorf("state %q refused", state)
			}
			return
		}
		if r.State != state {
			t.Errorf("state: got %q, want %q", r.State, state)
		}
		cleanAndBounded(t, "error", r.Error, 100)
	})
}

func FuzzVerifyWebhookSignature(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	good := app.SignWebhook("whsec_test", now.Unix(), []byte(`{"id":"evt_1"}`))
	f.Add("whsec_test", good, []byte(`{"id":"evt_1"}`))
	f.Add("whsec_test", good+",v1=00", []byte(`{"id":"evt_2"}`))
	f.Add("whsec_test", "t=,v1=", []byte(""))
	f.Add("whsec_test", "t=1800000000,v1=zz,t=1", []byte("x"))
	f.Add("", "garbage\xff", []byte{0})
	f.Fuzz(func(t *testing.T, secret, header string, body []byte) {
		// A genuine signature always verifies.
		if err := app.VerifyWebhookSignature(secret, app.SignWebhook(secret, now.Unix(), body), body, now, 5*time.Minute); err != nil {
			t.Errorf("genuine signature refused: %v", err)
		}
		// Any header that verifies carries the genuine tag of its timestamp.
		if app.VerifyWebhookSignature(secret, header, body, now, 5*time.Minute) == nil {
			found := false
			for ts := now.Unix() - 300; ts <= now.Unix()+300 && !found; ts++ {
				_, tag, _ := strings.Cut(app.SignWebhook(secret, ts, body), ",")
				found = strings.Contains(header, tag)
			}
			if !found {
				t.Errorf("header %q verified without the genuine v1 tag", header)
			}
		}
	})
}
