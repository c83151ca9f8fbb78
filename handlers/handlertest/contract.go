package handlertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/helpers"
	"github.com/pb33f/libopenapi-validator/parameters"
	"github.com/pb33f/libopenapi-validator/requests"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"noxportal/openapi"
)

// The published API contract (openapi/openapi.yaml), compiled once per
// process: every API response a test receives through Server.API,
// Server.Client or a transport from ContractTransport is validated against
// it, and the error codes seen are counted for ErrorCodesSeen.
var contract = sync.OnceValues(func() (validator.Validator, error) {
	doc, err := libopenapi.NewDocument(openapi.JSON())
	if err != nil {
		return nil, err
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		return nil, fmt.Errorf("openapi: %v", errs)
	}
	return v, nil
})

var (
	codesMu   sync.Mutex
	codesSeen = map[string]int{}
	// violations collects contract failures of transports with no test to
	// report to (see ContractViolations).
	violations []string
)

// ErrorCodesSeen returns how often each API error code was answered so far
// in this process.
func ErrorCodesSeen() map[string]int {
	codesMu.Lock()
	defer codesMu.Unlock()
	return maps.Clone(codesSeen)
}

// ContractViolations returns the failures of transports made with a nil
// test (ContractTransport(nil, ...)).
func ContractViolations() []string {
	codesMu.Lock()
	defer codesMu.Unlock()
	return slices.Clone(violations)
}

// IsAPIPath reports whether a path belongs to the JSON API (the server's
// isAPIRequest).
func IsAPIPath(p string) bool {
	return strings.HasPrefix(p, "/users/") || strings.HasPrefix(p, "/manufacturer/") ||
		p == "/post-login-redirect" || strings.HasPrefix(p, "/api/")
}

// ContractTransport wraps base so that every API response is validated
// against the contract; failures go to tb (or, with a nil tb, to
// ContractViolations). Only requests to hosts are checked; with none, those
// to any test server this process started.
func ContractTransport(tb testing.TB, base http.RoundTripper, hosts ...string) http.RoundTripper {
	return &contractTransport{tb: tb, base: base, hosts: hosts}
}

// serverHosts are the host:port of every test server started.
var serverHosts sync.Map

func (t *contractTransport) checks(req *http.Request) bool {
	if !IsAPIPath(req.URL.Path) {
		return false
	}
	if len(t.hosts) > 0 {
		return slices.Contains(t.hosts, req.URL.Host)
	}
	_, ok := serverHosts.Load(req.URL.Host)
	return ok
}

type contractTransport struct {
	tb    testing.TB
	base  http.RoundTripper
	hosts []string
}

func (t *contractTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || !t.checks(req) {
		return resp, err
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	if problems := CheckContract(req, resp.StatusCode, resp.Header, raw); len(problems) > 0 {
		msg := fmt.Sprintf("%s %s → %d breaks the API contract (openapi/openapi.yaml):\n  %s\n  body: %.400s",
			req.Method, req.URL.Path, resp.StatusCode, strings.Join(problems, "\n  "), raw)
		if t.tb != nil {
			t.tb.Error(msg)
		} else {
			codesMu.Lock()
			violations = append(violations, msg)
			codesMu.Unlock()
		}
	}
	return resp, nil
}

// CheckContract validates one API response against the contract and counts
// its error code; it returns what is wrong, nothing when it conforms.
func CheckContract(req *http.Request, status int, header http.Header, raw []byte) []string {
	v, err := contract()
	if err != nil {
		return []string{err.Error()}
	}
	var env struct {
		Success *bool `json:"success"`
		Error   struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return []string{"the body is not a JSON envelope: " + err.Error()}
	}
	if env.Success != nil && !*env.Success {
		codesMu.Lock()
		codesSeen[env.Error.Code]++
		codesMu.Unlock()
	}
	resp := &http.Response{StatusCode: status, Header: header.Clone(), Body: io.NopCloser(bytes.NewReader(raw)), Request: req}
	if resp.Header.Get("Content-Type") == "" {
		resp.Header.Set("Content-Type", "application/json")
	}
	ok, errs := v.ValidateHttpResponse(req, resp)
	if ok {
		return nil
	}
	var out []string
	for _, e := range errs {
		if routeMissing(e) {
			// A route or method the API does not have: only an error
			// envelope with a documented code may answer it.
			if status < 400 {
				out = append(out, "an undocumented API route answered "+fmt.Sprint(status))
			} else if env.Success == nil || *env.Success || !slices.Contains(openapi.ErrorCodes(), env.Error.Code) {
				out = append(out, fmt.Sprintf("an undocumented route answered without a documented error code (%q)", env.Error.Code))
			}
			continue
		}
		out = append(out, describe(e))
	}
	return out
}

func routeMissing(e *verrors.ValidationError) bool {
	return e.ValidationType == helpers.PathValidation &&
		(e.ValidationSubType == helpers.ValidationMissing || e.ValidationSubType == helpers.ValidationMissingOperation)
}

func describe(e *verrors.ValidationError) string {
	s := e.Message
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	for _, se := range e.SchemaValidationErrors {
		s += fmt.Sprintf("\n    %s (at %s, schema %s)", se.Reason, se.FieldPath, se.KeywordLocation)
	}
	return s
}

// webhookContract checks the webhooks NOX sends against the webhooks
// section of the contract: each event's headers (parameters) and its body
// (the request body schema).
type webhookContract struct {
	mu      sync.Mutex
	model   *v3.Document
	bodies  requests.RequestBodyValidator
	headers parameters.ParameterValidator
}

var webhooks = sync.OnceValues(func() (*webhookContract, error) {
	doc, err := libopenapi.NewDocument(openapi.JSON())
	if err != nil {
		return nil, err
	}
	m, err := doc.BuildV3Model()
	if err != nil {
		return nil, err
	}
	return &webhookContract{model: &m.Model, bodies: requests.NewRequestBodyValidator(&m.Model),
		headers: parameters.NewParameterValidator(&m.Model)}, nil
})

// CheckWebhook validates one webhook request a receiver got (its headers
// and raw body) against the event of its Nox-Event-Type header in the
// contract's webhooks section; it returns what is wrong, nothing when it
// conforms.
func CheckWebhook(req *http.Request, body []byte) []string {
	w, err := webhooks()
	if err != nil {
		return []string{err.Error()}
	}
	event := req.Header.Get("Nox-Event-Type")
	item := w.model.Webhooks.GetOrZero(event)
	if item == nil {
		return []string{fmt.Sprintf("event type %q is not in the webhooks section", event)}
	}
	var out []string
	var env struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return []string{"the body is not JSON: " + err.Error()}
	}
	if env.Type != event {
		out = append(out, fmt.Sprintf("the body's type %q is not the Nox-Event-Type header %q", env.Type, event))
	}
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	w.mu.Lock()
	defer w.mu.Unlock()
	if ok, errs := w.headers.ValidateHeaderParamsWithPathItem(r, item, event); !ok {
		for _, e := range errs {
			out = append(out, describe(e))
		}
	}
	if ok, errs := w.bodies.ValidateRequestBodyWithPathItem(r, item, event); !ok {
		for _, e := range errs {
			out = append(out, describe(e))
		}
	}
	return out
}
