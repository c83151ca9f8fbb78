package db_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"noxportal/app"
	"noxportal/db/dbtest"
)

func TestDashboardLinkIsClaimedOnceUnderConcurrency(t *testing.T) {
	s := dbtest.MustStore(t)
	ctx := context.Background()
	if err := s.UpsertSupplier(ctx, app.Supplier{ID: "sup", Name: "Sup", RedirectURIs: []string{"https://sup.example/cb"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.CreateLinkSession(ctx, app.NewLinkSession{Kind: app.KindSupplierLink, SupplierID: "sup", SupplierUserID: "u1",
		RedirectURI: "https://sup.example/cb", Language: "en", Initiator: app.InitiatorAPI, TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	token, _, err := s.CreateDashboardLink(ctx, "sup", "u1", "en", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	const n = 10
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.ClaimDashboardLink(ctx, token)
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case app.ErrorCode(err) != app.ECONFLICT:
			t.Errorf("losing claim: got %v, want ECONFLICT", err)
		}
	}
	if wins != 1 {
		t.Errorf("successful claims: got %d, want exactly 1", wins)
	}
}

func TestPortalUserEmailIsUniqueWhateverItsCase(t *testing.T) {
	s := dbtest.MustStore(t)
	ctx := context.Background()
	if _, err := s.CreatePortalUser(ctx, app.NewPortalUser{Email: "Case@Example.test", Role: app.RoleAgent, Password: "long-enough-pw"}); err != nil {
		t.Fatal(err)
	}
	_, err := s.CreatePortalUser(ctx, app.NewPortalUser{Email: "case@example.TEST", Role: app.RoleAgent, Password: "long-enough-pw"})
	if app.ErrorCode(err) != app.ECONFLICT {
		t.Errorf("second account with the same email: got %v, want ECONFLICT", err)
	}
	if _, err := s.CreatePortalUser(ctx, app.NewPortalUser{Email: "x@example.test", Role: "root", Password: "long-enough-pw"}); app.ErrorCode(err) != app.EINVALID {
		t.Errorf("unknown role: got %v, want EINVALID", err)
	}
}
