package handlers_test

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"noxportal/handlers/handlertest"
	"noxportal/openapi"
)

// TestMain drops the tests' databases in the background and stops the
// Chromium the browser tests share once they have run (handlertest.Main).
// It also validates every API answer of the package's tests against the
// published contract (openapi/openapi.yaml): Server.API and Server.Client
// do it per test; here http.DefaultClient does it for the tests that call
// the server with the standard client (http.Get, http.DefaultClient.Do). After a run of the whole
// package (no -run, -skip or -short) every error code the document lists
// must have been answered by at least one test, so the document cannot
// list codes the server no longer sends.
func TestMain(m *testing.M) {
	flag.Parse()
	runsSideBySide(4)
	http.DefaultClient.Transport = handlertest.ContractTransport(nil, http.DefaultTransport)
	code := handlertest.Main(m) // test databases dropped in the background, the shared browser stopped
	if v := handlertest.ContractViolations(); len(v) > 0 {
		for _, s := range v {
			fmt.Fprintln(os.Stderr, s)
		}
		code = 1
	}
	if missing := unproducedErrorCodes(); !wholeRun() && testing.Verbose() {
		fmt.Fprintf(os.Stderr, "contract: error codes this run did not produce: %v\n", missing)
	} else if code == 0 && wholeRun() {
		if len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: documented error codes no test produced: %v\n"+
				"(produce each in a test, or remove it from openapi/openapi.yaml if the server never sends it)\n", missing)
			code = 1
		}
	}
	os.Exit(code)
}

// runsSideBySide lets n parallel tests run at once unless -parallel was
// given. The default, GOMAXPROCS, is 2 on a 2-core machine; but a test here
// spends most of its time waiting on Postgres, Chromium or its own server's
// background loops (the test binary uses about a third of two cores), so
// more of them side by side finish the package sooner on the same cores.
func runsSideBySide(n int) {
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given && runtime.GOMAXPROCS(0) < n {
		flag.Set("test.parallel", strconv.Itoa(n))
	}
}

func wholeRun() bool {
	for _, name := range []string{"test.run", "test.skip"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return false
		}
	}
	return !testing.Short()
}

func unproducedErrorCodes() []string {
	seen := handlertest.ErrorCodesSeen()
	var missing []string
	for _, c := range openapi.ErrorCodes() {
		if seen[c] == 0 {
			missing = append(missing, c)
		}
	}
	slices.Sort(missing)
	return missing
}

// TestWebhookContractCheckRefusesWhatTheDocumentDoesNotAllow: the check
// every Receiver applies passes a conforming webhook and names each way
// a body or its headers can break the webhooks section.
func TestWebhookContractCheckRefusesWhatTheDocumentDoesNotAllow(t *testing.T) {
	t.Parallel()
	sig := "t=1700000000,v1=" + strings.Repeat("ab", 32)
	good := `{"id":"evt_1","type":"link.connected","created_at":1700000000,` +
		`"data":{"session_id":"ls_1","flow":"supplier","status":"connected","at":1700000000}}`
	for _, tc := range []struct {
		name, event, signature, body, want string
	}{
		{"conforms", "link.connected", sig, good, ""},
		{"unknown event", "link.exploded", sig, good, "not in the webhooks section"},
		{"type and header disagree", "link.failed", sig, good, "is not the Nox-Event-Type header"},
		{"malformed signature", "link.connected", "sha256=abc", good, "Nox-Signature"},
		{"undocumented field", "link.connected", sig, strings.Replace(good, `"at":`, `"secret_token":"x","at":`, 1), "secret_token"},
		{"missing field", "link.connected", sig, strings.Replace(good, `"session_id":"ls_1",`, "", 1), "session_id"},
		{"wrong type of field", "link.connected", sig, strings.Replace(good, `"at":1700000000}`, `"at":"yesterday"}`, 1), "$.data.at"},
	} {
		req, _ := http.NewRequest("POST", "http://receiver.test/hooks", strings.NewReader(tc.body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Nox-Event-Type", tc.event)
		req.Header.Set("Nox-Delivery-Id", "whd_1")
		req.Header.Set("Nox-Signature", tc.signature)
		got := strings.Join(handlertest.CheckWebhook(req, []byte(tc.body)), "\n")
		if tc.want == "" && got != "" {
			t.Errorf("%s: got problems %s, want none", tc.name, got)
		}
		if tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("%s: got %q, want a problem naming %q", tc.name, got, tc.want)
		}
	}
}
