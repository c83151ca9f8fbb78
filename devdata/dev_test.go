package devdata_test

import (
	"context"
	"slices"
	"testing"

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
