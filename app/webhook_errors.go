package app

import (
	"regexp"
	"strings"
)

// webhookErrorKinds maps what a failed webhook send's error text contains
// to the words support and the receiver read, most specific first.
var webhookErrorKinds = []struct {
	contains []string
	say      string
}{
	{[]string{"not a public address", "is not an IP address"}, "The endpoint's address is private or local; NOX does not deliver there."},
	{[]string{"no such host", "server misbehaving", "lookup "}, "The endpoint's host name could not be found (DNS)."},
	{[]string{"connection refused"}, "The endpoint refused the connection."},
	{[]string{"connection reset", "broken pipe", "EOF"}, "The endpoint closed the connection before answering."},
	{[]string{"certificate", "x509", "tls:"}, "The endpoint's TLS certificate could not be verified."},
	{[]string{"Client.Timeout", "deadline exceeded", "i/o timeout", "timeout"}, "The endpoint did not answer in time."},
	{[]string{"network is unreachable", "no route to host"}, "The endpoint could not be reached."},
}

// httpStatusError matches the errors the worker writes for an answer it got.
var httpStatusError = regexp.MustCompile(`^HTTP \d{3}`)

// ReadableWebhookError turns the error recorded for a webhook attempt into
// a sentence that names the problem without internals: no Go error chains,
// no resolver or proxy addresses. Errors written for an HTTP answer ("HTTP
// 503", "HTTP 410: the receiver refused the event") are kept; anything not
// recognised reads as a generic failure to send.
func ReadableWebhookError(raw string) string {
	if raw == "" || httpStatusError.MatchString(raw) {
		return raw
	}
	suffix := ""
	if strings.HasSuffix(raw, "; retries exhausted") {
		suffix = " NOX stopped retrying."
	}
	for _, k := range webhookErrorKinds {
		for _, c := range k.contains {
			if strings.Contains(raw, c) {
				return k.say + suffix
			}
		}
	}
	return "The event could not be sent to the endpoint." + suffix
}
