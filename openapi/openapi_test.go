package openapi_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"noxportal/app"
	"noxportal/openapi"
)

// TestDocumentIsValidOpenAPI31 checks the served JSON against the OpenAPI
// 3.1 specification schema.
func TestDocumentIsValidOpenAPI31(t *testing.T) {
	raw := openapi.JSON()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m["openapi"] != "3.1.0" {
		t.Fatalf("openapi = %v, want 3.1.0", m["openapi"])
	}
	doc, err := libopenapi.NewDocument(raw)
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("%s: %s", e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				t.Errorf("  %s at %s", se.Reason, se.KeywordLocation)
			}
		}
	}
}

// TestDocumentListsEveryWebhookEvent: the webhooks section has exactly the
// events the server sends, each with the signature header.
func TestDocumentListsEveryWebhookEvent(t *testing.T) {
	want := []string{app.EventLinkConnected, app.EventLinkFailed, app.EventLinkExpired, app.EventSupplierLinked,
		app.EventComfortBoundsUpdated, app.EventDeviceRelinkRequired, app.EventDeviceDisconnected, app.EventWebhookTest}
	slices.Sort(want)
	if got := openapi.EventTypes(); !slices.Equal(got, want) {
		t.Fatalf("webhooks = %v, want %v", got, want)
	}
	ref := openapi.Ref()
	if len(ref.Webhooks) != len(want) {
		t.Fatalf("reference has %d webhooks, want %d", len(ref.Webhooks), len(want))
	}
	var headers []string
	for _, p := range ref.SignatureHeaders {
		headers = append(headers, p.Name)
	}
	for _, h := range []string{app.WebhookSignatureHeader, app.WebhookDeliveryIDHeader, app.WebhookEventTypeHeader} {
		if !slices.Contains(headers, h) {
			t.Errorf("webhook headers %v lack %s", headers, h)
		}
	}
	for _, g := range ref.Groups {
		if len(g.Operations) == 0 {
			t.Errorf("group %s has no operations", g.Name)
		}
	}
	if len(openapi.ErrorCodes()) < 20 {
		t.Errorf("error codes: %v", openapi.ErrorCodes())
	}
}

// TestAPIKeySchemeDescribesLiveAndTestKeys: the security scheme tells
// integrators both key prefixes and what a test key reaches.
func TestAPIKeySchemeDescribesLiveAndTestKeys(t *testing.T) {
	var m struct {
		Components struct {
			SecuritySchemes map[string]struct {
				Description string `json:"description"`
			} `json:"securitySchemes"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openapi.JSON(), &m); err != nil {
		t.Fatal(err)
	}
	d := m.Components.SecuritySchemes["apiKey"].Description
	for _, want := range []string{"`" + app.LiveKeyPrefix + "…`", "`" + app.TestKeyPrefix + "…`", "sandbox brands", "production"} {
		if !strings.Contains(d, want) {
			t.Errorf("apiKey scheme description lacks %q:\n%s", want, d)
		}
	}
}
