package app

import (
	"strings"
	"testing"
)

func TestReadableWebhookErrorNamesTheProblemWithoutInternals(t *testing.T) {
	tests := []struct {
		raw, want string
	}{
		{`Post "https://a.example/h": dial tcp: lookup a.example on 10.96.0.10:53: no such host`, "host name could not be found"},
		{`Post "https://a.example/h": dial tcp 203.0.113.9:443: connect: connection refused; retries exhausted`, "refused the connection. NOX stopped retrying."},
		{`Post "https://a.example/h": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`, "did not answer in time"},
		{`Post "https://a.example/h": tls: failed to verify certificate: x509: certificate signed by unknown authority`, "TLS certificate"},
		{`webhook destination 10.0.0.5 is not a public address (set webhooks.allow_private_networks to deliver inside)`, "private or local"},
		{"HTTP 503", "HTTP 503"},
		{"HTTP 410: the receiver refused the event", "HTTP 410: the receiver refused the event"},
		{"something new and strange at 10.1.2.3", "could not be sent"},
		{"", ""},
	}
	for _, tt := range tests {
		got := ReadableWebhookError(tt.raw)
		if !strings.Contains(got, tt.want) || (tt.want == "" && got != "") {
			t.Errorf("ReadableWebhookError(%q) = %q, want it to say %q", tt.raw, got, tt.want)
		}
		for _, leak := range []string{"10.96.0.10", "203.0.113.9", "10.1.2.3", "dial tcp", "x509"} {
			if strings.Contains(got, leak) {
				t.Errorf("ReadableWebhookError(%q) = %q leaks %q", tt.raw, got, leak)
			}
		}
	}
}
