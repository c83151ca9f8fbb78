package devdata_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"noxportal/app"
	"noxportal/db/dbtest"
	"noxportal/devdata"
)

func TestSeedDevKeepsTheDemoRedirectURIsAndAddsTheSandboxApp(t *testing.T) {
	s := dbtest.MustStore(t)
	ctx := context.Background()
	demoApp := "http://127.0.0.1:8080" + app.DemoSupplierAppPath
	for range 2 { // idempotent: a second start changes nothing
		if err := devdata.Dev(ctx, s, demoApp); err != nil {
			t.Fatal(err)
		}
	}
	sup, err := s.GetSupplier(ctx, app.DevSupplierID)
	if err != nil {
		t.Fatal(err)
	}
	want := append(slices.Clone(app.DevRedirectURIs), demoApp)
	for _, u := range want {
		if !slices.Contains(sup.RedirectURIs, u) {
			t.Errorf("demo supplier redirect URIs %v lack %s", sup.RedirectURIs, u)
		}
	}
	if len(sup.RedirectURIs) != len(want) {
		t.Errorf("demo supplier redirect URIs: got %v, want %v", sup.RedirectURIs, want)
	}
}

// TestSeedDevGivesTheDemoSupplierATestKey: the demo supplier has test mode
// on, and the printed test key belongs to its test twin (with the same
// redirect URIs), the live key to the live supplier.
func TestSeedDevGivesTheDemoSupplierATestKey(t *testing.T) {
	s := dbtest.MustStore(t)
	ctx := context.Background()
	for range 2 { // idempotent
		if err := devdata.Dev(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	for key, want := range map[string]string{app.DevAPIKey: app.DevSupplierID, app.DevTestAPIKey: app.TestTwinID(app.DevSupplierID)} {
		owner, _, _, err := s.AuthenticateAPIKeyAndCount(ctx, key, 100, time.Minute, time.Now())
		if err != nil || owner.SupplierID != want {
			t.Errorf("key %s…: owner %q (%v), want %q", app.KeyPrefix(key), owner.SupplierID, err, want)
		}
		if !slices.Equal(owner.RedirectURIs, slices.Sorted(slices.Values(app.DevRedirectURIs))) {
			t.Errorf("key %s…: redirect URIs %v, want %v", app.KeyPrefix(key), owner.RedirectURIs, app.DevRedirectURIs)
		}
	}
	if !strings.HasPrefix(app.DevTestAPIKey, app.TestKeyPrefix) || len(app.DevTestAPIKey) != len(app.NewSupplierKey(app.TestTwinID("x"))) {
		t.Errorf("demo test key %q: want a test key of the usual length", app.DevTestAPIKey)
	}
}
