package db_test

import (
	"context"
	"slices"
	"testing"

	"noxportal/app"
	"noxportal/db/dbtest"
)

// TestRedirectURIsKeepTheOrderTheyWereGivenIn: the admin's order, a
// reorder, and a URI added on its own (last) are what the settings show,
// and the first is the one support's relinks use.
func TestRedirectURIsKeepTheOrderTheyWereGivenIn(t *testing.T) {
	s := dbtest.MustStore(t)
	ctx := context.Background()
	actor := app.AuditEntry{IP: "127.0.0.1"}
	uris := func() []string {
		t.Helper()
		set, err := s.GetSupplierSettings(ctx, "sup_order")
		if err != nil {
			t.Fatal(err)
		}
		return set.RedirectURIs
	}
	sup := app.SupplierSettings{Supplier: app.Supplier{ID: "sup_order", Name: "Order Energy",
		RedirectURIs: []string{"https://z.example/cb", "https://a.example/cb", "https://m.example/cb"}}}
	if _, err := s.SaveSupplier(ctx, sup, true, actor); err != nil {
		t.Fatal(err)
	}
	if got := uris(); !slices.Equal(got, sup.RedirectURIs) {
		t.Errorf("after create: got %v, want %v", got, sup.RedirectURIs)
	}
	sup.RedirectURIs = []string{"https://m.example/cb", "https://z.example/cb"}
	if _, err := s.SaveSupplier(ctx, sup, false, actor); err != nil {
		t.Fatal(err)
	}
	if got := uris(); !slices.Equal(got, sup.RedirectURIs) {
		t.Errorf("after reorder: got %v, want %v", got, sup.RedirectURIs)
	}
	if err := s.AddRedirectURI(ctx, "sup_order", "https://b.example/cb", actor); err != nil {
		t.Fatal(err)
	}
	want := []string{"https://m.example/cb", "https://z.example/cb", "https://b.example/cb"}
	if got := uris(); !slices.Equal(got, want) {
		t.Errorf("after adding one: got %v, want %v", got, want)
	}
	if err := s.UpsertSupplier(ctx, app.Supplier{ID: "sup_order", Name: "Order Energy",
		RedirectURIs: []string{"https://b.example/cb", "https://m.example/cb", "https://b.example/cb"}}); err != nil {
		t.Fatal(err)
	}
	if got, want := uris(), []string{"https://b.example/cb", "https://m.example/cb"}; !slices.Equal(got, want) {
		t.Errorf("after replacing the list: got %v, want %v", got, want)
	}
}
